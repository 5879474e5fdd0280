//! The one-statement path: one dispatch written event by event, one
//! statement per operation, so that an error names the event and the
//! operation at fault.

use std::sync::Arc;

use flux_capacitor::{Error as CoreError, Operation};

use super::reduce;
use super::stamp::Stamped;
use crate::StoreError;
use crate::error::{EventAt, OperationAt};
use crate::schema::DbSchema;
use crate::sql::backend::WriteTx;
use crate::sql::{compile_operation, insert_events};
use crate::store::Shared;

/// Writes one stamped dispatch inside the open transaction `tx`.
pub(super) async fn apply(shared: &Shared, tx: &mut dyn WriteTx, stamped: &Stamped) -> Result<(), StoreError> {
    let dialect = shared.pool.dialect();
    let reducer = shared.reducer();
    for (index, (stored, time)) in stamped.events.iter().zip(&stamped.times).enumerate() {
        let at = || EventAt {
            index,
            event_type: stored.event_type.clone(),
        };
        let changeset = reduce(reducer.as_ref(), stored, index)?;
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
            let schema = validated(shared, tx, operation).await.map_err(|err| match err {
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
                    _ => StoreError::Database {
                        event: Some(at()),
                        operation: Some(op_at()),
                        source: Box::new(source),
                    },
                });
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
/// or field, re-reads the schema (a migration may have added it) and retries.
async fn validated(shared: &Shared, tx: &mut dyn WriteTx, operation: &Operation) -> Result<Arc<DbSchema>, Invalid> {
    let schema = shared.schema();
    match schema.validate(operation) {
        Ok(()) => Ok(schema),
        Err(CoreError::UnknownCollection { .. } | CoreError::UnknownField { .. }) => {
            let fresh = Arc::new(tx.introspect().await.map_err(Invalid::Db)?);
            shared.set_schema(fresh.clone());
            fresh.validate(operation).map_err(Invalid::Core)?;
            Ok(fresh)
        }
        Err(err) => Err(Invalid::Core(err)),
    }
}
