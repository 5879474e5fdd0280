//! Test support: a fresh database per test on every backend, and DDL for a
//! [`Schema`] in each dialect.
#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use flux_capacitor::{FieldType, Schema};
use flux_capacitor_server::{Config, DbPool, Dialect, Store};
use futures::FutureExt;
use sqlx::{Connection, Executor};

/// The admin connection of PostgreSQL.
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The admin connection of MySQL/MariaDB.
pub fn mysql_admin_url() -> String {
    std::env::var("DATABASE_URL_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// The backends every test runs on.
pub const BACKENDS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

/// A fresh, uniquely named database, dropped by [`TestDb::drop_db`].
pub struct TestDb {
    pub dialect: Dialect,
    pub url: String,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

fn with_database(admin: &str, name: &str) -> String {
    let (base, _) = admin.rsplit_once('/').expect("admin URL has a database path");
    format!("{base}/{name}")
}

impl TestDb {
    /// Creates a new empty database.
    pub async fn new(dialect: Dialect) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "fluxtest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or_default()
        );
        match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join(format!("{name}.db")).display());
                TestDb {
                    dialect,
                    url,
                    name,
                    _dir: Some(dir),
                }
            }
            Dialect::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL is up");
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create db");
                conn.close().await.ok();
                TestDb {
                    dialect,
                    url: with_database(&admin, &name),
                    name,
                    _dir: None,
                }
            }
            Dialect::MySql => {
                let admin = mysql_admin_url();
                let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("MariaDB is up");
                conn.execute(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").as_str())
                    .await
                    .expect("create db");
                conn.close().await.ok();
                TestDb {
                    dialect,
                    url: with_database(&admin, &name),
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// A new pool on this database.
    pub async fn pool(&self) -> DbPool {
        DbPool::connect(&self.url, 5).await.expect("connect")
    }

    /// Drops the database (closing other sessions on PostgreSQL).
    pub async fn drop_db(self) {
        match self.dialect {
            Dialect::Sqlite => {}
            Dialect::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
                    .await
                    .expect("connect");
                conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                    .await
                    .expect("drop db");
            }
            Dialect::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(&mysql_admin_url())
                    .await
                    .expect("connect");
                conn.execute(format!("DROP DATABASE IF EXISTS {}", self.name).as_str())
                    .await
                    .expect("drop db");
            }
        }
    }

    /// Creates the tables of `schema` (the user's migration, in tests).
    pub async fn create_tables(&self, pool: &DbPool, schema: &Schema) {
        for statement in create_tables(self.dialect, schema) {
            execute(pool, &statement).await;
        }
    }
}

/// Runs a statement on any pool.
pub async fn execute(pool: &DbPool, statement: &str) {
    let result = match pool {
        DbPool::Sqlite(p) => p.execute(statement).await.map(drop),
        DbPool::Postgres(p) => p.execute(statement).await.map(drop),
        DbPool::MySql(p) => p.execute(statement).await.map(drop),
        _ => unreachable!(),
    };
    result.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Counts rows of a table with sqlx directly.
pub async fn count(pool: &DbPool, table: &str) -> i64 {
    let statement = format!("SELECT COUNT(*) FROM {table}");
    match pool {
        DbPool::Sqlite(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
        DbPool::Postgres(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
        DbPool::MySql(p) => sqlx::query_scalar(&statement).fetch_one(p).await,
        _ => unreachable!(),
    }
    .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

/// `CREATE TABLE` statements for `schema` in `dialect`.
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
                        (Dialect::Postgres, FieldType::Text, _) => "TEXT",
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

/// A config for tests: fast polling of other processes' events.
pub fn test_config() -> Config {
    Config {
        poll_interval: Some(std::time::Duration::from_millis(50)),
        ..Config::default()
    }
}

/// Opens a store on `db` with the conformance reducer.
pub async fn conformance_store(db: &TestDb) -> Store {
    Store::builder(flux_capacitor::testing::conformance::reducer())
        .config(test_config())
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// Runs `test` once per backend, each on its own fresh database, dropped after
/// (also when the test panics).
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for dialect in BACKENDS {
        let db = TestDb::new(dialect).await;
        let (name, url) = (db.name.clone(), db.url.clone());
        let keep = TestDb {
            dialect,
            url,
            name,
            _dir: None,
        };
        let outcome = AssertUnwindSafe(test(db)).catch_unwind().await;
        keep.drop_db().await;
        if let Err(panic) = outcome {
            eprintln!("test failed on {dialect:?}");
            std::panic::resume_unwind(panic);
        }
    }
}
