//! Several stores (instances) on one database: each publishes the others'
//! commits to its own subscribers — exactly once, in `seq` order — by
//! `NOTIFY` on PostgreSQL and by the adaptive tail elsewhere, also after the
//! listener's connection is killed.

use std::time::Duration;

use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, StoredEvent};
use flux_capacitor_server::testing::{TestDb, for_each_backend, tracker_schema};
use flux_capacitor_server::{Config, DbPool, Dialect, Store, Subscription, SubscriptionItem};
use futures::StreamExt;
use serde_json::json;

fn add(id: String) -> Event {
    Event::new(
        "conformance/apply",
        json!({ "ops": [{ "op": "create", "collection": "issues", "row": { "id": id } }] }),
    )
}

async fn instance(db: &TestDb, config: Config) -> Store {
    Store::builder(conformance::reducer())
        .config(config)
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// Receives `count` events from `subscription`, failing after `within`.
async fn receive(subscription: &mut Subscription, count: usize, within: Duration) -> Vec<StoredEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while seen.len() < count {
        let item = tokio::time::timeout_at(deadline, subscription.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived in {within:?}", seen.len()));
        if let SubscriptionItem::Events(events) = item.expect("the subscription ended") {
            seen.extend(events.iter().cloned());
        }
    }
    seen
}

fn assert_exactly_once_in_order(events: &[StoredEvent], first: u64) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (first..first + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event once, in seq order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_publishes_the_others_commits() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&tracker_schema()).await;
        pool.close().await;
        let stores = [
            instance(&db, Config::default()).await,
            instance(&db, Config::default()).await,
            instance(&db, Config::default()).await,
        ];
        let mut subscriptions: Vec<Subscription> = stores.iter().map(Store::subscribe).collect();
        // 4 dispatchers, spread over the instances.
        let writers = (0..4).map(|w| {
            let store = stores[w % 3].clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    store.dispatch(add(format!("{w}-{i}"))).await.expect("dispatch");
                }
            })
        });
        futures::future::join_all(writers).await;
        for subscription in &mut subscriptions {
            let seen = receive(subscription, 100, Duration::from_secs(20)).await;
            assert_exactly_once_in_order(&seen, 1);
        }
    })
    .await;
}

/// On PostgreSQL a commit reaches the other instances by `NOTIFY`, long
/// before their (here 60 s) safety poll; killing the listener's connection
/// loses nothing: the listener reconnects and the instance catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notifies_and_survives_a_killed_listener() {
    let db = TestDb::new(Dialect::Postgres).await;
    db.run(|db| async move {
        let pool = db.pool_with_tables(&tracker_schema()).await;
        let slow_poll = Config {
            poll_interval: Some(Duration::from_secs(60)),
            ..Config::default()
        };
        let writer = instance(&db, slow_poll.clone()).await;
        let reader = instance(&db, slow_poll).await;
        let mut live = reader.subscribe();
        let DbPool::Postgres(pg) = &pool else { unreachable!() };
        let listeners = format!(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = '{}' AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            db.name()
        );
        // Both instances listen (again), each on a connection of its own.
        let both_listen = || async {
            for _ in 0..200 {
                let n: i64 = sqlx::query_scalar(&listeners).fetch_one(pg).await.unwrap();
                if n == 2 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the instances' listeners did not connect in 10 s");
        };
        both_listen().await;
        writer.dispatch(add("a".into())).await.unwrap();
        let seen = receive(&mut live, 1, Duration::from_secs(10)).await;
        assert_exactly_once_in_order(&seen, 1);

        let kill = format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{}' AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            db.name()
        );
        for round in 0..3u64 {
            both_listen().await;
            let killed: i64 = sqlx::query_scalar(&kill).fetch_one(pg).await.unwrap();
            assert_eq!(killed, 2, "both instances' listeners killed");
            // Committed while the listener may be down: caught up on reconnect.
            writer.dispatch(add(format!("killed-{round}"))).await.unwrap();
            writer.dispatch(add(format!("after-{round}"))).await.unwrap();
            let seen = receive(&mut live, 2, Duration::from_secs(20)).await;
            assert_exactly_once_in_order(&seen, 2 + 2 * round);
        }
        pool.close().await;
    })
    .await;
}
