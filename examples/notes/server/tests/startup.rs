//! Four instances of the notes app starting at once on a fresh database,
//! twenty times on each backend: every one opens (the app's migrations and
//! the store's own tables are each applied once), and the tables are there.

use flux_capacitor_server::testing::{BACKENDS, TestDb, count};

const TIMES: usize = 20;
const INSTANCES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_instances_start_at_once_on_a_fresh_database() {
    for dialect in BACKENDS {
        for _ in 0..TIMES {
            TestDb::new(dialect)
                .await
                .run(|db| async move {
                    let opening = (0..INSTANCES).map(|_| {
                        let url = db.url.clone();
                        tokio::spawn(async move { notes_server::open(&url).await })
                    });
                    for opened in futures::future::join_all(opening).await {
                        let store = opened.expect("task").unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
                        drop(store);
                    }
                    let pool = db.pool().await;
                    assert_eq!(count(&pool, "notes").await, 0);
                    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
                        .expect("migrations")
                        .count() as i64;
                    assert_eq!(
                        count(&pool, "_sqlx_migrations").await,
                        migrations,
                        "each migration once"
                    );
                    assert_eq!(count(&pool, "flux_events").await, 0);
                    pool.close().await;
                })
                .await;
        }
    }
}
