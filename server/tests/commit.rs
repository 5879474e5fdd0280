//! Connections killed again and again while the store commits (PostgreSQL
//! and MariaDB; SQLite has no connections to kill): every dispatch is
//! answered with the truth. An event answered as stored is in the log at its
//! `seq`; a dispatch answered as failed left nothing in the log; the store
//! keeps working.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use flux_capacitor::Event;
use flux_capacitor::testing::conformance;
use flux_capacitor_server::testing::{TestDb, tracker_schema};
use flux_capacitor_server::{Config, DbPool, Dialect, EventQuery, Store};
use serde_json::json;

const DISPATCHERS: usize = 4;
const PER_DISPATCHER: usize = 150;

fn add(id: &str) -> Event {
    Event::new(
        "conformance/apply",
        json!({ "ops": [{ "op": "create", "collection": "issues", "row": { "id": id } }] }),
    )
}

/// Kills every other connection to the test database; how many.
async fn kill_others(killer: &DbPool, name: &str) -> usize {
    match killer {
        DbPool::Postgres(pool) => {
            let sql = "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
                       WHERE datname = $1 AND pid <> pg_backend_pid()";
            let killed: i64 = sqlx::query_scalar(sql).bind(name).fetch_one(pool).await.unwrap_or(0);
            killed as usize
        }
        DbPool::MySql(pool) => {
            let sql = "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST
                       WHERE DB = ? AND ID <> CONNECTION_ID()";
            let ids: Vec<i64> = sqlx::query_scalar(sql)
                .bind(name)
                .fetch_all(pool)
                .await
                .unwrap_or_default();
            for id in &ids {
                // An id read from the server, not user input; KILL takes no parameters.
                let _ = sqlx::query(&format!("KILL CONNECTION {id}")).execute(pool).await;
            }
            ids.len()
        }
        _ => unreachable!("only servers have connections to kill"),
    }
}

async fn answers_tell_the_truth(dialect: Dialect) {
    let db = TestDb::new(dialect).await;
    db.run(|db| async move {
        db.pool_with_tables(&tracker_schema()).await.close().await;
        let config = Config {
            poll_interval: None,
            ..Config::default()
        };
        let store = Store::builder(conformance::reducer())
            .config(config)
            .open(db.pool().await)
            .await
            .expect("open");
        let killer = {
            let url = db.url.clone();
            let pool = DbPool::connect(&url, 1).await.expect("killer pool");
            Arc::new(pool)
        };
        let stop = Arc::new(AtomicBool::new(false));
        let kills = Arc::new(AtomicUsize::new(0));
        let killing = {
            let (killer, stop, kills, name) = (killer.clone(), stop.clone(), kills.clone(), db.name().to_owned());
            tokio::spawn(async move {
                // Storms of kills every 6 ms, with a calm moment after each: on a
                // loaded machine a storm alone can starve every dispatch, and
                // then the answers would prove nothing.
                for round in 1.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    kills.fetch_add(kill_others(&killer, &name).await, Ordering::SeqCst);
                    let pause = if round % 25 == 0 { 200 } else { 6 };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        };
        let dispatchers = (0..DISPATCHERS).map(|d| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in 0..PER_DISPATCHER {
                    let row = format!("{d}-{i}");
                    let answer = store.dispatch(add(&row)).await.map_err(|e| e.kind());
                    answers.push((row, answer.map(|stored| (stored.seq, stored.id))));
                }
                answers
            })
        });
        let answers: Vec<_> = futures::future::join_all(dispatchers)
            .await
            .into_iter()
            .flat_map(|a| a.expect("dispatcher"))
            .collect();
        stop.store(true, Ordering::SeqCst);
        killing.await.expect("killer");

        // The store still works.
        store.dispatch(add("after")).await.expect("a dispatch after the storm");
        let log = store.events(EventQuery::after(0, 100_000)).await.expect("the log");
        let by_seq: BTreeMap<u64, uuid::Uuid> = log.iter().map(|e| (e.seq, e.id)).collect();
        let logged_rows: BTreeSet<String> = log
            .iter()
            .filter_map(|e| e.payload["ops"][0]["row"]["id"].as_str().map(str::to_owned))
            .collect();
        let mut failed = BTreeMap::<&str, usize>::new();
        for (row, answer) in &answers {
            match answer {
                Ok((seq, id)) => assert_eq!(by_seq.get(seq), Some(id), "`{row}` answered as stored at {seq}"),
                Err(kind) => {
                    *failed.entry(kind).or_default() += 1;
                    if *kind != "commit_unknown" {
                        assert!(
                            !logged_rows.contains(row),
                            "`{row}` answered `{kind}` but is in the log"
                        );
                    }
                }
            }
        }
        let stored = answers.iter().filter(|(_, a)| a.is_ok()).count();
        eprintln!(
            "{dialect:?}: {stored} stored, failed {failed:?}, {} connections killed",
            kills.load(Ordering::SeqCst)
        );
        assert!(stored > 0, "some dispatches got through");
        assert!(!failed.is_empty(), "the killing made some dispatches fail");
        killer.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_on_postgres() {
    answers_tell_the_truth(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_on_mariadb() {
    answers_tell_the_truth(Dialect::MySql).await;
}
