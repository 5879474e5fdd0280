//! Ordering under concurrency, on every backend: many dispatching tasks and
//! two stores ("two processes") on one database; subscriptions at the seam
//! and after lagging.

use std::collections::BTreeSet;
use std::time::Duration;

use flux_capacitor::{Event, Schema, StoredEvent};
use flux_capacitor_server::testing::{TestDb, count, for_each_backend, test_config};
use flux_capacitor_server::{Config, EventQuery, Store, SubscriptionItem};
use futures::{Stream, StreamExt};
use serde_json::json;

fn schema() -> Schema {
    serde_json::from_value(json!({ "notes": { "fields": { "id": "text", "title": "text" } } })).unwrap()
}

fn create(id: &str) -> Event {
    Event::new(
        "conformance/apply",
        json!({ "ops": [{ "op": "create", "collection": "notes", "row": { "id": id, "title": id } }] }),
    )
}

async fn open(db: &TestDb, config: Config) -> Store {
    Store::builder(flux_capacitor::testing::conformance::reducer())
        .config(config)
        .open(db.pool().await)
        .await
        .unwrap()
}

/// Reads a subscription until it has delivered `last`; returns every event
/// and whether it signalled a lag.
async fn collect_until(stream: impl Stream<Item = SubscriptionItem> + Unpin, last: u64) -> (Vec<StoredEvent>, bool) {
    let mut stream = stream;
    let mut events: Vec<StoredEvent> = Vec::new();
    let mut lagged = false;
    let collect = async {
        while events.last().is_none_or(|e| e.seq < last) {
            match stream.next().await.expect("subscription ended") {
                SubscriptionItem::Events(batch) => events.extend(batch.iter().cloned()),
                SubscriptionItem::Lagged { .. } => lagged = true,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .expect("subscriber saw every event in time");
    (events, lagged)
}

fn seqs(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_and_two_stores_give_every_event_once_in_seq_order() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let a = open(&db, test_config()).await;
        let b = open(&db, test_config()).await;
        let (sub_a, sub_b) = (a.subscribe_from(0), b.subscribe());
        const TASKS: usize = 16;
        const EACH: usize = 25;
        let total = (TASKS * EACH) as u64;
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = if task % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let id = format!("t{task:02}-{i:02}");
                    if i % 5 == 4 {
                        // Two events in one dispatch.
                        let batch = vec![create(&id), create(&format!("{id}b"))];
                        let stored = store.dispatch_all(batch).await.unwrap();
                        assert_eq!(stored[1].seq, stored[0].seq + 1);
                    } else {
                        store.dispatch(create(&id)).await.unwrap();
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let expected = total + (TASKS * EACH / 5) as u64;
        let log = a.events(EventQuery::after(0, 100_000)).await.unwrap();
        assert_eq!(
            seqs(&log),
            (1..=expected).collect::<Vec<_>>(),
            "gap-free, strictly increasing"
        );
        let ids: BTreeSet<_> = log.iter().map(|e| e.id).collect();
        assert_eq!(ids.len() as u64, expected, "every event once");
        let rows: BTreeSet<String> = log
            .iter()
            .map(|e| e.payload["ops"][0]["row"]["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(rows.len() as u64, expected);
        assert_eq!(count(&pool, "notes").await as u64, expected);
        let timestamps: Vec<&str> = log.iter().map(|e| e.timestamp.as_str()).collect();
        assert!(timestamps.windows(2).all(|w| w[0] <= w[1]), "timestamps follow seq");

        for stream in [sub_a.boxed(), sub_b.boxed()] {
            let (events, _) = collect_until(stream, expected).await;
            assert_eq!(events, log, "subscriber sees every event once, in seq order");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribe_from_has_no_gap_or_duplicate_at_the_seam() {
    for_each_backend(|db| async move {
        db.pool_with_tables(&schema()).await;
        let store = open(&db, test_config()).await;
        for i in 0..40 {
            store.dispatch(create(&format!("a{i:03}"))).await.unwrap();
        }
        let writer = tokio::spawn({
            let store = store.clone();
            async move {
                for i in 0..120 {
                    store.dispatch(create(&format!("b{i:03}"))).await.unwrap();
                }
            }
        });
        // Subscribe at several points while the writer races on.
        let mut subscriptions = Vec::new();
        for from in [0u64, 10, 25, 39] {
            subscriptions.push((from, store.subscribe_from(from)));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        writer.await.unwrap();
        for (from, stream) in subscriptions {
            let (events, _) = collect_until(stream.boxed(), 160).await;
            assert_eq!(seqs(&events), (from + 1..=160).collect::<Vec<_>>(), "from {from}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_subscriber_resumes_without_loss_and_never_blocks_dispatch() {
    for_each_backend(|db| async move {
        db.pool_with_tables(&schema()).await;
        let store = open(
            &db,
            Config {
                subscriber_buffer: 4,
                ..test_config()
            },
        )
        .await;
        let slow = store.subscribe();
        // Nobody reads `slow` while 60 dispatches go through.
        tokio::time::timeout(Duration::from_secs(60), async {
            for i in 0..60 {
                store.dispatch(create(&format!("n{i:03}"))).await.unwrap();
            }
        })
        .await
        .expect("dispatch is not blocked by a slow subscriber");
        let (events, lagged) = collect_until(slow.boxed(), 60).await;
        assert!(lagged, "the subscriber was told it lagged");
        assert_eq!(seqs(&events), (1..=60).collect::<Vec<_>>());
        assert_eq!(events, store.events(EventQuery::after(0, 1000)).await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_dispatches_in_a_commit_group_leave_the_others_intact() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(&db, test_config()).await;
        store.dispatch(create("taken")).await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                for i in 0..10 {
                    let id = format!("t{task:02}-{i}");
                    // Every third dispatch fails on its second event (duplicate key).
                    let batch = if i % 3 == 0 {
                        vec![create(&id), create("taken")]
                    } else {
                        vec![create(&id)]
                    };
                    match store.dispatch_all(batch).await {
                        Ok(_) => ok += 1,
                        Err(err) => assert_eq!(err.kind(), "duplicate_key", "{err}"),
                    }
                }
                ok
            }));
        }
        let mut succeeded = 0;
        for task in tasks {
            succeeded += task.await.unwrap();
        }
        assert_eq!(succeeded, 32 * 6);
        let log = store.events(EventQuery::after(0, 100_000)).await.unwrap();
        assert_eq!(seqs(&log), (1..=1 + 32 * 6).collect::<Vec<_>>());
        assert_eq!(count(&pool, "notes").await, 1 + 32 * 6);
    })
    .await;
}
