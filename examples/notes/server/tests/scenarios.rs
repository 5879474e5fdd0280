//! The notes scenarios (`examples/notes/scenarios` → `examples/notes/snapshots`)
//! through the store with the notes migrations, on SQLite, PostgreSQL and
//! MariaDB: the same outcomes and the same tables as the in-memory and the
//! wasm runs.

use flux_capacitor::testing::ScenarioSuite;
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::{BACKENDS, SqlScenarios};

fn runner() -> SqlScenarios {
    SqlScenarios::new(notes_reducers::root)
        .migrations(Dialect::Sqlite, sqlx::migrate!("migrations/sqlite"))
        .migrations(Dialect::Postgres, sqlx::migrate!("migrations/postgres"))
        .migrations(Dialect::MySql, sqlx::migrate!("migrations/mysql"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_scenarios_on_every_backend() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    assert!(suite.cases.len() >= 5, "the notes scenarios are there");
    let runner = runner();
    for dialect in BACKENDS {
        runner.check_on(&suite, dialect).await;
    }
}

/// `check_at` (what `check` does with `SCENARIO_DATABASE_URL` set): fresh
/// databases on the server of an admin URL, here MariaDB's (as `mariadb://`).
#[tokio::test]
async fn notes_scenarios_at_a_server_url() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let url = flux_capacitor_server::testing::mysql_admin_url().replacen("mysql:", "mariadb:", 1);
    runner().check_at(&suite, &url).await;
}
