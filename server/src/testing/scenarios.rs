//! [`SqlScenarios`]: a scenario suite ([`flux_capacitor::testing`]) run
//! through the store on a real database, its tables compared with the same
//! snapshots the in-memory and the JS runners check.

use flux_capacitor::testing::{ScenarioCase, ScenarioSuite, Snapshot, UPDATE_SNAPSHOTS, stored_event};
use flux_capacitor::{BoxReducer, Changeset, Reducer, boxed};
use sqlx::migrate::Migrator;

use super::TestDb;
use crate::sql::compile_operation;
use crate::{Config, DbPool, Dialect, Store, StoreError};

/// The environment variable [`SqlScenarios::check`] reads: the admin URL of
/// the PostgreSQL or MySQL/MariaDB server to run on (unset: a temporary
/// SQLite file per scenario).
pub const SCENARIO_DATABASE_URL: &str = "SCENARIO_DATABASE_URL";

/// A step of a scenario run that is not the scenario's own events failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The app's migrations failed on the fresh database.
    #[error("the migrations failed: {0}")]
    Migrations(#[source] sqlx::migrate::MigrateError),
    /// A row of the scenario's `initial` state does not fit the tables.
    #[error("the initial state: {0}")]
    InitialState(#[source] flux_capacitor::Error),
    /// The store failed: opening it, writing the initial rows, reading the
    /// tables back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ScenarioError {
    fn from(err: sqlx::Error) -> Self {
        ScenarioError::Store(err.into())
    }
}

/// Where the tables come from.
enum Tables {
    /// The app's migrations, one migrator per dialect.
    Migrations(Vec<(Dialect, Migrator)>),
    /// Each scenario's own schema, as [`create_tables`](super::create_tables)
    /// makes it: the conformance suite's way, whose scenarios each need
    /// other tables.
    FromSchema,
}

/// Runs a scenario suite through a [`Store`] on a real database with the
/// app's migrations, each scenario in a fresh database, and checks each
/// outcome and the final tables against the snapshots:
///
/// ```ignore
/// // tests/scenarios.rs of an app's server crate (the notes example's
/// // `examples/notes/server/tests/scenarios.rs` is this, running).
/// use flux_capacitor::testing::ScenarioSuite;
/// use flux_capacitor_server::Dialect;
/// use flux_capacitor_server::testing::SqlScenarios;
///
/// #[tokio::test]
/// async fn scenarios_on_sql() {
///     let suite = ScenarioSuite::load("../tests");
///     SqlScenarios::new(my_reducers::root)
///         .migrations(Dialect::Sqlite, sqlx::migrate!("migrations/sqlite"))
///         .migrations(Dialect::Postgres, sqlx::migrate!("migrations/postgres"))
///         .migrations(Dialect::MySql, sqlx::migrate!("migrations/mysql"))
///         .check(&suite) // SQLite, or SCENARIO_DATABASE_URL's server
///         .await;
/// }
/// ```
///
/// Each scenario: a new database ([`TestDb`]), the migrations of its
/// dialect, the store opened on it with a fresh reducer, the `initial` rows
/// written straight into the tables, then each event replayed
/// ([`Store::replay`]) with the `seq`, id and timestamp the in-memory runner
/// gives it — so reducers that use them give the same snapshot — and the
/// tables read back ([`Store::snapshot`]). Middleware and commands do not
/// run: this tests the reducers and the tables. On MySQL/MariaDB the
/// database takes the server's default collation, as an app's would: the
/// migrations must set the collations that keep text exact.
pub struct SqlScenarios {
    reducer: Box<dyn Fn() -> BoxReducer + Send + Sync>,
    tables: Tables,
}

impl SqlScenarios {
    /// Scenarios run through the reducer `root()` gives (called once per
    /// scenario: each opens its own store), on tables made from each
    /// scenario's `schema` until [`SqlScenarios::migrations`] is given.
    pub fn new<R: Reducer + 'static>(root: impl Fn() -> R + Send + Sync + 'static) -> SqlScenarios {
        SqlScenarios {
            reducer: Box::new(move || boxed(root())),
            tables: Tables::FromSchema,
        }
    }

    /// The app's migrations for `dialect` (`sqlx::migrate!("migrations/sqlite")`).
    #[must_use]
    pub fn migrations(mut self, dialect: Dialect, migrator: Migrator) -> SqlScenarios {
        match &mut self.tables {
            Tables::Migrations(all) => all.push((dialect, migrator)),
            Tables::FromSchema => self.tables = Tables::Migrations(vec![(dialect, migrator)]),
        }
        self
    }

    /// Checks `suite` on the server named by `SCENARIO_DATABASE_URL` (a
    /// PostgreSQL or MySQL/MariaDB admin URL), or on SQLite when it is unset.
    pub async fn check(&self, suite: &ScenarioSuite) {
        match std::env::var(SCENARIO_DATABASE_URL) {
            Ok(url) if !url.is_empty() => self.check_at(suite, &url).await,
            _ => self.check_on(suite, Dialect::Sqlite).await,
        }
    }

    /// Checks `suite` on `dialect`: a temporary SQLite file, or a database
    /// made through [`TestDb`]'s admin URL (`DATABASE_URL_POSTGRES`,
    /// `DATABASE_URL_MYSQL` or their defaults).
    pub async fn check_on(&self, suite: &ScenarioSuite, dialect: Dialect) {
        let options = match (&self.tables, dialect) {
            (Tables::FromSchema, Dialect::MySql) => "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            (_, Dialect::MySql) => "CHARACTER SET utf8mb4",
            _ => "",
        };
        let mut snapshots = Vec::new();
        for case in &suite.cases {
            let db = TestDb::with_options(dialect, options).await;
            snapshots.push(self.run_on(case, &db).await);
            db.drop_db().await;
        }
        report(suite, dialect, snapshots);
    }

    /// Checks `suite` on the server of `admin_url` (a user that may create
    /// and drop databases; a `sqlite:` URL means temporary SQLite files).
    pub async fn check_at(&self, suite: &ScenarioSuite, admin_url: &str) {
        let mut snapshots = Vec::new();
        let mut dialect = Dialect::Sqlite;
        for case in &suite.cases {
            let db = TestDb::on_server(admin_url).await;
            dialect = db.dialect;
            snapshots.push(self.run_on(case, &db).await);
            db.drop_db().await;
        }
        report(suite, dialect, snapshots);
    }

    /// Runs one scenario on the empty database `db` and returns what
    /// happened; an error is a step that is not the scenario's own (the
    /// migrations, the initial rows, reading the tables back).
    pub async fn run_on(&self, case: &ScenarioCase, db: &TestDb) -> Result<Snapshot, ScenarioError> {
        let pool = db.pool().await;
        let result = self.run_in(case, db, &pool).await;
        pool.close().await;
        result
    }

    async fn run_in(&self, case: &ScenarioCase, db: &TestDb, pool: &DbPool) -> Result<Snapshot, ScenarioError> {
        match &self.tables {
            Tables::FromSchema => db.create_tables(pool, &case.scenario.schema).await,
            Tables::Migrations(all) => {
                let Some((_, migrator)) = all.iter().find(|(d, _)| *d == db.dialect) else {
                    panic!(
                        "no migrations for {:?}: add `.migrations(Dialect::{:?}, sqlx::migrate!(...))`",
                        db.dialect, db.dialect
                    );
                };
                pool.run_migrations(migrator).await.map_err(ScenarioError::Migrations)?;
            }
        }
        let config = Config {
            poll_interval: None,
            ..Config::default()
        };
        let store = Store::builder((self.reducer)())
            .config(config)
            .open(pool.clone())
            .await?;
        write_rows(&store, &case.scenario.initial_changeset()).await?;
        let mut seq = 0;
        let mut results = Vec::new();
        for event in &case.scenario.events {
            results.push(match store.replay(vec![stored_event(seq + 1, &event.event)]).await {
                Ok(_) => {
                    seq += 1;
                    "ok".to_string()
                }
                Err(err) => err.kind().to_string(),
            });
        }
        let state = store.snapshot().await?;
        Ok(Snapshot { results, state })
    }
}

/// Panics with every failure of `suite`, naming the database (or records,
/// with `UPDATE_SNAPSHOTS=1`).
fn report(suite: &ScenarioSuite, dialect: Dialect, snapshots: Vec<Result<Snapshot, ScenarioError>>) {
    let mut snapshots = snapshots.into_iter();
    let failures = suite.failures(|_| {
        snapshots
            .next()
            .expect("one run per case")
            .map_err(|e| format!("on {dialect:?}: {e}"))
    });
    if !failures.is_empty() {
        panic!(
            "{} of {} scenario(s) in {} failed on {dialect:?} ({UPDATE_SNAPSHOTS}=1 records the snapshots):\n\n{}",
            failures.len(),
            suite.cases.len(),
            suite.dir.display(),
            failures.join("\n\n")
        );
    }
}

/// Writes a changeset of the scenario's initial rows straight into the
/// tables, in one transaction, validated against the tables' schema as the
/// store validates a reducer's: no event, no log row.
async fn write_rows(store: &Store, changeset: &Changeset) -> Result<(), ScenarioError> {
    if changeset.is_empty() {
        return Ok(());
    }
    let shared = store.shared();
    let _writes = shared.write_gate.lock().await;
    let schema = store.refresh_schema().await?;
    let tables = shared.schema();
    let mut tx = shared.db().begin_write().await?;
    for operation in changeset.operations() {
        operation.validate(Some(&schema)).map_err(ScenarioError::InitialState)?;
        let table = &tables.tables[operation.collection()];
        if let Some(statement) = compile_operation(shared.pool.dialect(), table, operation) {
            tx.execute(&statement).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
