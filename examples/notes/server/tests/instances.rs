//! Three `notes` processes on one database (PostgreSQL, MariaDB, a SQLite
//! file): 8 dispatchers and 100 WebSocket subscribers spread over them. One
//! instance is killed (`SIGKILL`) mid-run; its subscribers reconnect to
//! another instance with their last `seq`. Every subscriber sees every event
//! of the log exactly once, in `seq` order, and every acknowledged dispatch
//! is in the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use flux_capacitor_server::testing::{BACKENDS, TestDb};
use flux_capacitor_server::{EventQuery, Store};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

mod process;
use process::{Instance, start};

const DISPATCHERS: usize = 8;
const PER_DISPATCHER: usize = 25;
const SUBSCRIBERS: usize = 100;

/// `addNote` of a note `id`: the stored events, or `None` when the instance
/// did not answer 200.
async fn add_note(address: &str, id: &str) -> Option<Vec<Value>> {
    match process::add_note(address, "", id).await? {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// A subscriber: follows the live feed of the instances in turn from
/// `first`, resuming from its last `seq` whenever its instance goes away,
/// until it has seen `until()` events; answers every `seq` it received.
async fn subscribe(
    addresses: Arc<Vec<String>>,
    dead: Arc<Vec<AtomicBool>>,
    first: usize,
    until: Arc<tokio::sync::watch::Receiver<u64>>,
) -> Vec<u64> {
    let mut seen: Vec<u64> = Vec::new();
    let mut at = first;
    loop {
        let target = *until.borrow();
        if target > 0 && seen.len() as u64 >= target {
            return seen;
        }
        if dead[at].load(Ordering::SeqCst) {
            at = (at + 1) % addresses.len();
            continue;
        }
        let after = seen.last().copied().unwrap_or(0);
        let url = format!("ws://{}/events/live?after={after}&token=Mary", addresses[at]);
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
            at = (at + 1) % addresses.len();
            continue;
        };
        let mut until = (*until).clone();
        loop {
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let batch: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
                        seen.extend(batch.iter().map(|e| e["seq"].as_u64().expect("seq")));
                    }
                    Some(Ok(_)) => {}
                    // The instance went away: resume elsewhere.
                    Some(Err(_)) | None => break,
                },
                _ = until.changed() => {}
            }
            let target = *until.borrow();
            if target > 0 && seen.len() as u64 >= target {
                return seen;
            }
        }
        at = (at + 1) % addresses.len();
    }
}

async fn run_instances(db: TestDb) {
    // One after the other: the notes app's migrations are not safe to run
    // from several processes at once.
    let mut instances: Vec<Instance> = (0..3).map(|_| start(&db.url)).collect();
    let addresses = Arc::new(instances.iter().map(|i| i.address.clone()).collect::<Vec<_>>());
    let dead = Arc::new((0..3).map(|_| AtomicBool::new(false)).collect::<Vec<_>>());
    let (done, until) = tokio::sync::watch::channel(0u64);
    let until = Arc::new(until);
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|s| tokio::spawn(subscribe(addresses.clone(), dead.clone(), s % 3, until.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let dispatchers: Vec<_> = (0..DISPATCHERS)
        .map(|d| {
            let (addresses, dead, answered) = (addresses.clone(), dead.clone(), answered.clone());
            tokio::spawn(async move {
                let mut acknowledged = BTreeMap::new();
                let mut at = d % 3;
                for i in 0..PER_DISPATCHER {
                    let id = format!("n{d}-{i}");
                    let answer = match dead[at].load(Ordering::SeqCst) {
                        false => add_note(&addresses[at], &id).await,
                        true => None,
                    };
                    answered.fetch_add(1, Ordering::SeqCst);
                    match answer {
                        Some(events) => {
                            for event in events {
                                acknowledged.insert(event["seq"].as_u64().expect("seq"), event["id"].clone());
                            }
                        }
                        // Refused, or killed mid-request (committed or not: unknown). Go elsewhere.
                        None => at = (at + 1) % 3,
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                acknowledged
            })
        })
        .collect();

    // Kill one instance mid-run: once about a third of the dispatches are answered.
    while answered.load(Ordering::SeqCst) < DISPATCHERS * PER_DISPATCHER / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    dead[2].store(true, Ordering::SeqCst);
    instances[2].child.kill().expect("kill -9");
    instances[2].child.wait().expect("reap");

    let mut acknowledged = BTreeMap::new();
    for dispatcher in dispatchers {
        acknowledged.extend(dispatcher.await.expect("dispatcher"));
    }
    let store = Store::connect(&db.url, flux_capacitor::combine_reducers())
        .await
        .expect("open the log");
    let log = store.events(EventQuery::after(0, 10_000)).await.expect("read the log");
    let head = log.last().map_or(0, |e| e.seq);
    assert!(
        head as usize >= acknowledged.len() && !acknowledged.is_empty(),
        "{head} events"
    );
    let by_seq: BTreeMap<u64, Value> = log.iter().map(|e| (e.seq, json!(e.id))).collect();
    for (seq, id) in &acknowledged {
        assert_eq!(by_seq.get(seq), Some(id), "acknowledged event {seq} is in the log");
    }
    done.send(head).expect("subscribers wait");
    let expected: Vec<u64> = (1..=head).collect();
    for subscriber in subscribers {
        let seen = tokio::time::timeout(Duration::from_secs(60), subscriber)
            .await
            .expect("every subscriber catches up")
            .expect("subscriber");
        assert_eq!(seen, expected, "every event once, in seq order");
    }
    for mut instance in instances.into_iter().take(2) {
        let _ = instance.child.kill();
        let _ = instance.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_one_killed_every_subscriber_sees_every_event_once() {
    for dialect in BACKENDS {
        TestDb::new(dialect).await.run(run_instances).await;
    }
}
