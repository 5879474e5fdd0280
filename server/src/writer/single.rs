//! The one-statement path: one dispatch written event by event, one
//! statement per operation, so that an error names the event and the
//! operation at fault.

use std::sync::Arc;

use flux_capacitor::{Error as CoreError, Operation, changeset_hash};

use super::reduce;
use super::stamp::Stamped;
use crate::StoreError;
use crate::error::{EventAt, OperationAt};
use crate::schema::DbSchema;
use crate::sql::backend::WriteTx;
use crate::sql::{self, compile_operation, insert_events};
use crate::store::Shared;
use crate::versions;

/// Writes one stamped dispatch inside the open transaction `tx`; each
/// event gets the hash of its changeset.
pub(super) async fn apply(shared: &Shared, tx: &mut dyn WriteTx, stamped: &mut Stamped) -> Result<(), StoreError> {
    let dialect = shared.pool.dialect();
    let reducer = shared.reducer();
    for (index, (stored, time)) in stamped.events.iter_mut().zip(&stamped.times).enumerate() {
        let changeset = reduce(reducer.as_ref(), stored, index)?;
        stored.hash = Some(changeset_hash(&changeset));
        let stored = &*stored;
        let at = || EventAt {
            index,
            event_type: stored.event_type.clone(),
        };
        tx.execute(&insert_events(dialect, &[(stored, *time)]))
            .await
            .map_err(|source| StoreError::Database {
                event: Some(at()),
                operation: None,
                source: Box::new(source),
            })?;
        for (op_index, operation) in changeset.operations().iter().enumerate() {
            let op_at = || OperationAt {
                index: op_index,
                operation: operation.name(),
                collection: operation.collection().into(),
            };
            let schema = validated(shared, tx, operation, stored.seq)
                .await
                .map_err(|err| match err {
                    Invalid::Core(source) => StoreError::Operation {
                        event: at(),
                        operation: op_at(),
                        source: Box::new(source),
                    },
                    Invalid::Db(source) => StoreError::Database {
                        event: Some(at()),
                        operation: Some(op_at()),
                        source: Box::new(source),
                    },
                })?;
            let table = &schema.tables[operation.collection()];
            let Some(statement) = compile_operation(dialect, table, operation) else {
                continue;
            };
            let database = |source: sqlx::Error| StoreError::Database {
                event: Some(at()),
                operation: Some(op_at()),
                source: Box::new(source),
            };
            let (before, after) = if shared.config.row_versions {
                // `validated` made them.
                let versions = schema.versions.get(operation.collection()).ok_or_else(|| {
                    database(sqlx::Error::Protocol(format!(
                        "table `{}` has no row versions table",
                        operation.collection()
                    )))
                })?;
                sql::versions::around(dialect, table, versions, operation, stored.seq)
            } else {
                (None, Vec::new())
            };
            if let Some(before) = before {
                tx.execute(&before).await.map_err(database)?;
            }
            if let Err(source) = tx.execute(&statement).await {
                let duplicate = source.as_database_error().is_some_and(|e| e.is_unique_violation());
                return Err(match operation {
                    Operation::Create { collection, key, row } if duplicate => StoreError::Operation {
                        event: at(),
                        operation: op_at(),
                        source: Box::new(match flux_capacitor::row_key(collection, key, row) {
                            Ok(id) => CoreError::DuplicateKey {
                                collection: collection.clone(),
                                id,
                            },
                            Err(e) => e,
                        }),
                    },
                    _ => database(source),
                });
            }
            for statement in &after {
                tx.execute(statement).await.map_err(database)?;
            }
        }
    }
    Ok(())
}

enum Invalid {
    Core(CoreError),
    Db(sqlx::Error),
}

/// Validates `operation` against the cached schema; on an unknown collection
/// or field, re-reads the schema (a migration may have added it) and retries;
/// on a table without complete row versions, makes them first (see
/// [`crate::versions`]) with `seq`, the event's, as the head.
async fn validated(
    shared: &Shared,
    tx: &mut dyn WriteTx,
    operation: &Operation,
    seq: u64,
) -> Result<Arc<DbSchema>, Invalid> {
    let schema = shared.schema();
    match schema.validate(operation) {
        Ok(()) if !shared.config.row_versions || schema.versions.contains_key(operation.collection()) => Ok(schema),
        Ok(()) | Err(CoreError::UnknownCollection { .. } | CoreError::UnknownField { .. }) => {
            let mut fresh = tx.introspect().await.map_err(Invalid::Db)?;
            if shared.config.row_versions
                && fresh.tables.contains_key(operation.collection())
                && !fresh.versions.contains_key(operation.collection())
            {
                versions::ensure_in(shared.db(), tx, &fresh, seq.saturating_sub(1))
                    .await
                    .map_err(Invalid::Db)?;
                fresh = tx.introspect().await.map_err(Invalid::Db)?;
            }
            let fresh = Arc::new(fresh);
            shared.set_schema(fresh.clone());
            fresh.validate(operation).map_err(Invalid::Core)?;
            Ok(fresh)
        }
        Err(err) => Err(Invalid::Core(err)),
    }
}
