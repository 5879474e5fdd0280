//! The store's single writer task and its group commit.
//!
//! The mechanism and why are described in the crate docs, "Ordering".

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flux_capacitor::{Changeset, Error as CoreError, Event, FieldType, Operation, Reducer, StoredEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Interval;
use tracing::Instrument;
use uuid::Uuid;

use crate::db::{Tx, WriterConn};
use crate::error::{EventAt, OperationAt};
use crate::schema::DbSchema;
use crate::sql::{self, Dialect, compile_operation};
use crate::store::Shared;
use crate::{EventQuery, StoreError};

/// What one dispatch writes.
pub(crate) enum Batch {
    /// New events: the writer assigns `id`, `seq` and `timestamp`.
    New(Vec<Event>),
    /// Stored events replayed verbatim (their `seq` must follow the log's).
    Stored(Vec<StoredEvent>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::New(e) => e.len(),
            Batch::Stored(e) => e.len(),
        }
    }
}

pub(crate) type Reply = oneshot::Sender<Result<Vec<StoredEvent>, StoreError>>;

/// A queued dispatch.
pub(crate) struct Request {
    pub batch: Batch,
    pub reply: Reply,
    pub span: tracing::Span,
}

/// Runs until every [`Store`](crate::Store) handle is dropped.
pub(crate) async fn run(shared: Arc<Shared>, mut requests: mpsc::Receiver<Request>) {
    let mut poll = shared.config.poll_interval.map(|period| {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let mut batchable = None;
    let mut held: Option<WriterConn> = None;
    let mut release_at = tokio::time::Instant::now();
    loop {
        let first = tokio::select! {
            request = requests.recv() => match request {
                Some(request) => request,
                None => break,
            },
            () = tick(&mut poll) => {
                publish_external(&shared).await;
                continue;
            }
            () = tokio::time::sleep_until(release_at), if held.is_some() => {
                held = None;
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < shared.config.max_group.max(1) {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let gate = shared.write_gate.lock().await;
        let results = write_group(&shared, &mut group, &mut batchable, &mut held).await;
        drop(gate);
        release_at = tokio::time::Instant::now() + HOLD_IDLE;
        for (request, result) in group.into_iter().zip(results) {
            let _enter = request.span.enter();
            match &result {
                Ok(events) => {
                    tracing::debug!(
                        events = events.len(),
                        last_seq = events.last().map(|e| e.seq),
                        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "committed"
                    );
                    if let Some(last) = events.last() {
                        shared.head.fetch_max(last.seq, Ordering::SeqCst);
                        // Copying the batch for nobody is the costliest part of publishing.
                        if shared.live.receiver_count() > 0 {
                            let _ = shared.live.send(Arc::from(events.as_slice()));
                        }
                        crate::history::after_commit(&shared);
                    }
                }
                Err(err) => tracing::debug!(kind = err.kind(), error = %err, "rolled back"),
            }
            let _ = request.reply.send(result);
        }
    }
}

async fn tick(poll: &mut Option<Interval>) {
    match poll {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Publishes events other processes committed since the last published `seq`.
async fn publish_external(shared: &Shared) {
    loop {
        let after = shared.head.load(Ordering::SeqCst);
        let query = EventQuery::after(after, shared.config.replay_page as u64);
        match shared.pool.fetch_events(&query).await {
            Ok(events) if !events.is_empty() => {
                let full = events.len() >= shared.config.replay_page;
                if let Some(last) = events.last() {
                    shared.head.fetch_max(last.seq, Ordering::SeqCst);
                }
                let _ = shared.live.send(Arc::from(events));
                if !full {
                    return;
                }
            }
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, "polling the event log failed");
                return;
            }
        }
    }
}

type Outcome = Result<Vec<StoredEvent>, StoreError>;

fn abort_all(outcomes: &mut Vec<Outcome>, total: usize, reason: &str) {
    for outcome in outcomes.iter_mut() {
        if outcome.is_ok() {
            *outcome = Err(StoreError::Aborted { reason: reason.into() });
        }
    }
    while outcomes.len() < total {
        outcomes.push(Err(StoreError::Aborted { reason: reason.into() }));
    }
}

/// How long the writer keeps its connection ([`WriterConn`]) without work.
const HOLD_IDLE: Duration = Duration::from_secs(1);

/// Writes a group of dispatches in one transaction; one outcome per request.
///
/// The transaction runs on the writer's own connection, `held` between
/// groups while dispatches keep coming (unless the pool has only one
/// connection, which readers need too); one that took part in a failure goes
/// back to the pool, which checks it.
///
/// A group of two events or more is first written with multi-row statements
/// ([`write_fast`]); if that fails in the database, it is rolled back and the
/// group is written again one statement per operation, so the error names the
/// event and operation at fault exactly as if the fast path did not exist.
async fn write_group(
    shared: &Shared,
    group: &mut [Request],
    cache: &mut Option<BatchTables>,
    held: &mut Option<WriterConn>,
) -> Vec<Outcome> {
    let events: usize = group.iter().map(|r| r.batch.len()).sum();
    let tables = if events >= 2 {
        Some(batchable_tables(shared, cache).await)
    } else {
        None
    };
    let keep = shared.pool.max_connections() > 1;
    if keep && held.is_none() {
        match shared.pool.acquire_writer().await {
            Ok(conn) => *held = Some(conn),
            Err(err) => return failed(group.len(), err),
        }
    }
    let outcomes = match held.as_mut().filter(|_| keep) {
        Some(conn) => match conn.begin().await {
            Ok(tx) => write_tx(shared, tx, group, tables).await,
            Err(err) => failed(group.len(), err),
        },
        None => match shared.pool.begin_write().await {
            Ok(tx) => write_tx(shared, tx, group, tables).await,
            Err(err) => failed(group.len(), err),
        },
    };
    if outcomes
        .iter()
        .any(|o| matches!(o, Err(StoreError::Database { .. } | StoreError::Aborted { .. })))
    {
        *held = None;
    }
    outcomes
}

/// Every dispatch of a group failed by `err` of its transaction.
fn failed(total: usize, err: sqlx::Error) -> Vec<Outcome> {
    let reason = err.to_string();
    let mut outcomes = vec![Err(StoreError::database(err))];
    abort_all(&mut outcomes, total, &reason);
    outcomes
}

/// Writes the group in the open transaction `tx`, then commits.
async fn write_tx(
    shared: &Shared,
    mut tx: Tx<'_>,
    group: &mut [Request],
    tables: Option<Arc<HashSet<String>>>,
) -> Vec<Outcome> {
    let total = group.len();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    let fail_all = |err: sqlx::Error| failed(total, err);
    let (mut seq, mut last_time) = match tx.last_event().await {
        Ok(last) => last.unwrap_or((0, DateTime::<Utc>::MIN_UTC)),
        Err(err) => {
            let _ = tx.rollback().await;
            return fail_all(err);
        }
    };
    if let Some(tables) = tables
        && let Some(stamped) = stamp_group(group, seq, last_time)
    {
        // A savepoint, so that a failure rolls back only what the fast path wrote
        // (a failure to roll back to it — a lost connection — fails the group).
        if let Err(err) = tx.raw("SAVEPOINT flux_batch").await {
            let _ = tx.rollback().await;
            return fail_all(err);
        }
        let written = write_fast(shared, &mut tx, group, &stamped, &tables).await;
        match written {
            Ok(true) => {
                if let Err(err) = tx.raw("RELEASE SAVEPOINT flux_batch").await {
                    let _ = tx.rollback().await;
                    return fail_all(err);
                }
                outcomes.extend(stamped.into_iter().map(|s| Ok(s.events)));
                return finish(tx, outcomes, total).await;
            }
            // Refused by a reducer or the schema, or failed in the database: the
            // one-statement path below writes the group again and reports it.
            Ok(false) | Err(_) => {
                unstamp(group, stamped);
                if let Err(err) = &written {
                    tracing::debug!(error = %err, "multi-row write failed; writing one statement per operation");
                }
                let recovered = tx.raw("ROLLBACK TO SAVEPOINT flux_batch").await.is_ok()
                    && tx.raw("RELEASE SAVEPOINT flux_batch").await.is_ok();
                if !recovered {
                    let _ = tx.rollback().await;
                    return fail_all(
                        written
                            .err()
                            .unwrap_or_else(|| sqlx::Error::Protocol("savepoint lost".into())),
                    );
                }
            }
        }
    }
    let savepoints = total > 1;
    for request in group {
        let span = request.span.clone();
        if savepoints && let Err(err) = tx.raw("SAVEPOINT flux_dispatch").await {
            let _ = tx.rollback().await;
            let reason = err.to_string();
            outcomes.push(Err(StoreError::database(err)));
            abort_all(&mut outcomes, total, &reason);
            return outcomes;
        }
        let applied = apply(shared, &mut tx, &request.batch, seq, last_time)
            .instrument(span)
            .await;
        match applied {
            Ok(events) => {
                if savepoints && let Err(err) = tx.raw("RELEASE SAVEPOINT flux_dispatch").await {
                    let _ = tx.rollback().await;
                    let reason = err.to_string();
                    outcomes.push(Err(StoreError::database(err)));
                    abort_all(&mut outcomes, total, &reason);
                    return outcomes;
                }
                if let Some(last) = events.last() {
                    seq = last.seq;
                    last_time = sql::parse_timestamp(&last.timestamp).unwrap_or(last_time);
                }
                outcomes.push(Ok(events));
            }
            Err(err) => {
                let recovered = savepoints
                    && tx.raw("ROLLBACK TO SAVEPOINT flux_dispatch").await.is_ok()
                    && tx.raw("RELEASE SAVEPOINT flux_dispatch").await.is_ok();
                if !recovered {
                    let _ = tx.rollback().await;
                    let reason = err.to_string();
                    outcomes.push(Err(err));
                    abort_all(&mut outcomes, total, &reason);
                    return outcomes;
                }
                outcomes.push(Err(err));
            }
        }
    }
    finish(tx, outcomes, total).await
}

/// Commits (or, when every dispatch failed, rolls back) the group's transaction.
async fn finish(tx: Tx<'_>, mut outcomes: Vec<Outcome>, total: usize) -> Vec<Outcome> {
    let finished = if outcomes.iter().any(Result::is_ok) {
        tx.commit().await
    } else {
        tx.rollback().await
    };
    if let Err(err) = finished {
        let reason = format!("commit failed: {err}");
        if let Some(first) = outcomes.iter_mut().find(|o| o.is_ok()) {
            *first = Err(StoreError::database(err));
        }
        abort_all(&mut outcomes, total, &reason);
    }
    outcomes
}

/// The tables [`sql::batch`] may write with multi-row statements, as last
/// read: re-read when the schema changes and at most a second after the
/// last reading (a migration may add a trigger or a foreign key).
pub(crate) struct BatchTables {
    tables: Arc<HashSet<String>>,
    schema: Arc<DbSchema>,
    read: Instant,
}

async fn batchable_tables(shared: &Shared, cache: &mut Option<BatchTables>) -> Arc<HashSet<String>> {
    let schema = shared.schema();
    if let Some(cached) = cache
        && Arc::ptr_eq(&cached.schema, &schema)
        && cached.read.elapsed() < Duration::from_secs(1)
    {
        return cached.tables.clone();
    }
    let tables = Arc::new(shared.pool.batchable_tables().await.unwrap_or_else(|err| {
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
/// (the dialects' `batchable_tables` check this for SQLite and PostgreSQL).
fn exact_key(dialect: Dialect, table: &crate::schema::Table) -> bool {
    let key = table.key_column();
    dialect != Dialect::MySql || key.ty == FieldType::Integer || key.exact_text
}

/// One dispatch's events with their `seq`, `id` and timestamp assigned.
struct Stamped {
    events: Vec<StoredEvent>,
    times: Vec<DateTime<Utc>>,
}

/// Assigns `seq`, `id` and timestamp to every event of the group (checks
/// replayed ones), taking the events out of the requests ([`unstamp`] puts
/// them back); `None`, with nothing taken, when a replayed event does not
/// follow the log.
fn stamp_group(group: &mut [Request], seq: u64, mut time: DateTime<Utc>) -> Option<Vec<Stamped>> {
    let mut next = seq;
    for request in group.iter() {
        if let Batch::Stored(events) = &request.batch {
            for event in events {
                next += 1;
                if event.seq != next || sql::parse_timestamp(&event.timestamp).is_err() {
                    return None;
                }
            }
        } else {
            next += request.batch.len() as u64;
        }
    }
    let mut seq = seq;
    let mut out = Vec::with_capacity(group.len());
    for request in group.iter_mut() {
        let n = request.batch.len() as u64;
        let stamped = match &mut request.batch {
            Batch::New(events) => {
                let mut times = Vec::with_capacity(events.len());
                let events = std::mem::take(events)
                    .into_iter()
                    .enumerate()
                    .map(|(index, event)| {
                        time = next_time(time);
                        times.push(time);
                        StoredEvent {
                            id: new_id(),
                            seq: seq + index as u64 + 1,
                            timestamp: sql::format_timestamp(time),
                            event,
                        }
                    })
                    .collect();
                Stamped { events, times }
            }
            Batch::Stored(events) => {
                let events = std::mem::take(events);
                let times = events
                    .iter()
                    .map(|e| sql::parse_timestamp(&e.timestamp).unwrap_or(time))
                    .collect();
                Stamped { events, times }
            }
        };
        if let Some(last) = stamped.times.last() {
            time = *last;
        }
        seq += n;
        out.push(stamped);
    }
    Some(out)
}

/// Puts the events [`stamp_group`] took back into their requests.
fn unstamp(group: &mut [Request], stamped: Vec<Stamped>) {
    for (request, dispatch) in group.iter_mut().zip(stamped) {
        request.batch = match request.batch {
            Batch::New(_) => Batch::New(dispatch.events.into_iter().map(|e| e.event).collect()),
            Batch::Stored(_) => Batch::Stored(dispatch.events),
        };
    }
}

/// Executes `statements` in order, making each next one while the database
/// runs the one before.
async fn pipeline(tx: &mut Tx<'_>, mut statements: impl Iterator<Item = sql::Sql>) -> Result<(), sqlx::Error> {
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
) -> Option<(Arc<DbSchema>, Vec<Changeset>)> {
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
                operation.validate(Some(&schema.schema)).ok()?;
            }
            changes.push(changeset);
            if changes.len() % REDUCE_SLICE == 0 {
                tokio::task::yield_now().await;
            }
        }
    }
    Some((schema, changes))
}

/// Writes the group with multi-row statements: the log rows while the
/// reducers run, then the operations as [`sql::batch::plan`] orders them.
/// `Ok(false)` when a dispatch is refused (what was written must be rolled
/// back, as on an error).
async fn write_fast(
    shared: &Shared,
    tx: &mut Tx<'_>,
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
            pipeline(tx, log).await
        },
        reduce_group(shared, group, stamped),
    );
    logged?;
    let Some((schema, changes)) = reduced else {
        return Ok(false);
    };
    let operations = changes
        .iter()
        .flat_map(|changeset| changeset.operations())
        .map(|operation| (&schema.tables[operation.collection()], operation));
    let steps = sql::batch::schedule(operations, |table| {
        tables.contains(&table.name) && exact_key(dialect, table)
    });
    pipeline(tx, steps.into_iter().flat_map(|step| step.statements(dialect))).await?;
    Ok(true)
}

/// The time of the next event: now, in milliseconds, never before `last`.
fn next_time(last: DateTime<Utc>) -> DateTime<Utc> {
    let now = Utc::now();
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    now.max(last)
}

/// A new event's id: a version 7 UUID — random, but ordered by creation (a
/// millisecond timestamp, then a counter), so the log's unique index on `id`
/// grows at its end like the one on `seq`. Random (v4) ids dirty a page of
/// that index per event, which made writes slow down as the log grew.
fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Event `index` of `batch` as it is stored: new events get their `seq`
/// (following `seq`), an id and a timestamp (never before `time`, which it
/// advances); replayed events are checked to follow the log.
fn stored_event(batch: &Batch, index: usize, seq: u64, time: &mut DateTime<Utc>) -> Result<StoredEvent, StoreError> {
    Ok(match batch {
        Batch::New(events) => {
            *time = next_time(*time);
            StoredEvent {
                id: new_id(),
                seq: seq + index as u64 + 1,
                timestamp: sql::format_timestamp(*time),
                event: events[index].clone(),
            }
        }
        Batch::Stored(events) => {
            let event = events[index].clone();
            if event.seq != seq + index as u64 + 1 {
                return Err(StoreError::InvalidEvent {
                    index,
                    reason: format!(
                        "replayed event has seq {}, the log expects {}",
                        event.seq,
                        seq + index as u64 + 1
                    ),
                });
            }
            *time = sql::parse_timestamp(&event.timestamp).map_err(|_| StoreError::InvalidEvent {
                index,
                reason: format!("replayed event has an invalid timestamp `{}`", event.timestamp),
            })?;
            event
        }
    })
}

/// Runs the reducer on event `index`; a panic is a `rejected` error.
fn reduce(reducer: &dyn Reducer, stored: &StoredEvent, index: usize) -> Result<Changeset, StoreError> {
    let reduced =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reducer.reduce(stored))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(CoreError::Rejected {
                event_type: stored.event_type.clone(),
                message: format!("reducer panicked: {message}"),
            })
        });
    reduced.map_err(|source| StoreError::Reducer {
        event: EventAt {
            index,
            event_type: stored.event_type.clone(),
        },
        source: Box::new(source),
    })
}

/// Writes one dispatch inside the open transaction.
async fn apply(
    shared: &Shared,
    tx: &mut Tx<'_>,
    batch: &Batch,
    seq: u64,
    last_time: DateTime<Utc>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(batch.len());
    let mut time = last_time;
    let reducer = shared.reducer();
    for index in 0..batch.len() {
        let stored = stored_event(batch, index, seq, &mut time)?;
        let at = || EventAt {
            index,
            event_type: stored.event_type.clone(),
        };
        let changeset = reduce(reducer.as_ref(), &stored, index)?;
        tx.insert_event(&stored, time)
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
            let Some(statement) = compile_operation(shared.pool.dialect(), table, operation) else {
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
        out.push(stored);
    }
    Ok(out)
}

enum Invalid {
    Core(CoreError),
    Db(sqlx::Error),
}

/// Validates `operation` against the cached schema; on an unknown collection
/// or field, re-reads the schema (a migration may have added it) and retries.
async fn validated(shared: &Shared, tx: &mut Tx<'_>, operation: &Operation) -> Result<Arc<DbSchema>, Invalid> {
    let schema = shared.schema();
    match operation.validate(Some(&schema.schema)) {
        Ok(()) => Ok(schema),
        Err(CoreError::UnknownCollection { .. } | CoreError::UnknownField { .. }) => {
            let fresh = Arc::new(tx.introspect().await.map_err(Invalid::Db)?);
            shared.set_schema(fresh.clone());
            operation.validate(Some(&fresh.schema)).map_err(Invalid::Core)?;
            Ok(fresh)
        }
        Err(err) => Err(Invalid::Core(err)),
    }
}

#[cfg(test)]
mod tests {
    use flux_capacitor::testing::conformance;
    use serde_json::{Value, json};

    use crate::{DbPool, Store};

    fn apply(ops: Value) -> Event {
        Event::new("conformance/apply", json!({ "ops": ops }))
    }

    async fn sqlite(statements: &[&str]) -> (tempfile::TempDir, DbPool) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = DbPool::connect(&url, 2).await.unwrap();
        let DbPool::Sqlite(p) = &pool else { unreachable!() };
        for statement in statements {
            sqlx::query(statement).execute(p).await.unwrap();
        }
        (dir, pool)
    }

    use super::*;

    #[tokio::test]
    async fn only_plain_tables_with_exact_keys_take_multi_row_statements() {
        let (_dir, pool) = sqlite(&[
            "CREATE TABLE plain (id TEXT PRIMARY KEY, title TEXT)",
            "CREATE TABLE ints (id INTEGER PRIMARY KEY, title TEXT)",
            "CREATE TABLE nocase (id TEXT COLLATE NOCASE PRIMARY KEY)",
            "CREATE TABLE uniq (id TEXT PRIMARY KEY, email TEXT UNIQUE)",
            "CREATE TABLE parent (id TEXT PRIMARY KEY)",
            "CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) ON DELETE CASCADE)",
            "CREATE TABLE audited (id TEXT PRIMARY KEY)",
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)",
            "CREATE TRIGGER audit_it AFTER INSERT ON audited BEGIN INSERT INTO audit (what) VALUES (new.id); END",
        ])
        .await;
        let mut tables: Vec<String> = pool.batchable_tables().await.unwrap().into_iter().collect();
        tables.sort();
        assert_eq!(tables, ["audit", "ints", "plain"]);
    }

    #[tokio::test]
    async fn a_batch_gives_what_one_statement_per_operation_gives() {
        let (_dir, pool) = sqlite(&[
            "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, n INTEGER)",
            "CREATE TABLE parent (id TEXT PRIMARY KEY)",
            "CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) ON DELETE CASCADE)",
        ])
        .await;
        let store = Store::builder(conformance::reducer()).open(pool).await.unwrap();
        // Rows created, changed, removed and created again, in one dispatch.
        let ops = json!([
            { "op": "create", "collection": "notes", "row": { "id": "a", "title": "A", "n": 1 } },
            { "op": "create", "collection": "notes", "row": { "id": "b", "title": "B" } },
            { "op": "update_by_id", "collection": "notes", "id": "a", "patch": { "title": "A2", "n": null } },
            { "op": "destroy_by_id", "collection": "notes", "id": "a" },
            { "op": "update_where", "collection": "notes", "filter": { "op": "eq", "field": "id", "value": "b" }, "patch": { "n": 7 } },
            { "op": "create", "collection": "notes", "row": { "id": "a", "title": "A3" } },
            { "op": "update_by_id", "collection": "notes", "id": "b", "patch": { "title": "B2" } },
            { "op": "create", "collection": "parent", "row": { "id": "p" } },
            { "op": "create", "collection": "child", "row": { "id": "c", "parent": "p" } },
        ]);
        let events: Vec<Event> = ops.as_array().unwrap().iter().map(|op| apply(json!([op]))).collect();
        store.dispatch_all(events).await.unwrap();
        assert_eq!(
            store.snapshot().await.unwrap(),
            json!({
                "notes": [{ "id": "a", "title": "A3" }, { "id": "b", "title": "B2", "n": 7 }],
                "parent": [{ "id": "p" }],
                "child": [{ "id": "c", "parent": "p" }],
            })
        );

        // In order, the second child refers to a removed parent: the foreign
        // key fails. Both children inserted in one statement before the parent
        // is removed would pass, then cascade away.
        let events = vec![
            apply(json!([{ "op": "create", "collection": "child", "row": { "id": "d1", "parent": "p" } }])),
            apply(json!([{ "op": "destroy_by_id", "collection": "parent", "id": "p" }])),
            apply(json!([{ "op": "create", "collection": "child", "row": { "id": "d2", "parent": "p" } }])),
        ];
        let err = store.dispatch_all(events).await.unwrap_err();
        assert_eq!(err.kind(), "database", "{err}");
        assert_eq!(err.event().map(|e| e.index), Some(2));

        // A duplicate key in a multi-row insert names its event.
        let events = vec![
            apply(json!([{ "op": "create", "collection": "notes", "row": { "id": "c" } }])),
            apply(json!([{ "op": "create", "collection": "notes", "row": { "id": "b" } }])),
        ];
        let err = store.dispatch_all(events).await.unwrap_err();
        assert_eq!(err.kind(), "duplicate_key", "{err}");
        assert_eq!(err.event().map(|e| e.index), Some(1));
        assert_eq!(store.head(), 9);
    }
}
