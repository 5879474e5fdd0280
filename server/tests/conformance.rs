//! The shared conformance suite (`tests/scenarios` + `tests/snapshots`) run
//! through the store on SQLite, PostgreSQL and MariaDB: every outcome and the
//! final tables must equal `MemoryDatabase`'s, exactly.

use std::path::Path;

use flux_capacitor::testing::{ScenarioSuite, Snapshot};
use flux_capacitor_server::testing::{BACKENDS, TestDb, conformance_store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_on_every_backend() {
    let suite = ScenarioSuite::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests"));
    assert!(suite.cases.len() >= 40, "the suite has its scenarios");
    for dialect in BACKENDS {
        let mut actual = Vec::new();
        for case in &suite.cases {
            let db = TestDb::new(dialect).await;
            let pool = db.pool_with_tables(&case.scenario.schema).await;
            let store = conformance_store(&db).await;
            assert_eq!(store.pool().dialect(), dialect);
            let mut results = Vec::new();
            for event in &case.scenario.events {
                results.push(match store.dispatch(event.clone()).await {
                    Ok(_) => "ok".to_string(),
                    Err(err) => err.kind().to_string(),
                });
            }
            let state = store.snapshot().await.expect("snapshot");
            actual.push(Snapshot { results, state });
            drop(store);
            pool.close().await;
            db.drop_db().await;
        }
        let mut got = actual.into_iter();
        let failures = suite.check(|_| got.next().expect("one snapshot per case"));
        assert!(failures.is_empty(), "{dialect:?}:\n{}", failures.join("\n\n"));
    }
}
