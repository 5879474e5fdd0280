//! The multi-row path: a group of two events or more written with
//! multi-row statements — the log rows, each slice as soon as its events
//! are reduced (a log row holds its changeset's hash), then the operations
//! in waves ([`crate::sql::batch`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flux_capacitor::{Changeset, FieldType, StoredEvent, changeset_hash};

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
pub(crate) fn exact_key(dialect: Dialect, table: &Table) -> bool {
    let key = table.key_column();
    key.ty != FieldType::Text || !dialect.syntax().inexact_key(key)
}

/// Executes `statements` in order, making each next one while the database
/// runs the one before.
pub(crate) async fn pipeline(
    tx: &mut dyn WriteTx,
    mut statements: impl Iterator<Item = sql::Sql>,
) -> Result<(), sqlx::Error> {
    let mut next = statements.next();
    while let Some(current) = next {
        let (done, upcoming) = tokio::join!(biased; tx.execute(&current), async { statements.next() });
        done?;
        next = upcoming;
    }
    Ok(())
}

/// Whether every operation of `changeset` fits the schema as last read
/// (and, with row versions, goes to a table that has them already: the
/// one-statement path makes them).
fn fits(schema: &DbSchema, changeset: &Changeset, row_versions: bool) -> bool {
    changeset.operations().iter().all(|operation| {
        schema.validate(operation).is_ok() && (!row_versions || schema.versions.contains_key(operation.collection()))
    })
}

/// Writes the group with multi-row statements: the log rows, each slice
/// reduced (and so its events' hashes known) while the database writes the
/// slice before, then the operations as [`sql::batch::schedule`] orders them.
/// `Ok(false)` when a reducer refuses an event or an operation does not fit
/// the schema as last read (what was written must be rolled back, as on an
/// error; the one-statement path re-reads the schema if needed and reports it).
pub(super) async fn write_fast(
    shared: &Shared,
    tx: &mut dyn WriteTx,
    group: &[Request],
    stamped: &mut [Stamped],
    tables: &HashSet<String>,
) -> Result<bool, sqlx::Error> {
    let dialect = shared.pool.dialect();
    let reducer = shared.reducer();
    let schema = shared.schema();
    let row_versions = shared.config.row_versions;
    // Each event with its request's span, its index in its dispatch and its time.
    let mut rows: Vec<(&tracing::Span, usize, &mut StoredEvent, DateTime<Utc>)> = group
        .iter()
        .zip(stamped.iter_mut())
        .flat_map(|(request, dispatch)| {
            let span = &request.span;
            dispatch
                .events
                .iter_mut()
                .zip(dispatch.times.iter().copied())
                .enumerate()
                .map(move |(index, (event, time))| (span, index, event, time))
        })
        .collect();
    let mut changes: Vec<(Changeset, u64)> = Vec::with_capacity(rows.len());
    let mut refused = false;
    // Smallest slice first: it is reduced before the database has work.
    let mut sizes = sql::row_chunks(rows.len(), sql::EVENT_PARAMS);
    sizes.reverse();
    let mut rest = rows.as_mut_slice();
    let log = sizes.into_iter().map_while(|size| {
        let (slice, tail) = std::mem::take(&mut rest).split_at_mut(size);
        rest = tail;
        for (span, index, event, _) in slice.iter_mut() {
            let changeset = {
                let _span = span.enter();
                reduce(reducer.as_ref(), event, *index).ok()
            };
            let Some(changeset) = changeset.filter(|c| fits(&schema, c, row_versions)) else {
                refused = true;
                return None;
            };
            event.hash = Some(changeset_hash(&changeset));
            changes.push((changeset, event.seq));
        }
        let slice: Vec<(&StoredEvent, DateTime<Utc>)> =
            slice.iter().map(|(_, _, event, time)| (&**event, *time)).collect();
        Some(sql::insert_events(dialect, &slice))
    });
    pipeline(&mut *tx, log).await?;
    if refused {
        return Ok(false);
    }
    let operations = changes.iter().flat_map(|(changeset, seq)| {
        changeset
            .operations()
            .iter()
            .map(|operation| (&schema.tables[operation.collection()], operation, *seq))
    });
    let steps = sql::batch::schedule(operations, |table| {
        tables.contains(&table.name) && exact_key(dialect, table)
    });
    let versions = row_versions.then_some(&schema.versions);
    pipeline(
        tx,
        steps.into_iter().flat_map(|step| step.statements(dialect, versions)),
    )
    .await?;
    Ok(true)
}
