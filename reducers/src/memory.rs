//! `MemoryDatabase`: the reference meaning of every changeset operation.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::domain::canonical;
use crate::{Changeset, Error, Filter, FindOptions, Key, Operation, Reducer, Row, Schema, StoredEvent, check_key};

/// Collections of rows in memory. **This type defines what every changeset
/// operation means**; the SQL store and the wasm + JS appliers match it exactly
/// on the conformance suite in `tests/`.
///
/// # Rows
///
/// * Every value lies in the portable value domain ([`crate::domain`]):
///   numbers exactly doubles, no NUL, nesting within 16 levels; anything
///   else is [`Error::UnsupportedValue`] before any operation applies. Rows
///   hold numbers in canonical form (`3.0` is stored as `3`, `-0.0` as `0`).
/// * A row is a JSON object with a key field (`id` unless the operation names
///   another). Keys are strings or integers ([`Key`]).
/// * **`null` and absent are the same**, as for a nullable SQL column: rows
///   never hold `null` fields. `create` drops `null` fields; a patch field set
///   to `null` removes the field.
/// * Rows of a collection are always listed in key order (integers before
///   strings, integers numerically, strings by code point), whatever the
///   order of writes — SQL readers use `ORDER BY key` to match.
///
/// # Operations
///
/// * `create`: inserts the row. The row must hold the key field
///   ([`Error::MissingKey`] if it is missing or null, [`Error::InvalidKey`] if
///   it is not a string or integer). A row whose key already exists is
///   [`Error::DuplicateKey`] (like a primary-key violation); the existing row
///   is kept.
/// * `update_by_id`: shallow merge — each top-level field of the patch replaces
///   the row's field whole; nested objects are replaced, **not** merged deeply.
///   An `id` that matches no row is **no change** (not an error; SQL's
///   `UPDATE ... WHERE` of zero rows). A patch may repeat the row's key with
///   the same value; any other value for the key field (including `null`) is
///   [`Error::KeyChange`]. An empty patch changes nothing.
/// * `destroy_by_id`: removes the row; a missing `id` is no change.
/// * `update_where`: selects every row matching the [`Filter`] (evaluated on
///   the rows *before* the update), then merges the patch into each as
///   `update_by_id` does. A patch holding the key field is [`Error::KeyChange`].
/// * `destroy_where`: removes every row matching the filter.
/// * Operations of a changeset apply in order, each seeing the previous ones'
///   effects. A changeset applies **all or nothing**: on the first error every
///   earlier operation of it is undone.
///
/// # With a schema
///
/// [`MemoryDatabase::with_schema`] makes it check what a SQL database checks:
/// an unknown collection ([`Error::UnknownCollection`]) or field
/// ([`Error::UnknownField`], in rows, patches and filters), a value that does
/// not fit its field's type ([`Error::TypeMismatch`]; `null` fits every type;
/// a key given to `*_by_id` is checked against the key field's type too), an
/// operation naming another key field than the schema's
/// ([`Error::KeyFieldMismatch`]), and filters that compare a `json` field
/// ([`Error::InvalidFilter`]: SQL cannot compare JSON columns portably).
/// Without a schema any collection and field is accepted.
///
/// # Reads
///
/// [`MemoryDatabase::find_all`] defines what a read means: the rows its
/// filter matches, sorted by its `order` fields (a missing value first
/// ascending, last descending; see [`order_values`](crate::order_values)),
/// ties broken by the key ascending, then `offset` and `limit`. The read is
/// checked first by [`FindOptions::validate`], the one check every reader
/// makes; [`MemoryDatabase::find_by_id`] checks the key's type
/// ([`check_key`]). The read suite in `tests/reads` holds every rule.
#[derive(Debug, Clone, Default)]
pub struct MemoryDatabase {
    schema: Option<Schema>,
    tables: BTreeMap<String, BTreeMap<Key, Row>>,
}

/// Two databases are equal when they have the same schema and the same rows;
/// an empty collection is the same as an absent one.
impl PartialEq for MemoryDatabase {
    fn eq(&self, other: &Self) -> bool {
        let non_empty = |db: &'_ MemoryDatabase| {
            db.tables
                .iter()
                .filter(|(_, t)| !t.is_empty())
                .map(|(n, t)| (n.clone(), t.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        self.schema == other.schema && non_empty(self) == non_empty(other)
    }
}

/// What an operation changed, to undo a failed changeset.
struct Undo {
    collection: String,
    key: Key,
    before: Option<Row>,
}

impl MemoryDatabase {
    /// An empty, schemaless database.
    pub fn new() -> Self {
        MemoryDatabase::default()
    }

    /// An empty database that checks every operation against `schema`.
    pub fn with_schema(schema: Schema) -> Self {
        MemoryDatabase {
            schema: Some(schema),
            tables: BTreeMap::new(),
        }
    }

    /// The schema, if any.
    pub fn schema(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// Runs `reducer` on `event` and applies the changeset; all or nothing.
    /// Returns the applied changeset.
    /// An event outside the value domain ([`crate::domain`]) is refused
    /// before the reducer runs ([`Error::UnsupportedValue`]).
    pub fn dispatch(&mut self, reducer: &(impl Reducer + ?Sized), event: &StoredEvent) -> Result<Changeset, Error> {
        event.check_domain()?;
        let changeset = reducer.reduce(event)?;
        self.apply(&changeset)?;
        Ok(changeset)
    }

    /// Applies `changeset`, all or nothing. Every value is checked against
    /// the domain first ([`Changeset::check_domain`]), so a changeset holding
    /// one value outside it changes nothing, whatever its other operations.
    pub fn apply(&mut self, changeset: &Changeset) -> Result<(), Error> {
        changeset.check_domain()?;
        let mut undo = Vec::new();
        for operation in changeset.operations() {
            if let Err(err) = self.apply_operation(operation, &mut undo) {
                self.rollback(undo);
                return Err(err);
            }
        }
        Ok(())
    }

    /// The row of `collection` with key `id`.
    pub fn get(&self, collection: &str, id: &Key) -> Option<&Row> {
        self.tables.get(collection)?.get(id)
    }

    /// The rows of `collection`, in key order.
    pub fn rows(&self, collection: &str) -> impl Iterator<Item = &Row> {
        self.tables.get(collection).into_iter().flat_map(|t| t.values())
    }

    /// The rows of `collection` matching `filter`, in key order.
    pub fn find(&self, collection: &str, filter: &Filter) -> Result<Vec<&Row>, Error> {
        self.find_all(collection, &FindOptions::filter(filter.clone()))
    }

    /// **The** meaning of a read: the rows of `collection` that `options`
    /// selects, in its order, after [`FindOptions::validate`] against the
    /// schema (if any). Every other reader (the SQL store, its time machine,
    /// the HTTP service) answers the same rows and refuses the same reads
    /// with the same errors, on the read suite in `tests/reads`.
    pub fn find_all(&self, collection: &str, options: &FindOptions) -> Result<Vec<&Row>, Error> {
        options.validate(collection, self.schema.as_ref())?;
        Ok(options.apply(self.rows(collection)))
    }

    /// The row of `collection` with key `id`, after [`check_key`] against the
    /// schema (if any): a key of the other type than the key field's is
    /// [`Error::TypeMismatch`], not "no row".
    pub fn find_by_id(&self, collection: &str, id: &Key) -> Result<Option<&Row>, Error> {
        check_key(collection, id, self.schema.as_ref())?;
        Ok(self.get(collection, id))
    }

    /// Names of the collections holding at least one row.
    pub fn collections(&self) -> impl Iterator<Item = &str> {
        self.tables
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(name, _)| name.as_str())
    }

    /// The whole state as JSON: `{ collection: [rows in key order] }`, for
    /// collections holding at least one row, sorted by name. This is the
    /// snapshot format of the conformance suite.
    pub fn snapshot(&self) -> Value {
        let mut out = Map::new();
        for (name, table) in &self.tables {
            if !table.is_empty() {
                let rows = table.values().cloned().map(Value::Object).collect();
                out.insert(name.clone(), Value::Array(rows));
            }
        }
        Value::Object(out)
    }

    fn rollback(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            let table = self.tables.entry(step.collection).or_default();
            match step.before {
                Some(row) => table.insert(step.key, row),
                None => table.remove(&step.key),
            };
        }
    }

    fn apply_operation(&mut self, operation: &Operation, undo: &mut Vec<Undo>) -> Result<(), Error> {
        operation.validate(self.schema.as_ref())?;
        let collection = operation.collection();
        let table = self.tables.entry(collection.to_string()).or_default();
        let mut record = |key: &Key, before: Option<Row>| {
            undo.push(Undo {
                collection: collection.into(),
                key: key.clone(),
                before,
            })
        };
        match operation {
            Operation::Create { row, key, .. } => {
                let key = crate::row_key(collection, key, row)?;
                if table.contains_key(&key) {
                    return Err(Error::DuplicateKey {
                        collection: collection.into(),
                        id: key,
                    });
                }
                record(&key, None);
                table.insert(key, without_nulls(row));
            }
            Operation::UpdateById { id, patch, .. } => {
                if let Some(row) = table.get_mut(id) {
                    record(id, Some(row.clone()));
                    merge(row, patch);
                }
            }
            Operation::DestroyById { id, .. } => {
                if let Some(before) = table.remove(id) {
                    record(id, Some(before));
                }
            }
            Operation::UpdateWhere { filter, patch, .. } => {
                for (key, row) in table.iter_mut().filter(|(_, row)| filter.matches(row)) {
                    record(key, Some(row.clone()));
                    merge(row, patch);
                }
            }
            Operation::DestroyWhere { filter, .. } => {
                table.retain(|key, row| {
                    let doomed = filter.matches(row);
                    if doomed {
                        record(key, Some(row.clone()));
                    }
                    !doomed
                });
            }
        }
        Ok(())
    }
}

/// The row as stored: `null` fields dropped, numbers in canonical form.
fn without_nulls(row: &Row) -> Row {
    row.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), canonical(v).into_owned()))
        .collect()
}

/// Shallow merge: each patch field replaces the row's (in canonical form);
/// `null` removes it.
fn merge(row: &mut Row, patch: &Row) {
    for (field, value) in patch {
        if value.is_null() {
            row.remove(field);
        } else {
            row.insert(field.clone(), canonical(value).into_owned());
        }
    }
}
