//! The changeset hash the store attaches to every event it applies (issue
//! 12, determinism): on SQLite, PostgreSQL and MariaDB, each stored event's
//! `hash` is `changeset_hash` of the changeset the reducer gives for it —
//! on the one-statement path and the multi-row one, in the log, in the
//! dispatch's answer, on the live feed, over `GET /events` and the
//! WebSocket; replay recomputes it; a log made before hashes opens, its old
//! events without one.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, Reducer, Schema, StoredEvent, changeset_hash};
use flux_capacitor_server::http::{HttpConfig, app};
use flux_capacitor_server::testing::{TestDb, count, execute, for_each_backend, test_config};
use flux_capacitor_server::{Dialect, EventQuery, Store, SubscriptionItem};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

fn schema() -> Schema {
    serde_json::from_value(json!({ "notes": { "fields": { "id": "text", "title": "text", "n": "integer" } } })).unwrap()
}

fn apply(ops: Value) -> Event {
    Event::new("conformance/apply", json!({ "ops": ops }))
}

/// Events of every kind: creates, updates, deletes, several operations in
/// one, and one no reducer knows (an empty changeset).
fn events(round: usize) -> Vec<Event> {
    let id = |i: usize| format!("r{round}-{i}");
    vec![
        apply(json!([{ "op": "create", "collection": "notes", "row": { "id": id(0), "title": "a", "n": 1 } }])),
        apply(json!([
            { "op": "create", "collection": "notes", "row": { "id": id(1), "title": "b", "n": 2.0 } },
            { "op": "update_by_id", "collection": "notes", "id": id(0), "patch": { "title": "a2" } },
        ])),
        Event::new("nobody/knows", json!({ "x": round })),
        apply(json!([{ "op": "destroy_by_id", "collection": "notes", "id": id(1) }])),
        apply(json!([{ "op": "update_by_id", "collection": "notes", "id": id(0), "patch": { "n": round } }])),
    ]
}

async fn open(db: &TestDb) -> Store {
    Store::builder(conformance::reducer())
        .config(test_config())
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// The hash of the changeset the reducer gives for `event` (as a reducer
/// sees it: without a hash).
fn expected(event: &StoredEvent) -> String {
    let mut event = event.clone();
    event.hash = None;
    changeset_hash(&conformance::reducer().reduce(&event).expect("the reducer takes it"))
}

fn assert_hashed(events: &[StoredEvent], what: &str) {
    for event in events {
        assert_eq!(
            event.hash.as_deref(),
            Some(expected(event).as_str()),
            "{what}: event {} ({})",
            event.seq,
            event.event_type
        );
    }
}

async fn log(store: &Store) -> Vec<StoredEvent> {
    store.events(EventQuery::after(0, 1000)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_carries_the_hash_of_the_changeset_applied_on_both_paths() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = open(&db).await;
        let mut live = store.subscribe();
        let mut answered = Vec::new();
        // One event a dispatch, one at a time: the one-statement path.
        for event in events(0) {
            answered.push(store.dispatch(event).await.unwrap());
        }
        // A dispatch of several: the multi-row path.
        answered.extend(store.dispatch_all(events(1)).await.unwrap());
        // Concurrent dispatches, grouped by the writer; one of them is
        // refused (a duplicate key), so its group is written again one
        // statement per operation.
        let tasks: Vec<_> = (2..8)
            .map(|round| {
                let store = store.clone();
                tokio::spawn(async move { store.dispatch_all(events(round)).await })
            })
            .chain([{
                let store = store.clone();
                tokio::spawn(async move { store.dispatch_all(events(2)).await })
            }])
            .collect();
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(events) => answered.extend(events),
                Err(err) => {
                    assert!(err.to_string().contains("r2-0"), "{err}");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 1, "{}: round 2 goes in once", db.name());
        answered.sort_by_key(|e| e.seq);
        assert_eq!(answered.len(), 40);
        assert_hashed(&answered, "the dispatch's answer");
        // The empty changeset has a hash too, and it differs from the others'.
        let empty = changeset_hash(&flux_capacitor::Changeset::default());
        assert_eq!(answered[2].hash.as_deref(), Some(empty.as_str()));
        assert_ne!(answered[0].hash, answered[1].hash);

        // The log holds them: what `events` reads is what was answered.
        assert_eq!(log(&store).await, answered, "{}", db.name());
        let pool = db.pool().await;
        let missing = "(SELECT * FROM flux_events WHERE changeset_hash IS NULL) AS missing";
        assert_eq!(count(&pool, missing).await, 0, "{}: every row has its hash", db.name());

        // The live feed carried them.
        let mut pushed = Vec::new();
        while pushed.len() < answered.len() {
            match tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .unwrap()
            {
                Some(SubscriptionItem::Events(events)) => pushed.extend(events.iter().cloned()),
                other => panic!("expected events, got {other:?}"),
            }
        }
        assert_eq!(pushed, answered, "{}: the live feed", db.name());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_writes_the_hash_of_the_current_reducers_changeset() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let source = TestDb::new(Dialect::Sqlite).await;
        source.create_tables(&source.pool().await, &schema()).await;
        let original = Store::builder(conformance::reducer())
            .open(source.pool().await)
            .await
            .unwrap();
        original.dispatch_all(events(0)).await.unwrap();
        // Hashes a replay must not trust: wrong, and missing.
        let mut replayed = log(&original).await;
        for (i, event) in replayed.iter_mut().enumerate() {
            event.hash = (i % 2 == 0).then(|| "0123456789abcdef".to_string());
        }
        let store = open(&db).await;
        let answered = store.replay(replayed).await.unwrap();
        assert_hashed(&answered, "replay's answer");
        assert_eq!(log(&store).await, answered, "{}", db.name());
        source.drop_db().await;
    })
    .await;
}

/// Drops the hash column, as a log made before the store kept hashes lacks it.
async fn drop_hash_column(db: &TestDb) {
    execute(&db.pool().await, "ALTER TABLE flux_events DROP COLUMN changeset_hash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_made_before_hashes_gets_the_column_and_keeps_its_old_events_without_one() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        {
            let store = open(&db).await;
            store.dispatch_all(events(0)).await.unwrap();
        }
        drop_hash_column(&db).await;
        // Two instances opening at once: one adds the column, the other finds it.
        let (a, b) = tokio::join!(open(&db), open(&db));
        let old = log(&a).await;
        assert_eq!(old.len(), 5);
        assert!(
            old.iter().all(|e| e.hash.is_none()),
            "{}: old rows keep none",
            db.name()
        );
        let new = b.dispatch_all(events(1)).await.unwrap();
        assert_hashed(&new, "after the column was added");
        let all = log(&a).await;
        assert_eq!(all[..5], old[..]);
        assert_eq!(all[5..], new[..]);
        // Old events without a hash are left out of the wire form.
        let wire = serde_json::to_value(&all[0]).unwrap();
        assert!(wire.get("hash").is_none(), "{wire}");
        assert_eq!(serde_json::to_value(&all[5]).unwrap()["hash"], json!(new[0].hash));
        drop((a, b));
        // And it opens again.
        let again = open(&db).await;
        assert_eq!(log(&again).await, all);
    })
    .await;
}

async fn get(router: &Router, uri: &str) -> Value {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_and_the_websocket_carry_the_hash() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = open(&db).await;
        let router = app(store.clone(), HttpConfig::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = router.clone();
        tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });

        let first = store.dispatch_all(events(0)).await.unwrap();
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/events/live?after=0"))
            .await
            .unwrap();
        let second = store.dispatch_all(events(1)).await.unwrap();
        let all: Vec<StoredEvent> = first.into_iter().chain(second).collect();
        let wire = |events: &[StoredEvent]| -> Vec<Value> {
            events
                .iter()
                .map(|e| {
                    let value = serde_json::to_value(e).unwrap();
                    assert_eq!(value["hash"], json!(expected(e)), "{value}");
                    value
                })
                .collect()
        };

        assert_eq!(get(&router, "/events").await, json!(wire(&all)), "{}", db.name());

        // Catch-up, then live: every event with its hash.
        let mut pushed: Vec<Value> = Vec::new();
        while pushed.len() < all.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("a batch within 10 s")
                .expect("socket open")
                .expect("valid frame");
            if let Message::Text(text) = message {
                pushed.extend(serde_json::from_str::<Vec<Value>>(&text).unwrap());
            }
        }
        assert_eq!(pushed, wire(&all), "{}", db.name());
    })
    .await;
}
