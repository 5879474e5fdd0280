//! Test fixtures, behind the `testing` feature: a fresh database per test on
//! SQLite, PostgreSQL and MySQL/MariaDB, a loop running a test on each, DDL
//! for a [`Schema`] in each dialect, the schema of the conformance suite's
//! issue tracker, and [`SqlScenarios`]: an app's scenario files
//! ([`flux_capacitor::testing`]) checked through the store on a real
//! database with the app's migrations. This crate's tests and benchmarks use them, and so
//! do the examples' tests; an application's tests can too:
//!
//! ```toml
//! [dev-dependencies]
//! flux-capacitor-server = { version = "0.1", features = ["testing"] }
//! ```
//!
//! PostgreSQL and MySQL/MariaDB are reached through an admin URL:
//! `DATABASE_URL_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `DATABASE_URL_MYSQL`
//! (default `mysql://root@127.0.0.1:3306/test`). Each test database is created
//! there under a unique name; SQLite's are files in a temporary directory.
//!
//! ```
//! use flux_capacitor::Event;
//! use flux_capacitor_server::Dialect;
//! use flux_capacitor_server::testing::{TestDb, conformance_store, count, tracker_schema};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a test: `for_each_backend(|db| async move { ... }).await` runs the
//! // same body on every backend; here SQLite alone.
//! TestDb::new(Dialect::Sqlite)
//!     .await
//!     .run(|db| async move {
//!         let pool = db.pool_with_tables(&tracker_schema()).await;
//!         let store = conformance_store(&db).await;
//!         store.dispatch(Event::new("addUser", json!({ "handle": "mary", "name": "Mary" }))).await.unwrap();
//!         assert_eq!(count(&pool, "users").await, 1);
//!     })
//!     .await; // the database is gone, also had the test panicked
//! # }
//! ```
//!
//! Every helper panics on failure, with the statement or step at fault:
//! these are for tests.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use flux_capacitor::{FieldType, Schema};
use futures::FutureExt;
use serde_json::json;
use sqlx::{Connection, Executor};

use crate::{Config, DbPool, Dialect, Store};

pub mod sagas;
mod scenarios;

pub use scenarios::{SCENARIO_DATABASE_URL, ScenarioError, SqlScenarios};

/// The backends [`for_each_backend`] runs a test on, in order.
pub const BACKENDS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

/// The admin connection of PostgreSQL: `DATABASE_URL_POSTGRES`, or
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The admin connection of MySQL/MariaDB: `DATABASE_URL_MYSQL`, or
/// `mysql://root@127.0.0.1:3306/test`.
pub fn mysql_admin_url() -> String {
    std::env::var("DATABASE_URL_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// A fresh, uniquely named, empty database on one backend.
///
/// Dropped by [`TestDb::drop_db`], or by [`TestDb::run`] and
/// [`for_each_backend`] once the test is over (also when it panics). A SQLite
/// database is a file in a temporary directory removed with the `TestDb`.
pub struct TestDb {
    /// The backend.
    pub dialect: Dialect,
    /// The URL to connect to this database with ([`DbPool::connect`]).
    pub url: String,
    name: String,
    /// The server's admin connection it was created through (not SQLite).
    admin: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// `admin` with its database replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, _) = admin.rsplit_once('/').expect("admin URL has a database path");
    format!("{base}/{name}")
}

impl TestDb {
    /// Creates a new empty database; on MySQL/MariaDB with `CHARACTER SET
    /// utf8mb4 COLLATE utf8mb4_bin`, so that text compares exactly by default.
    pub async fn new(dialect: Dialect) -> TestDb {
        let options = match dialect {
            Dialect::MySql => "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Dialect::Sqlite | Dialect::Postgres => "",
        };
        TestDb::with_options(dialect, options).await
    }

    /// Creates a new empty database with `options` after `CREATE DATABASE
    /// name` (e.g. `CHARACTER SET utf8mb4`, leaving the collation to the
    /// server's default as a user's database would). Ignored on SQLite.
    pub async fn with_options(dialect: Dialect, options: &str) -> TestDb {
        let admin = match dialect {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(postgres_admin_url()),
            Dialect::MySql => Some(mysql_admin_url()),
        };
        TestDb::create(dialect, admin, options).await
    }

    /// Creates a new empty database on the server of `admin_url` (a
    /// PostgreSQL or MySQL/MariaDB URL whose user may create and drop
    /// databases); on MySQL/MariaDB in `utf8mb4` with the server's default
    /// collation, as an app's database. A `sqlite:` URL gives a file in a
    /// temporary directory, whatever its path.
    pub async fn on_server(admin_url: &str) -> TestDb {
        let scheme = admin_url.split(':').next().unwrap_or_default();
        let dialect = match scheme {
            "sqlite" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            _ => panic!("unsupported database URL scheme `{scheme}` (sqlite, postgres, mysql or mariadb)"),
        };
        // sqlx's MySQL driver knows the `mysql:` scheme only.
        let admin = (dialect != Dialect::Sqlite).then(|| match admin_url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => admin_url.to_string(),
        });
        let options = if dialect == Dialect::MySql {
            "CHARACTER SET utf8mb4"
        } else {
            ""
        };
        TestDb::create(dialect, admin, options).await
    }

    async fn create(dialect: Dialect, admin: Option<String>, options: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "fluxtest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or_default()
        );
        let create = format!("CREATE DATABASE {name} {options}");
        let (url, dir) = match (dialect, &admin) {
            (Dialect::Postgres, Some(admin)) => {
                let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL is up");
                conn.execute(create.trim_end()).await.expect("create db");
                conn.close().await.ok();
                (with_database(admin, &name), None)
            }
            (Dialect::MySql, Some(admin)) => {
                let mut conn = sqlx::MySqlConnection::connect(admin).await.expect("MariaDB is up");
                conn.execute(create.trim_end()).await.expect("create db");
                conn.close().await.ok();
                (with_database(admin, &name), None)
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join(format!("{name}.db")).display());
                (url, Some(dir))
            }
        };
        TestDb {
            dialect,
            url,
            name,
            admin,
            _dir: dir,
        }
    }

    /// The database's name (its file's stem on SQLite).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new pool on this database.
    pub async fn pool(&self) -> DbPool {
        DbPool::connect(&self.url, 5).await.expect("connect")
    }

    /// A new pool on this database, after creating the tables of `schema`
    /// with it ([`TestDb::create_tables`]).
    pub async fn pool_with_tables(&self, schema: &Schema) -> DbPool {
        let pool = self.pool().await;
        self.create_tables(&pool, schema).await;
        pool
    }

    /// Creates the tables of `schema` through `pool` (the user's migration,
    /// in tests): see [`create_tables`].
    pub async fn create_tables(&self, pool: &DbPool, schema: &Schema) {
        for statement in create_tables(self.dialect, schema) {
            execute(pool, &statement).await;
        }
    }

    /// Runs `test` on this database, then drops the database, also when
    /// `test` panics (the panic then goes on, after a line naming the
    /// backend on stderr).
    pub async fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(TestDb) -> Fut,
        Fut: Future<Output = ()>,
    {
        let dialect = self.dialect;
        // What dropping needs; the temporary directory goes with `self`.
        let keep = TestDb {
            dialect,
            url: self.url.clone(),
            name: self.name.clone(),
            admin: self.admin.clone(),
            _dir: None,
        };
        let outcome = AssertUnwindSafe(test(self)).catch_unwind().await;
        keep.drop_db().await;
        if let Err(panic) = outcome {
            eprintln!("test failed on {dialect:?}");
            std::panic::resume_unwind(panic);
        }
    }

    /// Drops the database (closing other sessions on PostgreSQL; on SQLite
    /// the file goes with its temporary directory).
    pub async fn drop_db(self) {
        let Some(admin) = &self.admin else { return };
        match self.dialect {
            Dialect::Sqlite => {}
            Dialect::Postgres => {
                let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect");
                conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                    .await
                    .expect("drop db");
            }
            Dialect::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(admin).await.expect("connect");
                conn.execute(format!("DROP DATABASE IF EXISTS {}", self.name).as_str())
                    .await
                    .expect("drop db");
            }
        }
    }
}

/// Runs `test` once per backend of [`BACKENDS`], each time on its own fresh
/// [`TestDb`], dropped after (also when the test panics: see [`TestDb::run`]).
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for dialect in BACKENDS {
        TestDb::new(dialect).await.run(&test).await;
    }
}

/// Runs a statement on any pool.
pub async fn execute(pool: &DbPool, statement: &str) {
    let result = match pool {
        DbPool::Sqlite(p) => p.execute(statement).await.map(drop),
        DbPool::Postgres(p) => p.execute(statement).await.map(drop),
        DbPool::MySql(p) => p.execute(statement).await.map(drop),
    };
    result.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Counts the rows of `table` with sqlx directly.
pub async fn count(pool: &DbPool, table: &str) -> i64 {
    let statement = format!("SELECT COUNT(*) FROM {table}");
    match pool {
        DbPool::Sqlite(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
        DbPool::Postgres(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
        DbPool::MySql(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

/// The names of the indexes of `table` made apart from its primary key, sorted.
pub async fn index_names(pool: &DbPool, table: &str) -> Vec<String> {
    let mut names: Vec<String> = match pool {
        DbPool::Sqlite(p) => {
            sqlx::query_scalar("SELECT name FROM pragma_index_list(?) WHERE origin = 'c'")
                .bind(table)
                .fetch_all(p)
                .await
        }
        DbPool::Postgres(p) => {
            sqlx::query_scalar(
                "SELECT c.relname::TEXT FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
                 JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
                 WHERE t.relname = $1 AND n.nspname = current_schema() AND NOT i.indisprimary",
            )
            .bind(table)
            .fetch_all(p)
            .await
        }
        DbPool::MySql(p) => {
            sqlx::query_scalar(
                "SELECT DISTINCT CAST(INDEX_NAME AS CHAR) FROM information_schema.STATISTICS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY'",
            )
            .bind(table)
            .fetch_all(p)
            .await
        }
    }
    .unwrap_or_else(|e| panic!("the indexes of {table}: {e}"));
    names.sort();
    names
}

/// `CREATE TABLE` statements for `schema` in `dialect`: a column per field,
/// of the type the store reads back as that field type, the key the primary
/// key. On MySQL/MariaDB text compares exactly: a text key is
/// `VARCHAR(191) COLLATE utf8mb4_nopad_bin`, other text `utf8mb4_bin`. On
/// PostgreSQL a text key is `COLLATE "C"`, so that the primary key's index
/// serves pages in key order.
pub fn create_tables(dialect: Dialect, schema: &Schema) -> Vec<String> {
    schema
        .collections
        .iter()
        .map(|(name, collection)| {
            let columns: Vec<String> = collection
                .fields
                .iter()
                .map(|(field, ty)| {
                    let key = *field == collection.key;
                    let sql_type = match (dialect, ty, key) {
                        (Dialect::Sqlite, FieldType::Text, _) => "TEXT",
                        (Dialect::Sqlite, FieldType::Integer, _) => "INTEGER",
                        (Dialect::Sqlite, FieldType::Real, _) => "REAL",
                        (Dialect::Sqlite, FieldType::Boolean, _) => "BOOLEAN",
                        (Dialect::Sqlite, FieldType::Json, _) => "JSON",
                        (Dialect::Postgres, FieldType::Text, true) => "TEXT COLLATE \"C\"",
                        (Dialect::Postgres, FieldType::Text, false) => "TEXT",
                        (Dialect::Postgres, FieldType::Integer, _) => "BIGINT",
                        (Dialect::Postgres, FieldType::Real, _) => "DOUBLE PRECISION",
                        (Dialect::Postgres, FieldType::Boolean, _) => "BOOLEAN",
                        (Dialect::Postgres, FieldType::Json, _) => "JSONB",
                        (_, FieldType::Text, true) => "VARCHAR(191) COLLATE utf8mb4_nopad_bin",
                        (_, FieldType::Text, false) => "TEXT COLLATE utf8mb4_bin",
                        (_, FieldType::Integer, _) => "BIGINT",
                        (_, FieldType::Real, _) => "DOUBLE",
                        (_, FieldType::Boolean, _) => "BOOLEAN",
                        (_, FieldType::Json, _) => "JSON",
                    };
                    let constraint = if key { " NOT NULL PRIMARY KEY" } else { "" };
                    format!("{} {sql_type}{constraint}", dialect.quote(field))
                })
                .collect();
            format!("CREATE TABLE {} ({})", dialect.quote(name), columns.join(", "))
        })
        .collect()
}

/// The tables of the conformance suite's issue tracker
/// ([`flux_capacitor::testing::conformance`]): `issues` (`id`, `title`,
/// `author`, `priority`, `closed`) and `users` keyed by `handle` (`handle`,
/// `name`).
pub fn tracker_schema() -> Schema {
    serde_json::from_value(json!({
        "issues": { "fields": { "author": "text", "closed": "boolean", "id": "text", "priority": "integer", "title": "text" } },
        "users": { "key": "handle", "fields": { "handle": "text", "name": "text" } }
    }))
    .expect("a valid schema")
}

/// A config for tests: the defaults, but other processes' events are polled
/// for every 50 ms.
pub fn test_config() -> Config {
    Config {
        poll_interval: Some(Duration::from_millis(50)),
        ..Config::default()
    }
}

/// Opens a store on `db` with the conformance suite's reducer and
/// [`test_config`].
pub async fn conformance_store(db: &TestDb) -> Store {
    Store::builder(flux_capacitor::testing::conformance::reducer())
        .config(test_config())
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// A small, seeded pseudo-random generator (xorshift) for tests that want
/// the same random log on every run, without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number, below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
