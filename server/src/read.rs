//! Query options of the store's read API: [`FindOptions`] and [`Direction`]
//! are the core crate's (so the one validation of a read,
//! [`FindOptions::validate`], and its one meaning,
//! [`MemoryDatabase::find_all`](flux_capacitor::MemoryDatabase::find_all),
//! are shared by the live SQL reads, the time machine and the HTTP service),
//! [`EventQuery`] the log's.

use std::sync::Arc;

pub use flux_capacitor::{Direction, FindOptions};
use flux_capacitor::{Error as CoreError, Filter, Key, Row, Schema, check_key};
use serde_json::Value;

use crate::schema::DbSchema;
use crate::{Store, StoreError, sql};

/// Which events [`Store::events`](crate::Store::events) returns: those with
/// `seq > after_seq`, of one of `types` when given, in `seq` order, at most `limit`.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Only events after this `seq` (0 for all).
    pub after_seq: u64,
    /// At most this many.
    pub limit: u64,
    /// Only these event types.
    pub types: Option<Vec<String>>,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            after_seq: 0,
            limit: 1000,
            types: None,
        }
    }
}

impl EventQuery {
    /// Up to `limit` events after `seq`.
    pub fn after(seq: u64, limit: u64) -> Self {
        EventQuery {
            after_seq: seq,
            limit,
            types: None,
        }
    }
}

/// A past read of a table the store keeps no versions of (only while it
/// creates them: see [`crate::versions`]).
pub(crate) fn no_versions(collection: &str) -> StoreError {
    StoreError::InvalidPoint {
        reason: format!("table `{collection}` has no row versions (yet)"),
    }
}

/// A read's error: the core error of the one validation, on `collection`.
pub(crate) fn query_error(collection: &str) -> impl Fn(CoreError) -> StoreError + '_ {
    move |source| StoreError::Query {
        collection: collection.into(),
        source: Box::new(source),
    }
}

impl Store {
    /// Rows of `collection` (see [`FindOptions`]), from its table; `null`
    /// columns are left out of each row, as in `MemoryDatabase`. The read is
    /// checked by [`FindOptions::validate`] first — the check
    /// [`AsOf::find_all`](crate::AsOf::find_all) and the HTTP service make —
    /// so it fails as `MemoryDatabase::find_all` would ([`StoreError::Query`]
    /// with the core error: `unknown_collection`, `unknown_field`,
    /// `invalid_filter`, `invalid_order`).
    pub async fn find_all(&self, collection: &str, options: FindOptions) -> Result<Vec<Row>, StoreError> {
        self.find_at(collection, &options, None).await
    }

    /// [`Store::find_all`] of the live table, or (`at`) of the versions in
    /// force right after that `seq`: the same checks, statement and decoding.
    pub(crate) async fn find_at(
        &self,
        collection: &str,
        options: &FindOptions,
        at: Option<u64>,
    ) -> Result<Vec<Row>, StoreError> {
        let schema = self
            .checked_schema(collection, |schema| options.validate(collection, Some(schema)))
            .await?;
        let table = match at {
            None => &schema.tables[collection],
            Some(_) => schema.versions.get(collection).ok_or_else(|| no_versions(collection))?,
        };
        let mut order = Vec::with_capacity(options.order.len());
        for (field, direction) in &options.order {
            // The validation found every field in this very schema.
            let column = table.column(field).ok_or_else(|| {
                query_error(collection)(CoreError::UnknownField {
                    collection: collection.into(),
                    field: field.clone(),
                })
            })?;
            order.push((column, *direction == Direction::Desc));
        }
        let shared = self.shared();
        let (statement, columns) = sql::find_sql(
            shared.pool.dialect(),
            table,
            options.filter.as_ref(),
            &order,
            options.limit,
            options.offset,
            at,
        );
        Ok(shared.db().fetch_rows(&statement, &columns).await?)
    }

    /// The row of `collection` with key `id`. A key of the other type than
    /// the key column's is [`StoreError::Query`] with `type_mismatch`
    /// ([`check_key`], as [`AsOf::find_by_id`](crate::AsOf::find_by_id)).
    pub async fn find_by_id(&self, collection: &str, id: impl Into<Key>) -> Result<Option<Row>, StoreError> {
        self.find_by_id_at(collection, id.into(), None).await
    }

    /// [`Store::find_by_id`], live or (`at`) right after that `seq`.
    pub(crate) async fn find_by_id_at(
        &self,
        collection: &str,
        id: Key,
        at: Option<u64>,
    ) -> Result<Option<Row>, StoreError> {
        let schema = self
            .checked_schema(collection, |schema| check_key(collection, &id, Some(schema)))
            .await?;
        let key = schema.tables[collection].key.clone();
        let options = FindOptions {
            filter: Some(Filter::eq(key, id.to_value())),
            limit: Some(1),
            ..FindOptions::default()
        };
        Ok(self.find_at(collection, &options, at).await?.pop())
    }

    /// Every non-empty table of the read model, in the shape of
    /// [`MemoryDatabase::snapshot`](flux_capacitor::MemoryDatabase::snapshot):
    /// `{ table: [rows in key order] }`.
    pub async fn snapshot(&self) -> Result<Value, StoreError> {
        let schema = self.refresh_schema().await?;
        let mut out = serde_json::Map::new();
        for name in schema.collections.keys() {
            let rows = self.find_all(name, FindOptions::all()).await?;
            if !rows.is_empty() {
                out.insert(
                    name.clone(),
                    Value::Array(rows.into_iter().map(Value::Object).collect()),
                );
            }
        }
        Ok(Value::Object(out))
    }

    /// The schema `check` passes, re-reading the database once when it
    /// names an unknown collection or field (a table or column created since).
    pub(crate) async fn checked_schema(
        &self,
        collection: &str,
        check: impl Fn(&Schema) -> Result<(), CoreError>,
    ) -> Result<Arc<DbSchema>, StoreError> {
        let schema = self.shared().schema();
        match check(&schema.schema) {
            Ok(()) => Ok(schema),
            Err(CoreError::UnknownCollection { .. } | CoreError::UnknownField { .. }) => {
                self.refresh_schema().await?;
                let schema = self.shared().schema();
                check(&schema.schema).map_err(query_error(collection))?;
                Ok(schema)
            }
            Err(err) => Err(query_error(collection)(err)),
        }
    }
}
