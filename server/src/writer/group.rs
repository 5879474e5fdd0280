//! One group's transaction: the writer's connection, the multi-row attempt
//! in a savepoint, then (if needed) one savepoint per dispatch, and the one
//! commit — or the one rollback.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flux_capacitor::StoredEvent;
use tracing::Instrument;
use uuid::Uuid;

use super::Request;
use super::fast::{BatchTables, batchable_tables, write_fast};
use super::single::apply;
use super::stamp::{stamp, stamp_group, unstamp};
use crate::sql::backend::{WriteTx, WriterConn};
use crate::store::Shared;
use crate::{EventQuery, StoreError};

pub(super) type Outcome = Result<Vec<StoredEvent>, StoreError>;

/// How long the writer keeps its connection ([`WriterConn`]) without work.
pub(super) const HOLD_IDLE: Duration = Duration::from_secs(1);

/// Why a group's transaction ends early: the outcomes decided so far, and
/// the error that ends it (the rest of the group is aborted).
struct Broken {
    outcomes: Vec<Outcome>,
    error: StoreError,
}

impl Broken {
    fn database(outcomes: Vec<Outcome>, err: sqlx::Error) -> Broken {
        Broken {
            outcomes,
            error: StoreError::database(err),
        }
    }
}

/// Marks every outcome still pending (and every successful one, whose
/// transaction is lost) as aborted by `reason`.
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

/// Every dispatch of a group failed by `err` of its transaction.
fn failed(total: usize, err: sqlx::Error) -> Vec<Outcome> {
    let reason = err.to_string();
    let mut outcomes = vec![Err(StoreError::database(err))];
    abort_all(&mut outcomes, total, &reason);
    outcomes
}

/// Writes a group of dispatches in one transaction; one outcome per request.
///
/// The transaction runs on the writer's own connection, `held` between
/// groups while dispatches keep coming (unless the pool has only one
/// connection, which readers need too); one that took part in a failure goes
/// back to the pool, which checks it.
pub(super) async fn write_group(
    shared: &Shared,
    group: &mut [Request],
    cache: &mut Option<BatchTables>,
    held: &mut Option<Box<dyn WriterConn>>,
) -> Vec<Outcome> {
    let events: usize = group.iter().map(|r| r.batch.len()).sum();
    // A dispatch with extras is written on the one-statement path.
    let tables = if events >= 2 && group.iter().all(|r| r.extras.is_none()) {
        Some(batchable_tables(shared, cache).await)
    } else {
        None
    };
    let db = shared.db();
    let keep = db.max_connections() > 1;
    if !keep {
        return write_tx(shared, db.begin_write().await, group, tables).await;
    }
    let mut outcomes = Vec::new();
    for retry in [true, false] {
        if held.is_none() {
            match db.writer_conn().await {
                Ok(conn) => *held = Some(conn),
                Err(err) => return failed(group.len(), err),
            }
        }
        let failure = {
            let Some(conn) = held.as_mut() else { continue };
            match conn.begin().await {
                Ok(tx) => {
                    outcomes = write_tx(shared, Ok(tx), group, tables.clone()).await;
                    None
                }
                Err(err) => Some(err),
            }
        };
        let Some(err) = failure else { break };
        if !retry {
            outcomes = failed(group.len(), err);
            break;
        }
        // The kept connection died while idle (nothing was written): once
        // more on a connection the pool has checked.
        tracing::debug!(error = %err, "the writer's kept connection is gone; taking another");
        *held = None;
    }
    if outcomes
        .iter()
        .any(|o| matches!(o, Err(StoreError::Database { .. } | StoreError::Aborted { .. })))
    {
        *held = None;
    }
    outcomes
}

/// Writes the group in the transaction just begun, then commits it, or
/// rolls it back when it broke.
async fn write_tx(
    shared: &Shared,
    begun: Result<Box<dyn WriteTx + '_>, sqlx::Error>,
    group: &mut [Request],
    tables: Option<Arc<HashSet<String>>>,
) -> Vec<Outcome> {
    let total = group.len();
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(err) => return failed(total, err),
    };
    match write_all(shared, &mut *tx, group, tables).await {
        Ok(outcomes) => finish(shared, tx, outcomes, total).await,
        Err(Broken { mut outcomes, error }) => {
            // Nothing to roll back when the connection is lost.
            let _ = tx.rollback().await;
            let reason = error.to_string();
            outcomes.push(Err(error));
            abort_all(&mut outcomes, total, &reason);
            outcomes
        }
    }
}

/// A group of two events or more is first written with multi-row
/// statements ([`write_fast`]) in a savepoint; if that fails in the
/// database or a dispatch is refused, the savepoint is rolled back and the
/// group is written again one statement per operation, so that the error
/// names the event and operation at fault exactly as if the fast path did
/// not exist. There each dispatch of a group of several has a savepoint of
/// its own: a failing one is undone alone and gets its error.
async fn write_all(
    shared: &Shared,
    tx: &mut dyn WriteTx,
    group: &mut [Request],
    tables: Option<Arc<HashSet<String>>>,
) -> Result<Vec<Outcome>, Broken> {
    let (mut seq, mut time) = match tx.last_event().await {
        Ok(last) => last.unwrap_or((0, DateTime::<Utc>::MIN_UTC)),
        Err(err) => {
            let error = shared.log.read_error(shared.db(), err);
            return Err(Broken {
                outcomes: Vec::new(),
                error,
            });
        }
    };
    // A log that ends before what was published is not the one followed.
    if let Err(error) = shared.log.found(shared.head.load(Ordering::SeqCst), seq) {
        return Err(Broken {
            outcomes: Vec::new(),
            error,
        });
    }
    // Under the writers' lock: ids already committed are answered, not written.
    super::ids::resolve(shared, tx, group).await.map_err(|error| Broken {
        outcomes: Vec::new(),
        error,
    })?;
    if let Some(tables) = tables
        && let Some(mut stamped) = stamp_group(group, seq, time)
    {
        let mut savepoint = tx.savepoint().await.map_err(|e| Broken::database(Vec::new(), e))?;
        let written = write_fast(shared, &mut *savepoint, group, &mut stamped, &tables).await;
        if let Ok(true) = written {
            savepoint.commit().await.map_err(|e| Broken::database(Vec::new(), e))?;
            return Ok(stamped.into_iter().map(|s| Ok(s.events)).collect());
        }
        // Refused by a reducer or the schema, or failed in the database: the
        // one-statement path below writes the group again and reports it.
        unstamp(group, stamped);
        if let Err(err) = &written {
            tracing::debug!(error = %err, "multi-row write failed; writing one statement per operation");
        }
        if savepoint.rollback().await.is_err() {
            let err = written
                .err()
                .unwrap_or_else(|| sqlx::Error::Protocol("savepoint lost".into()));
            return Err(Broken::database(Vec::new(), err));
        }
    }
    let savepoints = group.len() > 1;
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group.iter_mut() {
        let span = request.span.clone();
        let mut stamped = match stamp(&mut request.batch, seq, time) {
            Ok(stamped) => stamped,
            Err(err) => {
                outcomes.push(Err(err));
                continue;
            }
        };
        let applied = if savepoints {
            let mut savepoint = match tx.savepoint().await {
                Ok(savepoint) => savepoint,
                Err(err) => return Err(Broken::database(outcomes, err)),
            };
            let applied = apply_with(shared, &mut *savepoint, &mut stamped, request.extras.as_ref())
                .instrument(span)
                .await;
            let closed = if applied.is_ok() {
                savepoint.commit().await
            } else {
                savepoint.rollback().await
            };
            match (applied, closed) {
                (applied, Ok(())) => applied,
                (Ok(()), Err(err)) => return Err(Broken::database(outcomes, err)),
                (Err(error), Err(_)) => {
                    unstamp(std::slice::from_mut(request), vec![stamped]);
                    return Err(Broken { outcomes, error });
                }
            }
        } else {
            // Alone in its transaction: its failure ends it.
            if let Err(error) = apply_with(shared, tx, &mut stamped, request.extras.as_ref())
                .instrument(span)
                .await
            {
                unstamp(std::slice::from_mut(request), vec![stamped]);
                return Err(Broken { outcomes, error });
            }
            Ok(())
        };
        match applied {
            Ok(()) => {
                if let (Some(last), Some(at)) = (stamped.events.last(), stamped.times.last()) {
                    seq = last.seq;
                    time = *at;
                }
                outcomes.push(Ok(stamped.events));
            }
            Err(err) => {
                // A failed dispatch keeps its events: it may be written once
                // more (see `ids`).
                unstamp(std::slice::from_mut(request), vec![stamped]);
                outcomes.push(Err(err));
            }
        }
    }
    Ok(outcomes)
}

/// Writes one dispatch ([`apply`]), then its extras ([`super::extra`]).
async fn apply_with(
    shared: &Shared,
    tx: &mut dyn WriteTx,
    stamped: &mut super::stamp::Stamped,
    extras: Option<&super::Extras>,
) -> Result<(), StoreError> {
    apply(shared, tx, stamped).await?;
    match extras {
        Some(extras) => extras.run(tx).await,
        None => Ok(()),
    }
}

/// Commits the group's transaction, telling other instances of the new
/// head, or rolls it back when every dispatch failed. When the commit
/// reports an error, the outcome is unknown (the connection may have been
/// lost after the database committed): [`committed`] finds out, so that a
/// committed dispatch is never answered as failed.
async fn finish(
    shared: &Shared,
    mut tx: Box<dyn WriteTx + '_>,
    mut outcomes: Vec<Outcome>,
    total: usize,
) -> Vec<Outcome> {
    let last = outcomes
        .iter()
        .flatten()
        .filter_map(|events| events.last())
        .max_by_key(|e| e.seq)
        .map(|e| (e.seq, e.id));
    let finished = match last {
        Some((head, _)) => match tx.notify(head).await {
            Ok(()) => tx.commit().await,
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        },
        None => tx.rollback().await,
    };
    if let Err(err) = finished {
        if let Some((seq, id)) = last {
            match committed(shared, seq, id).await {
                Ok(true) => {
                    tracing::warn!(error = %err, seq, "the commit reported an error, but the group is in the log");
                    return outcomes;
                }
                Ok(false) => {}
                Err(unknown) => {
                    let reason = format!("commit failed ({err}), then the log could not be read: {unknown}");
                    tracing::error!(seq, %reason, "the commit's outcome is unknown");
                    for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                        *outcome = Err(StoreError::CommitUnknown { reason: reason.clone() });
                    }
                    abort_all(&mut outcomes, total, &reason);
                    return outcomes;
                }
            }
        }
        let reason = format!("commit failed: {err}");
        if let Some(first) = outcomes.iter_mut().find(|o| o.is_ok()) {
            *first = Err(StoreError::database(err));
        }
        abort_all(&mut outcomes, total, &reason);
    }
    outcomes
}

/// How long [`committed`] keeps trying to reach the database.
const COMMIT_CHECK: Duration = Duration::from_secs(30);

/// Whether event `seq` with `id` is in the log. It first takes the writers'
/// lock, which waits until the transaction that wrote it has ended one way
/// or the other, then reads the event; it tries again (with back-off) while
/// the database cannot be reached, for up to [`COMMIT_CHECK`].
async fn committed(shared: &Shared, seq: u64, id: Uuid) -> Result<bool, sqlx::Error> {
    let db = shared.db();
    let deadline = tokio::time::Instant::now() + COMMIT_CHECK;
    let mut backoff = Duration::from_millis(50);
    loop {
        let check = async {
            db.begin_write().await?.rollback().await?;
            let events = db.fetch_events(&EventQuery::after(seq - 1, 1)).await?;
            Ok(events.first().is_some_and(|e| e.seq == seq && e.id == id))
        };
        match check.await {
            Ok(found) => return Ok(found),
            Err(err) if tokio::time::Instant::now() + backoff < deadline => {
                tracing::warn!(error = %err, seq, "cannot tell yet whether the commit happened; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(err) => return Err(err),
        }
    }
}
