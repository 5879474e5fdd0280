//! The store's single writer task and its group commit.
//!
//! The mechanism and why are described in the crate docs, "Ordering".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Utc};
use flux_capacitor::{Error as CoreError, Event, Operation, StoredEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Interval;
use tracing::Instrument;
use uuid::Uuid;

use crate::db::WriteTx;
use crate::error::{EventAt, OperationAt};
use crate::schema::DbSchema;
use crate::sql::{self, compile_operation};
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
        let results = write_group(&shared, &group).await;
        drop(gate);
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
                        let _ = shared.live.send(Arc::from(events.as_slice()));
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

/// Writes a group of dispatches in one transaction; one outcome per request.
async fn write_group(shared: &Shared, group: &[Request]) -> Vec<Outcome> {
    let total = group.len();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    let fail_all = |err: sqlx::Error| {
        let reason = err.to_string();
        let mut outcomes = vec![Err(StoreError::database(err))];
        abort_all(&mut outcomes, total, &reason);
        outcomes
    };
    let mut tx = match shared.pool.begin_write().await {
        Ok(tx) => tx,
        Err(err) => return fail_all(err),
    };
    let (mut seq, mut last_time) = match tx.last_event().await {
        Ok(last) => last.unwrap_or((0, DateTime::<Utc>::MIN_UTC)),
        Err(err) => {
            let _ = tx.rollback().await;
            return fail_all(err);
        }
    };
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

/// The time of the next event: now, in milliseconds, never before `last`.
fn next_time(last: DateTime<Utc>) -> DateTime<Utc> {
    let now = Utc::now();
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    now.max(last)
}

/// Writes one dispatch inside the open transaction.
async fn apply(
    shared: &Shared,
    tx: &mut WriteTx,
    batch: &Batch,
    seq: u64,
    last_time: DateTime<Utc>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(batch.len());
    let mut time = last_time;
    let reducer = shared.reducer();
    for index in 0..batch.len() {
        let stored = match batch {
            Batch::New(events) => {
                time = next_time(time);
                StoredEvent {
                    id: Uuid::new_v4(),
                    seq: seq + index as u64 + 1,
                    timestamp: sql::format_timestamp(time),
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
                time = sql::parse_timestamp(&event.timestamp).map_err(|_| StoreError::InvalidEvent {
                    index,
                    reason: format!("replayed event has an invalid timestamp `{}`", event.timestamp),
                })?;
                event
            }
        };
        let at = || EventAt {
            index,
            event_type: stored.event_type.clone(),
        };
        let reduced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reducer.reduce(&stored)))
            .unwrap_or_else(|panic| {
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
        let changeset = reduced.map_err(|source| StoreError::Reducer {
            event: at(),
            source: Box::new(source),
        })?;
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
async fn validated(shared: &Shared, tx: &mut WriteTx, operation: &Operation) -> Result<Arc<DbSchema>, Invalid> {
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
