//! Resending is safe across processes (PostgreSQL, MariaDB, a SQLite file):
//! two `notes` processes on one database given the same client-chosen ids at
//! once commit each once; dispatches to a process killed (`SIGKILL`) mid-run,
//! answered or not, resent to the other, commit each once and are answered
//! with what the log holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flux_capacitor_server::testing::{BACKENDS, TestDb, count};
use flux_capacitor_server::{EventQuery, Store};
use serde_json::{Value, json};
use uuid::Uuid;

/// Ids each process is given at once in the first part.
mod process;
use process::start;

const SHARED: usize = 30;
/// Notes sent to the process that is killed, then resent.
const RESENT: usize = 60;

/// `addNote` with the client-chosen event id `id`: the status and the JSON
/// answer, or `None` when no answer came (the process died).
async fn add_note(address: &str, id: Uuid, note: &str) -> Option<(u16, Value)> {
    let (status, body) = process::add_note(address, &format!("?id={id}"), note).await?;
    Some((status, serde_json::from_str(&body).ok()?))
}

/// The log, by event id.
async fn log(url: &str) -> BTreeMap<String, Value> {
    let store = Store::connect(url, flux_capacitor::combine_reducers())
        .await
        .expect("open the log");
    let events = store.events(EventQuery::after(0, 10_000)).await.expect("read the log");
    events
        .into_iter()
        .map(|e| (e.id.to_string(), serde_json::to_value(e).unwrap()))
        .collect()
}

async fn run(db: TestDb) {
    // One after the other: the notes app's migrations are not safe to run
    // from several processes at once.
    let mut a = start(&db.url);
    let mut b = start(&db.url);

    // The same ids to both processes at once.
    let ids: Vec<Uuid> = (0..SHARED).map(|_| Uuid::now_v7()).collect();
    let sends: Vec<_> = ids
        .iter()
        .enumerate()
        .flat_map(|(i, id)| [(a.address.clone(), *id, i), (b.address.clone(), *id, i)])
        .map(|(address, id, i)| tokio::spawn(async move { (id, add_note(&address, id, &format!("s{i}")).await) }))
        .collect();
    let mut answers: BTreeMap<Uuid, Vec<Value>> = BTreeMap::new();
    for send in sends {
        let (id, answer) = send.await.expect("sender");
        let (status, body) = answer.expect("both processes answer");
        assert_eq!(status, 200, "{body}");
        answers.entry(id).or_default().push(body);
    }
    let stored = log(&db.url).await;
    assert_eq!(stored.len(), SHARED, "{}: each id committed once", db.name());
    for (id, both) in &answers {
        assert_eq!(both[0], both[1], "both processes answer the same");
        assert_eq!(both[0], json!([stored[&id.to_string()]]), "the stored event");
    }

    // Dispatches to `a`, killed (SIGKILL) mid-run.
    let ids: Vec<Uuid> = (0..RESENT).map(|_| Uuid::now_v7()).collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (address, ids, answered) = (a.address.clone(), ids.clone(), answered.clone());
        tokio::spawn(async move {
            let mut answers = BTreeMap::new();
            for (i, id) in ids.into_iter().enumerate() {
                if let Some((200, body)) = add_note(&address, id, &format!("r{i}")).await {
                    answers.insert(id, body);
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
            answers
        })
    };
    while answered.load(Ordering::SeqCst) < RESENT / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    a.child.kill().expect("kill -9");
    a.child.wait().expect("reap");
    let first_answers = sender.await.expect("sender");
    assert!(
        !first_answers.is_empty() && first_answers.len() < RESENT,
        "{}: killed mid-run ({} of {RESENT} answered)",
        db.name(),
        first_answers.len()
    );
    let before = log(&db.url).await;

    // Every one resent to `b`: each answered, each in the log once.
    for (i, id) in ids.iter().enumerate() {
        let (status, body) = add_note(&b.address, *id, &format!("r{i}")).await.expect("b answers");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body[0]["id"], json!(id.to_string()));
        if let Some(first) = first_answers.get(id) {
            assert_eq!(&body, first, "a resend is answered as the first send was");
        } else if let Some(committed) = before.get(&id.to_string()) {
            // Committed by `a`, its answer lost with the process.
            assert_eq!(body, json!([committed]), "the lost answer, from the log");
        }
    }
    let after = log(&db.url).await;
    assert_eq!(after.len(), SHARED + RESENT, "{}: each id committed once", db.name());
    assert!(ids.iter().all(|id| after.contains_key(&id.to_string())));
    let pool = db.pool().await;
    assert_eq!(count(&pool, "notes").await as usize, SHARED + RESENT, "one note per id");

    let _ = b.child.kill();
    let _ = b.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_and_a_kill_commit_each_id_once() {
    for dialect in BACKENDS {
        TestDb::new(dialect).await.run(run).await;
    }
}
