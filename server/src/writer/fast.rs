//! The multi-row path: a group of two events or more written with
//! multi-row statements — the log rows while the reducers run, then the
//! operations in waves ([`crate::sql::batch`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flux_capacitor::{Changeset, FieldType, StoredEvent};

use super::stamp::Stamped;
use super::{Request, reduce};
use crate::schema::{DbSchema, Table};
use crate::sql::backend::WriteTx;
use crate::sql::{self, Dialect};
use crate::store::Shared;

/// The tables [`sql::batch`] may write with multi-row statements, as last
/// read: re-read when the schema changes and at most a second after the
/// last reading (a migration may add a trigger or a foreign key).
pub(crate) struct BatchTables {
    tables: Arc<HashSet<String>>,
    schema: Arc<DbSchema>,
    read: Instant,
}

pub(super) async fn batchable_tables(shared: &Shared, cache: &mut Option<BatchTables>) -> Arc<HashSet<String>> {
    let schema = shared.schema();
    if let Some(cached) = cache
        && Arc::ptr_eq(&cached.schema, &schema)
        && cached.read.elapsed() < Duration::from_secs(1)
    {
        return cached.tables.clone();
    }
    let tables = Arc::new(shared.db().batchable_tables().await.unwrap_or_else(|err| {
        tracing::debug!(error = %err, "cannot tell which tables take multi-row statements; using none");
        HashSet::new()
    }));
    *cache = Some(BatchTables {
        tables: tables.clone(),
        schema,
        read: Instant::now(),
    });
    tables
}

/// Whether rows of `table` are found by an exact comparison of their key
/// (the dialects' `batchable_tables` check the rest).
fn exact_key(dialect: Dialect, table: &Table) -> bool {
    let key = table.key_column();
    key.ty != FieldType::Text || !dialect.syntax().inexact_key(key)
}

/// Executes `statements` in order, making each next one while the database
/// runs the one before.
async fn pipeline(tx: &mut dyn WriteTx, mut statements: impl Iterator<Item = sql::Sql>) -> Result<(), sqlx::Error> {
    let mut next = statements.next();
    while let Some(current) = next {
        let (done, upcoming) = tokio::join!(biased; tx.execute(&current), async { statements.next() });
        done?;
        next = upcoming;
    }
    Ok(())
}

/// Events reduced between two yields to the log writer running alongside.
const REDUCE_SLICE: usize = 64;

/// Runs the reducer on every stamped event and validates each operation
/// against the schema as last read; `None` when a reducer refuses an event
/// or an operation does not fit the schema (the one-statement path then
/// re-reads the schema if needed and reports the error). Yields now and
/// then, so that the log rows are written meanwhile.
async fn reduce_group(
    shared: &Shared,
    group: &[Request],
    stamped: &[Stamped],
) -> Option<(Arc<DbSchema>, Vec<(Changeset, u64)>)> {
    let reducer = shared.reducer();
    let schema = shared.schema();
    let mut changes = Vec::new();
    for (request, dispatch) in group.iter().zip(stamped) {
        for (index, event) in dispatch.events.iter().enumerate() {
            let changeset = {
                let _span = request.span.enter();
                reduce(reducer.as_ref(), event, index).ok()?
            };
            for operation in changeset.operations() {
                schema.validate(operation).ok()?;
                // A table without versions yet: the one-statement path makes them.
                if shared.config.row_versions {
                    schema.versions.get(operation.collection())?;
                }
            }
            changes.push((changeset, event.seq));
            if changes.len() % REDUCE_SLICE == 0 {
                tokio::task::yield_now().await;
            }
        }
    }
    Some((schema, changes))
}

/// Writes the group with multi-row statements: the log rows while the
/// reducers run, then the operations as [`sql::batch::schedule`] orders them.
/// `Ok(false)` when a dispatch is refused (what was written must be rolled
/// back, as on an error).
pub(super) async fn write_fast(
    shared: &Shared,
    tx: &mut dyn WriteTx,
    group: &[Request],
    stamped: &[Stamped],
    tables: &HashSet<String>,
) -> Result<bool, sqlx::Error> {
    let dialect = shared.pool.dialect();
    let rows: Vec<(&StoredEvent, DateTime<Utc>)> = stamped
        .iter()
        .flat_map(|s| s.events.iter().zip(s.times.iter().copied()))
        .collect();
    let (logged, reduced) = tokio::join!(
        biased;
        async {
            let mut start = 0;
            let log = sql::row_chunks(rows.len(), 7).into_iter().map(|size| {
                start += size;
                sql::insert_events(dialect, &rows[start - size..start])
            });
            pipeline(&mut *tx, log).await
        },
        reduce_group(shared, group, stamped),
    );
    logged?;
    let Some((schema, changes)) = reduced else {
        return Ok(false);
    };
    let operations = changes.iter().flat_map(|(changeset, seq)| {
        changeset
            .operations()
            .iter()
            .map(|operation| (&schema.tables[operation.collection()], operation, *seq))
    });
    let steps = sql::batch::schedule(operations, |table| {
        tables.contains(&table.name) && exact_key(dialect, table)
    });
    let versions = shared.config.row_versions.then_some(&schema.versions);
    pipeline(
        tx,
        steps.into_iter().flat_map(|step| step.statements(dialect, versions)),
    )
    .await?;
    Ok(true)
}
