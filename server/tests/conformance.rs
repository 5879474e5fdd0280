//! The shared conformance suite (`tests/scenarios` + `tests/snapshots`) run
//! through the store on SQLite, PostgreSQL and MariaDB: every outcome and the
//! final tables must equal `MemoryDatabase`'s, exactly.

use flux_capacitor::testing::{ScenarioSuite, conformance};
use flux_capacitor_server::testing::{BACKENDS, SqlScenarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_on_every_backend() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests"));
    assert!(suite.cases.len() >= 40, "the suite has its scenarios");
    // Tables from each scenario's schema: the suite has no migrations.
    let runner = SqlScenarios::new(conformance::reducer);
    for dialect in BACKENDS {
        runner.check_on(&suite, dialect).await;
    }
}
