//! The store's single writer task and its group commit: dispatches queue
//! up, the writer takes every one waiting (up to `max_group`) and writes
//! them in one transaction, then answers each and publishes the committed
//! events. The mechanism and why are described in the crate docs, "Ordering".
//!
//! * this module: the queue, grouping, publishing, polling for other
//!   processes' events;
//! * [`group`]: one group's transaction;
//! * [`fast`]: the multi-row path; [`single`]: the one-statement path;
//! * [`stamp`]: `seq`, id and timestamp of each event;
//! * [`ids`]: client-chosen ids, each committed at most once;
//! * [`extra`]: statements written with a dispatch (sagas).

mod extra;
mod fast;
mod group;
mod ids;
mod single;
mod stamp;
mod tail;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use flux_capacitor::{Changeset, Event, Reducer, StoredEvent};
use tokio::sync::{mpsc, oneshot};

use crate::error::EventAt;
use crate::reduce::run_reducer;
use crate::sql::backend::WriterConn;
use crate::store::Shared;
use crate::{EventQuery, StoreError};
pub(crate) use extra::Extras;
use fast::BatchTables;
pub(crate) use fast::{exact_key, pipeline};
use tail::{Tail, Wake};

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
    /// Events of the dispatch found in the log by their client-chosen id
    /// ([`ids`]), with their position in the dispatch: answered as stored.
    known: Vec<(usize, StoredEvent)>,
    /// Why the dispatch is refused before anything is written (`id_conflict`).
    refused: Option<StoreError>,
    /// Whether it is being written once more after failing on a unique index.
    retried: bool,
    /// Statements written with it, in its transaction ([`extra`]).
    pub extras: Option<Extras>,
}

impl Request {
    /// A dispatch of `batch`, answered on `reply`.
    pub(crate) fn new(batch: Batch, reply: Reply, span: tracing::Span) -> Self {
        Request {
            batch,
            reply,
            span,
            known: Vec::new(),
            refused: None,
            retried: false,
            extras: None,
        }
    }
}

/// Runs until every [`Store`](crate::Store) handle is dropped.
pub(crate) async fn run(shared: Arc<Shared>, mut requests: mpsc::Receiver<Request>) {
    let config = &shared.config;
    let mut tail = Tail::start(&shared.pool, config.poll_min_interval, config.poll_interval);
    let mut batchable = None;
    let mut held: Option<Box<dyn WriterConn>> = None;
    let mut release_at = tokio::time::Instant::now();
    // Dispatches put off to a later group (see `ids`), written first.
    let mut deferred: VecDeque<Request> = VecDeque::new();
    loop {
        let first = if let Some(request) = deferred.pop_front() {
            request
        } else {
            tokio::select! {
            request = requests.recv() => match request {
                Some(request) => request,
                None => break,
            },
            wake = tail.wait() => {
                let found = match wake {
                    // Our own commits come back too: they are published already.
                    Wake::Heard(head) if head <= shared.head.load(Ordering::SeqCst) => false,
                    Wake::Heard(_) | Wake::Poll | Wake::Reconnected => publish_external(&shared).await,
                };
                tail.checked(found);
                continue;
            }
            () = tokio::time::sleep_until(release_at), if held.is_some() => {
                held = None;
                continue;
            }
            }
        };
        let mut group = vec![first];
        while group.len() < shared.config.max_group.max(1) {
            if let Some(request) = deferred.pop_front() {
                group.push(request);
                continue;
            }
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let (mut group, later) = ids::split_repeats(group);
        for request in later.into_iter().rev() {
            deferred.push_front(request);
        }
        let started = Instant::now();
        let gate = shared.write_gate.lock().await;
        let mut results = group::write_group(&shared, &mut group, &mut batchable, &mut held).await;
        drop(gate);
        if results.iter().any(|r| matches!(r, Err(e) if database_gone(&shared, e))) {
            after_database_failure(&shared, &mut results, &mut batchable).await;
        }
        let committed: Vec<usize> = results.iter().flatten().map(Vec::len).collect();
        let failed = results.len() - committed.len();
        let events = committed.iter().sum();
        shared.metrics.group(committed.len(), failed, events, started.elapsed());
        release_at = tokio::time::Instant::now() + group::HOLD_IDLE;
        tail.active();
        for (mut request, result) in group.into_iter().zip(results) {
            if !request.retried
                && matches!(&result, Err(err) if ids::unique_violation(err))
                && ids::client_ids(&request.batch).next().is_some()
            {
                // Maybe its id was committed by a writer that did not look
                // first: the next group's look answers it.
                tracing::debug!("dispatch failed on a unique index: writing it once more");
                request.retried = true;
                deferred.push_back(request);
                continue;
            }
            if !request.retried && matches!(&result, Err(err) if crate::versions::just_made(err)) {
                // MySQL/MariaDB: a new table's versions were made outside the
                // transaction, which could not see them; the next one does.
                tracing::debug!("row versions of a new table made: writing the dispatch once more");
                request.retried = true;
                deferred.push_back(request);
                continue;
            }
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
                    }
                }
                Err(err) => tracing::debug!(kind = err.kind(), error = %err, "rolled back"),
            }
            let answer = ids::answer(std::mem::take(&mut request.known), request.refused.take(), result);
            drop(_enter);
            let _ = request.reply.send(answer);
        }
    }
}

/// Whether `err` may mean the database (or its tables) went away under the
/// store, rather than one dispatch's own failure: a database error outside
/// any event (beginning, locking, reading the log, committing), or a
/// missing table anywhere; or the log found missing or replaced.
fn database_gone(shared: &Shared, err: &StoreError) -> bool {
    match err {
        StoreError::Database { event: None, .. } | StoreError::LogMissing | StoreError::LogReplaced { .. } => true,
        StoreError::Database { source, .. } => shared.db().is_missing(source),
        _ => false,
    }
}

/// After a group failed in the database, whether the log is still there and
/// still the one followed ([`crate::log_guard`]). When it is not, every
/// dispatch of the group that failed in the database (nothing of which was
/// written) is answered so: [`StoreError::LogMissing`] or
/// [`StoreError::LogReplaced`]. When it is, the database may have been created
/// again under the store: the read model's schema is read again, and which
/// tables take multi-row statements is found again on the next group.
async fn after_database_failure(shared: &Shared, results: &mut [group::Outcome], batchable: &mut Option<BatchTables>) {
    let verdict = match shared.db().last_seq().await {
        Ok(found) => shared.log.found(shared.head.load(Ordering::SeqCst), found),
        Err(err) => Err(shared.log.read_error(shared.db(), err)),
    };
    let answer = match verdict {
        Err(StoreError::LogMissing) => StoreError::LogMissing,
        Err(StoreError::LogReplaced { published, found }) => StoreError::LogReplaced { published, found },
        _ => {
            *batchable = None;
            match shared.db().introspect().await {
                Ok(schema) => shared.set_schema(Arc::new(schema)),
                Err(err) => tracing::debug!(error = %err, "re-reading the schema after a failed write failed"),
            }
            return;
        }
    };
    for result in results.iter_mut() {
        if matches!(result, Err(StoreError::Database { .. } | StoreError::Aborted { .. })) {
            *result = Err(match &answer {
                StoreError::LogReplaced { published, found } => StoreError::LogReplaced {
                    published: *published,
                    found: *found,
                },
                _ => StoreError::LogMissing,
            });
        }
    }
}

/// Publishes events other processes committed since the last published
/// `seq`; whether there were any. Nothing once the log was found replaced:
/// its events are not the ones subscribers have been following.
async fn publish_external(shared: &Shared) -> bool {
    if shared.log.check().is_err() {
        return false;
    }
    let mut found = false;
    loop {
        let after = shared.head.load(Ordering::SeqCst);
        let query = EventQuery::after(after, shared.config.replay_page as u64);
        match shared.db().fetch_events(&query).await {
            Ok(events) if !events.is_empty() => {
                found = true;
                let full = events.len() >= shared.config.replay_page;
                if let Some(last) = events.last() {
                    shared.head.fetch_max(last.seq, Ordering::SeqCst);
                }
                tracing::debug!(events = events.len(), after, "published other instances' events");
                shared.metrics.external(events.len());
                let _ = shared.live.send(Arc::from(events));
                if !full {
                    return found;
                }
            }
            Ok(_) => return found,
            Err(err) => {
                tracing::warn!(error = %err, "reading other instances' events from the log failed");
                return found;
            }
        }
    }
}

/// Runs the reducer on event `index` of a dispatch; a refusal or a panic is
/// a `reducer` error naming the event, and so is a changeset holding a value
/// outside the portable domain (`unsupported_value`, checked for the whole
/// changeset before any of it is written, as `MemoryDatabase` does). The
/// changeset comes back with its numbers in canonical form.
fn reduce(reducer: &dyn Reducer, stored: &StoredEvent, index: usize) -> Result<Changeset, StoreError> {
    let fail = |source| StoreError::Reducer {
        event: EventAt {
            index,
            event_type: stored.event_type.clone(),
        },
        source: Box::new(source),
    };
    let changeset = run_reducer(reducer, stored).map_err(fail)?;
    changeset.check_domain().map_err(fail)?;
    Ok(match changeset.canonical() {
        std::borrow::Cow::Borrowed(_) => changeset,
        std::borrow::Cow::Owned(canonical) => canonical,
    })
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
        for statement in statements {
            let sql = crate::sql::Sql::fixed(pool.dialect(), *statement);
            pool.backend().execute(&sql).await.unwrap();
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
        let mut tables: Vec<String> = pool.backend().batchable_tables().await.unwrap().into_iter().collect();
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
