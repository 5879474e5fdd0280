//! The scenarios (`../scenarios` → `../snapshots`) through the store with the
//! migrations: on a temporary SQLite file, or on the PostgreSQL or
//! MySQL/MariaDB server of `SCENARIO_DATABASE_URL` (an admin URL: each
//! scenario gets a fresh database there).

use flux_capacitor::testing::ScenarioSuite;
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::SqlScenarios;

#[tokio::test]
async fn scenarios_on_sql() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    assert!(!suite.cases.is_empty(), "no scenarios in ../scenarios");
    SqlScenarios::new({{crate}}_reducers::root)
        .migrations(Dialect::Sqlite, sqlx::migrate!("migrations/sqlite"))
        .migrations(Dialect::Postgres, sqlx::migrate!("migrations/postgres"))
        .migrations(Dialect::MySql, sqlx::migrate!("migrations/mysql"))
        .check(&suite)
        .await;
}
