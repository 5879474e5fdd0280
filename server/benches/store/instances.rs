//! Several instances on one database (each a store with its own pool,
//! writer and listener, as separate processes would have): how long a commit
//! takes to reach a subscriber of another instance — by `NOTIFY` on
//! PostgreSQL, by the adaptive tail elsewhere — beside a subscriber of the
//! committing instance; and the total throughput of 1, 2 and 3 instances.

use std::time::{Duration, Instant};

use flux_capacitor_server::{Config, Dialect, Store, Subscription, SubscriptionItem};
use futures::StreamExt;

use super::support::{BenchDb, Table, Workload, backend_name, ms, percentile, rate};

fn config() -> Config {
    Config::default()
}

/// Waits for event `seq` on `subscription`.
async fn until(subscription: &mut Subscription, seq: u64) {
    while let Some(item) = subscription.next().await {
        if let SubscriptionItem::Events(events) = item
            && events.last().is_some_and(|e| e.seq >= seq)
        {
            return;
        }
    }
}

/// Commit-to-subscriber latency: `samples` dispatches on instance A, one
/// every `gap`, each timed from the `dispatch` call to its receipt by a
/// subscriber of A and by one of B.
pub async fn latency(dialects: &[Dialect], samples: usize, gap: Duration) {
    println!("\n### 7. Several instances: commit to a subscriber of another instance (one dispatch every {gap:?})\n");
    let mut table = Table::new(&[
        "backend",
        "other instances hear by",
        "same instance p50 / p99 ms",
        "other instance p50 / p99 ms",
    ]);
    for &dialect in dialects {
        let db = BenchDb::new(dialect).await;
        let (a, b) = (db.store(config()).await, db.store(config()).await);
        let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
        tokio::time::sleep(Duration::from_millis(500)).await; // listeners connect
        let mut work = Workload::new("lat-");
        let (mut local, mut remote) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            let started = Instant::now();
            let seq = a.dispatch(work.next_op().event()).await.expect("dispatch").seq;
            let (here, there) = tokio::join!(
                async {
                    until(&mut on_a, seq).await;
                    started.elapsed()
                },
                async {
                    until(&mut on_b, seq).await;
                    started.elapsed()
                },
            );
            local.push(here);
            remote.push(there);
            tokio::time::sleep(gap).await;
        }
        local.sort();
        remote.sort();
        let how = match dialect {
            Dialect::Postgres => "`NOTIFY`",
            _ => "adaptive tail (5 ms .. 1 s)",
        };
        table.row(vec![
            backend_name(dialect).into(),
            how.into(),
            format!("{} / {}", ms(percentile(&local, 50.0)), ms(percentile(&local, 99.0))),
            format!("{} / {}", ms(percentile(&remote, 50.0)), ms(percentile(&remote, 99.0))),
        ]);
        drop((a, b, on_a, on_b));
        db.drop_db().await;
    }
}

/// Total events/s of 16 single-event dispatchers spread over 1, 2 and 3
/// instances on one database, for `round` each.
pub async fn throughput(dialects: &[Dialect], round: Duration) {
    println!("\n### 8. Several instances: total throughput of 16 dispatchers spread over them\n");
    let mut table = Table::new(&["backend", "1 instance, events/s", "2 instances", "3 instances"]);
    for &dialect in dialects {
        let mut row = vec![backend_name(dialect).to_string()];
        for instances in 1..=3 {
            let db = BenchDb::new(dialect).await;
            let mut stores: Vec<Store> = Vec::new();
            for _ in 0..instances {
                stores.push(db.store(config()).await);
            }
            let started = Instant::now();
            let dispatchers = (0..16).map(|d| {
                let store = stores[d % instances].clone();
                tokio::spawn(async move {
                    let mut work = Workload::new(format!("i{d}-"));
                    let mut events = 0u64;
                    while started.elapsed() < round {
                        store.dispatch(work.next_op().event()).await.expect("dispatch");
                        events += 1;
                    }
                    events
                })
            });
            let events: u64 = futures::future::join_all(dispatchers)
                .await
                .into_iter()
                .map(|n| n.expect("dispatcher"))
                .sum();
            row.push(rate(events as f64 / started.elapsed().as_secs_f64()));
            drop(stores);
            db.drop_db().await;
        }
        table.row(row);
    }
}
