//! Client-chosen event ids on every backend: an id is committed at most
//! once — from 8 concurrent dispatchers, from two stores (writers) on one
//! database, after the store is opened again — and a resend is answered with
//! the stored event; other content under a committed id is `id_conflict`.

use std::time::Duration;

use flux_capacitor::{Event, Schema, StoredEvent};
use flux_capacitor_server::testing::{TestDb, count, for_each_backend, test_config};
use flux_capacitor_server::{Context, DbPool, Dialect, EventQuery, Store, SubscriptionItem};
use futures::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

fn schema() -> Schema {
    serde_json::from_value(json!({ "notes": { "fields": { "id": "text", "title": "text" } } })).unwrap()
}

fn create(id: &str, title: &str) -> Event {
    Event::new(
        "conformance/apply",
        json!({ "ops": [{ "op": "create", "collection": "notes", "row": { "id": id, "title": title } }] }),
    )
}

async fn open(db: &TestDb) -> Store {
    Store::builder(flux_capacitor::testing::conformance::reducer())
        .config(test_config())
        .open(db.pool().await)
        .await
        .unwrap()
}

async fn log(store: &Store) -> Vec<StoredEvent> {
    store.events(EventQuery::after(0, 1000)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_id_from_eight_dispatchers_and_two_stores_commits_once() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let (a, b) = (open(&db).await, open(&db).await);
        for round in 0..5 {
            let id = Uuid::now_v7();
            let event = create(&format!("n{round}"), "same").with_id(id);
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let event = event.clone();
                    tokio::spawn(async move { store.dispatch(event).await })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap().expect("every dispatcher is answered"));
            }
            let stored: Vec<StoredEvent> = log(&a).await.into_iter().filter(|e| e.id == id).collect();
            assert_eq!(stored.len(), 1, "{}: one row in the log for round {round}", db.name());
            assert!(answers.iter().all(|answer| *answer == stored[0]), "{answers:?}");
            assert_eq!(stored[0].event.id, None, "the id is the stored event's own");
        }
        let pool = db.pool().await;
        assert_eq!(count(&pool, "flux_events").await, 5);
        assert_eq!(count(&pool, "notes").await, 5, "one change per id");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_is_answered_from_the_log_even_after_reopening() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let id = Uuid::now_v7();
        let first = {
            let store = open(&db).await;
            let mut live = store.subscribe();
            let first = store.dispatch(create("a", "A").with_id(id)).await.unwrap();
            assert_eq!(first.id, id);
            // The live feed carries the id.
            match tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .unwrap()
            {
                Some(SubscriptionItem::Events(events)) => assert_eq!(events.to_vec(), vec![first.clone()]),
                other => panic!("expected the committed event, got {other:?}"),
            }
            first
        };
        let store = open(&db).await;
        let mut live = store.subscribe();
        // The same event, its numbers and keys written otherwise: the same.
        let again = Event::new(
            "conformance/apply",
            json!({ "ops": [{ "collection": "notes", "op": "create", "row": { "title": "A", "id": "a" } }] }),
        );
        assert_eq!(store.dispatch(again.with_id(id)).await.unwrap(), first);
        // Another request of the same user: its request id is not compared.
        let ctx = Context {
            request_id: Some("retry-2".into()),
            ..Context::default()
        };
        let answered = store
            .dispatch_all_with(vec![create("a", "A").with_id(id)], &ctx)
            .await
            .unwrap();
        assert_eq!(answered, vec![first.clone()]);
        assert_eq!(log(&store).await, vec![first.clone()], "nothing written twice");
        // Nothing published for an answer from the log: the next item is the next commit.
        let next = store.dispatch(create("b", "B")).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .unwrap()
        {
            Some(SubscriptionItem::Events(events)) => assert_eq!(events.to_vec(), vec![next]),
            other => panic!("expected the next commit only, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_content_under_a_committed_id_is_a_conflict_and_writes_nothing() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = open(&db).await;
        let id = Uuid::now_v7();
        let first = store.dispatch(create("a", "A").with_id(id)).await.unwrap();
        let conflicts = [
            create("a", "changed"),
            create("a", "A").with_meta(json!({ "user": "george" })),
            Event::new("other", Value::Null),
        ];
        for other in conflicts {
            let batch = vec![create("fresh", "F"), other.with_id(id)];
            let err = store.dispatch_all(batch).await.unwrap_err();
            assert_eq!(err.kind(), "id_conflict", "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&id.to_string()) && message.starts_with("event #1"),
                "{message}"
            );
        }
        assert_eq!(
            log(&store).await,
            vec![first],
            "nothing of a refused dispatch is written"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_its_new_events_and_answers_the_committed_ones_in_order() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = open(&db).await;
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let events: Vec<Event> = ["a", "b", "c", "d"]
            .iter()
            .zip(&ids)
            .map(|(key, id)| create(key, key).with_id(*id))
            .collect();
        // b and d were committed, the answer to that dispatch lost.
        let earlier = store
            .dispatch_all(vec![events[1].clone(), events[3].clone()])
            .await
            .unwrap();
        let answer = store.dispatch_all(events.clone()).await.unwrap();
        assert_eq!(
            answer.iter().map(|e| e.id).collect::<Vec<_>>(),
            ids,
            "in the order sent"
        );
        assert_eq!(
            (answer[1].clone(), answer[3].clone()),
            (earlier[0].clone(), earlier[1].clone())
        );
        assert_eq!(
            (answer[0].seq, answer[2].seq),
            (3, 4),
            "only the new ones are written, in order"
        );
        assert_eq!(log(&store).await.len(), 4);
        // The whole batch again: all answered, nothing written.
        assert_eq!(store.dispatch_all(events).await.unwrap(), answer);
        assert_eq!(count(&db.pool().await, "notes").await, 4);
        assert_eq!(store.events_by_id(&ids).await.unwrap().len(), 4);
    })
    .await;
}

#[tokio::test]
async fn ids_that_are_nil_repeated_or_not_uuids_are_invalid_events() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = open(&db).await;
        let id = Uuid::now_v7();
        let err = store
            .dispatch_all(vec![create("a", "A").with_id(id), create("b", "B").with_id(id)])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_event");
        assert!(err.to_string().contains("also the id of event #0"), "{err}");
        let err = store.dispatch(create("a", "A").with_id(Uuid::nil())).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_event");
        assert!(err.to_string().contains("nil UUID"), "{err}");
        let ctx = Context::default();
        for (id, says) in [
            (json!("not-a-uuid"), "`id` must be a UUID, got `not-a-uuid`"),
            (json!(42), "`id` must be a UUID string, got a number"),
        ] {
            let wire = json!({ "type": "conformance/apply", "payload": null, "id": id });
            let err = store.dispatch_json(vec![wire], &ctx).await.unwrap_err();
            assert_eq!(err.kind(), "invalid_event");
            assert!(err.to_string().contains(says), "{err}");
        }
        let wire = json!({ "type": "conformance/apply", "payload": { "ops": [] }, "id": id.to_string() });
        let stored = store.dispatch_json(vec![wire], &ctx).await.unwrap();
        assert_eq!(stored[0].id, id, "the wire form's id is taken");
        assert_eq!(log(&store).await.len(), 1);
    })
    .await;
}

/// The log row of `event` under `id` at `seq` 1, as another writer that does
/// not take the writers' lock would write it, for `dialect`.
fn raw_log_row(dialect: Dialect, id: Uuid, event: &Event) -> String {
    let payload = event.payload.to_string().replace('\'', "''");
    let (id, timestamp, error) = match dialect {
        Dialect::Postgres => (format!("'{id}'::uuid"), "'2026-11-30T10:00:00Z'::timestamptz", "FALSE"),
        Dialect::MySql => (format!("'{id}'"), "'2026-11-30 10:00:00.000'", "FALSE"),
        _ => (format!("'{id}'"), "'2026-11-30T10:00:00.000Z'", "0"),
    };
    format!(
        "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp) \
         VALUES (1, {id}, '{}', '{payload}', NULL, {error}, {timestamp})",
        event.event_type
    )
}

/// Another writer commits the id while the store's dispatch of it waits:
/// on PostgreSQL and MariaDB the store's insert waits on the unique index and
/// fails on it, and the dispatch, written once more, is answered with the
/// committed event (the backstop); on SQLite the other writer holds the
/// database, and the store's look finds the id once it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_committed_by_a_writer_outside_the_lock_is_answered_not_failed() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        db.create_tables(&pool, &schema()).await;
        let store = open(&db).await;
        let id = Uuid::now_v7();
        let event = create("a", "A");
        let row = raw_log_row(pool.dialect(), id, &event);
        let note = "INSERT INTO notes (id, title) VALUES ('a', 'A')";
        macro_rules! race {
            ($pool:expr, $begin:expr) => {{
                let mut conn = $pool.acquire().await.unwrap();
                sqlx::query($begin).execute(&mut *conn).await.unwrap();
                sqlx::query(&row).execute(&mut *conn).await.unwrap();
                sqlx::query(note).execute(&mut *conn).await.unwrap();
                let dispatch = tokio::spawn({
                    let (store, event) = (store.clone(), event.clone());
                    async move { store.dispatch(event.with_id(id)).await }
                });
                tokio::time::sleep(Duration::from_millis(500)).await;
                assert!(!dispatch.is_finished(), "the dispatch waits for the other writer");
                sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
                dispatch.await.unwrap()
            }};
        }
        let answer = match &pool {
            DbPool::Sqlite(p) => race!(p, "BEGIN IMMEDIATE"),
            DbPool::Postgres(p) => race!(p, "BEGIN"),
            DbPool::MySql(p) => race!(p, "BEGIN"),
            _ => unreachable!("a backend the tests do not run on"),
        };
        let answer = answer.expect("answered with the committed event");
        assert_eq!((answer.id, answer.seq, answer.event.clone()), (id, 1, event));
        assert_eq!(log(&store).await, vec![answer], "{}", db.name());
        assert_eq!(count(&pool, "notes").await, 1);
    })
    .await;
}
