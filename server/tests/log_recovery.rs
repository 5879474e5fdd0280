//! A database dropped under a running store, on SQLite, PostgreSQL and
//! MariaDB: while the log is missing every dispatch is `log_missing` (503)
//! and writes nothing; a log restored with every published event is taken
//! up again by itself; a new log that ends before what the store published
//! makes it refuse every dispatch (`log_replaced`, `/ready` 503 with the
//! reason) and publish nothing, until it is opened again.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, aggregate_reducers, boxed, restore};
use flux_capacitor_server::http::{HttpConfig, app};
use flux_capacitor_server::testing::{TestDb, execute, for_each_backend, test_config, tracker_schema};
use flux_capacitor_server::{DbPool, Store, StoreError, SubscriptionItem, command_fn};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn open(pool: &DbPool) -> Store {
    let reducer = aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]);
    Store::builder(reducer)
        .config(test_config())
        .command(
            "addIssue",
            command_fn(|_store, payload, _ctx| async move { Ok(vec![Event::new("addIssue", payload)]) }),
        )
        .open(pool.clone())
        .await
        .expect("open store")
}

fn add(id: &str) -> Event {
    Event::new(
        "addIssue",
        json!({ "id": id, "title": format!("Issue {id}"), "author": "mary" }),
    )
}

async fn call(store: &Store, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app(store.clone(), HttpConfig::default())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The next batch's `seq`s, or `None` when none comes within a while.
async fn next_seqs(live: &mut flux_capacitor_server::Subscription) -> Option<Vec<u64>> {
    match tokio::time::timeout(Duration::from_millis(400), live.next()).await {
        Ok(Some(SubscriptionItem::Events(events))) => Some(events.iter().map(|e| e.seq).collect()),
        Ok(other) => panic!("unexpected {other:?}"),
        Err(_) => None,
    }
}

async fn rename(pool: &DbPool, from: &str, to: &str) {
    execute(pool, &format!("ALTER TABLE {from} RENAME TO {to}")).await;
}

async fn recovers_or_says_restart(db: TestDb) {
    let pool = db.pool_with_tables(&tracker_schema()).await;
    let store = open(&pool).await;
    let mut live = store.subscribe();
    store.dispatch_all(vec![add("1"), add("2")]).await.unwrap();
    assert_eq!(next_seqs(&mut live).await, Some(vec![1, 2]));

    // The log and a table of the read model go away (a database dropped).
    rename(&pool, "flux_events", "flux_events_saved").await;
    rename(&pool, "issues", "issues_saved").await;
    let missing = store.dispatch(add("3")).await.unwrap_err();
    assert!(matches!(missing, StoreError::LogMissing), "{missing}");
    assert_eq!(missing.kind(), "log_missing");
    let missing = store.dispatch_all(vec![add("3"), add("4")]).await.unwrap_err();
    assert!(matches!(missing, StoreError::LogMissing), "{missing}");
    assert!(matches!(
        store.events(Default::default()).await,
        Err(StoreError::LogMissing)
    ));
    let health = store.health().await;
    assert!(!health.ready() && !health.database && health.log, "{health:?}");
    assert!(
        health.error.as_deref().unwrap().contains("event log is missing"),
        "{health:?}"
    );
    let issue = json!({ "id": "3", "title": "T", "author": "mary" }).to_string();
    let (status, body) = call(&store, "POST", "/dispatch/addIssue", &issue).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("log_missing"))
    );
    let (status, body) = call(&store, "GET", "/ready", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(next_seqs(&mut live).await, None);

    // They come back with every event the store published: it goes on by itself.
    rename(&pool, "flux_events_saved", "flux_events").await;
    rename(&pool, "issues_saved", "issues").await;
    let stored = store.dispatch(add("3")).await.unwrap();
    assert_eq!(stored.seq, 3);
    assert_eq!(next_seqs(&mut live).await, Some(vec![3]));
    let stored = store.dispatch_all(vec![add("4"), add("5")]).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(next_seqs(&mut live).await, Some(vec![4, 5]));
    assert!(store.health().await.ready());
    assert_eq!(
        store.find_by_id("issues", "5").await.unwrap().unwrap()["title"],
        "Issue 5"
    );

    // The log dropped and created again, empty (another instance starting on
    // the recreated database does that): the new log's seqs would be ones
    // subscribers have seen, so the store refuses, and says to restart.
    execute(&pool, "DROP TABLE flux_events").await;
    execute(&pool, "DELETE FROM issues").await;
    let other = open(&pool).await;
    assert_eq!(other.dispatch(add("a")).await.unwrap().seq, 1);
    let refused = store.dispatch(add("6")).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::LogReplaced { published: 5, found: 1 }),
        "{refused}"
    );
    assert_eq!(refused.kind(), "log_replaced");
    assert!(refused.to_string().contains("restart the service"), "{refused}");
    // Even once the new log has grown past what was published: refused, and
    // none of its events reach this store's subscribers.
    other
        .dispatch_all((0..6).map(|n| add(&format!("b{n}"))).collect())
        .await
        .unwrap();
    let refused = store.dispatch(add("6")).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::LogReplaced { published: 5, found: 1 }),
        "{refused}"
    );
    assert_eq!(next_seqs(&mut live).await, None);
    let health = store.health().await;
    assert!(health.database && !health.log && !health.ready(), "{health:?}");
    assert!(health.error.as_deref().unwrap().contains("restart"), "{health:?}");
    let (status, body) = call(&store, "GET", "/ready", "").await;
    assert_eq!(
        (status, body["log"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!(false))
    );
    assert!(body["error"].as_str().unwrap().contains("replaced"), "{body}");
    let issue = json!({ "id": "6", "title": "T", "author": "mary" }).to_string();
    let (status, body) = call(&store, "POST", "/dispatch/addIssue", &issue).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("log_replaced"))
    );
    assert_eq!(other.head(), 7, "nothing written by the refused store");

    // Restarted (opened again): it follows the new log.
    drop(store);
    let restarted = open(&pool).await;
    assert!(restarted.health().await.ready());
    assert_eq!(restarted.dispatch(add("7")).await.unwrap().seq, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_when_its_log_comes_back_or_says_to_restart() {
    for_each_backend(recovers_or_says_restart).await;
}
