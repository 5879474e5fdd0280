//! Checks every applier makes before an operation touches data — shared, so
//! the SQL store and the wasm + JS path report exactly the errors
//! [`MemoryDatabase`](crate::MemoryDatabase) reports.

use alloc::string::ToString;

use serde_json::Value;

use crate::{Error, Filter, Key, Operation, Row, Schema};

impl Operation {
    /// Checks everything about this operation that does not depend on the
    /// rows present: its filter's values, key changes in patches, the created
    /// row's key, and — with a schema — the collection, key field, fields and
    /// value types. Only `duplicate_key` is left to the applier.
    pub fn validate(&self, schema: Option<&Schema>) -> Result<(), Error> {
        let collection = self.collection();
        let key_field = self.key_field();
        let key_change = || Error::KeyChange {
            collection: collection.into(),
            key: key_field.into(),
        };
        if let Operation::UpdateWhere { filter, .. } | Operation::DestroyWhere { filter, .. } = self {
            filter.validate()?;
        }
        if let Some(schema) = schema {
            self.validate_against(schema)?;
        }
        match self {
            Operation::Create { collection, key, row } => {
                row_key(collection, key, row)?;
            }
            Operation::UpdateById { id, patch, .. } => {
                if patch
                    .get(key_field)
                    .is_some_and(|new| Key::from_value(new).as_ref() != Some(id))
                {
                    return Err(key_change());
                }
            }
            Operation::UpdateWhere { patch, .. } => {
                if patch.contains_key(key_field) {
                    return Err(key_change());
                }
            }
            Operation::DestroyById { .. } | Operation::DestroyWhere { .. } => {}
        }
        Ok(())
    }

    fn validate_against(&self, schema: &Schema) -> Result<(), Error> {
        let collection = self.collection();
        let table = schema.collection(collection)?;
        if table.key != self.key_field() {
            return Err(Error::KeyFieldMismatch {
                collection: collection.into(),
                expected: table.key.clone(),
                found: self.key_field().into(),
            });
        }
        let check_row = |row: &Row| {
            row.iter()
                .try_for_each(|(field, value)| table.check_value(collection, field, value))
        };
        let check_filter = |filter: &Filter| crate::query::check_filter(collection, table, filter);
        match self {
            Operation::Create { row, .. } => check_row(row),
            Operation::UpdateById { id, patch, .. } => {
                table.check_value(collection, &table.key, &id.to_value())?;
                check_row(patch)
            }
            Operation::DestroyById { id, .. } => table.check_value(collection, &table.key, &id.to_value()),
            Operation::UpdateWhere { filter, patch, .. } => {
                check_filter(filter)?;
                check_row(patch)
            }
            Operation::DestroyWhere { filter, .. } => check_filter(filter),
        }
    }
}

/// The key of a row about to be created in `collection`, keyed by `key_field`:
/// [`Error::MissingKey`] when absent or null, [`Error::InvalidKey`] when not a
/// string or an integer.
pub fn row_key(collection: &str, key_field: &str, row: &Row) -> Result<Key, Error> {
    match row.get(key_field) {
        None | Some(Value::Null) => Err(Error::MissingKey {
            collection: collection.into(),
            key: key_field.into(),
        }),
        Some(value) => Key::from_value(value).ok_or_else(|| Error::InvalidKey {
            collection: collection.into(),
            key: key_field.into(),
            value: value.to_string(),
        }),
    }
}
