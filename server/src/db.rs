//! [`DbPool`]: the connection pool of one of the three backends, and the
//! writer's transaction over it. Each method dispatches to its dialect module.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flux_capacitor::{Row, StoredEvent};
use futures::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{MySql, MySqlPool, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::EventQuery;
use crate::schema::{Column, DbSchema};
use crate::sql::{self, Dialect, Sql, mysql, postgres, sqlite};

/// The database a store runs on: a sqlx pool of one of the supported backends.
/// Use it to query the read model directly with sqlx (no lock-in).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DbPool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
    /// MySQL or MariaDB.
    MySql(MySqlPool),
}

impl From<SqlitePool> for DbPool {
    fn from(pool: SqlitePool) -> Self {
        DbPool::Sqlite(pool)
    }
}

impl From<PgPool> for DbPool {
    fn from(pool: PgPool) -> Self {
        DbPool::Postgres(pool)
    }
}

impl From<MySqlPool> for DbPool {
    fn from(pool: MySqlPool) -> Self {
        DbPool::MySql(pool)
    }
}

impl DbPool {
    /// Connects by URL: `sqlite://notes.db` (file created if missing, WAL
    /// journal), `sqlite::memory:` (one connection, kept open), `postgres://...`,
    /// `mysql://...` or `mariadb://...`, with at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<DbPool, sqlx::Error> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(30));
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool = if memory {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .connect_with(options)
                        .await?
                } else {
                    SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                        .await?
                };
                Ok(DbPool::Sqlite(pool))
            }
            "postgres" | "postgresql" => Ok(DbPool::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with(PgConnectOptions::from_str(url)?)
                    .await?,
            )),
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                Ok(DbPool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max_connections)
                        .connect_with(MySqlConnectOptions::from_str(&url)?)
                        .await?,
                ))
            }
            _ => Err(sqlx::Error::Configuration(
                format!("unsupported database URL scheme `{scheme}`").into(),
            )),
        }
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            DbPool::Sqlite(_) => Dialect::Sqlite,
            DbPool::Postgres(_) => Dialect::Postgres,
            DbPool::MySql(_) => Dialect::MySql,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            DbPool::Sqlite(p) => p.close().await,
            DbPool::Postgres(p) => p.close().await,
            DbPool::MySql(p) => p.close().await,
        }
    }

    /// Creates the store's own tables if missing (idempotent).
    pub(crate) fn migrate<'a>(&'a self) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                DbPool::Sqlite(p) => sqlite::migrate(p).await,
                DbPool::Postgres(p) => postgres::migrate(p).await,
                DbPool::MySql(p) => mysql::migrate(p).await,
            }
        })
    }

    pub(crate) fn introspect<'a>(&'a self) -> BoxFuture<'a, Result<DbSchema, sqlx::Error>> {
        Box::pin(async move {
            match self {
                DbPool::Sqlite(p) => sqlite::introspect(&mut *p.acquire().await?).await,
                DbPool::Postgres(p) => postgres::introspect(&mut *p.acquire().await?).await,
                DbPool::MySql(p) => mysql::introspect(&mut *p.acquire().await?).await,
            }
        })
    }

    /// The `seq` of the last event in the log (0 when empty).
    pub(crate) fn last_seq<'a>(&'a self) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let last = match self {
                DbPool::Sqlite(p) => sqlite::last_event(&mut *p.acquire().await?).await?,
                DbPool::Postgres(p) => postgres::last_event(&mut *p.acquire().await?).await?,
                DbPool::MySql(p) => mysql::last_event(&mut *p.acquire().await?).await?,
            };
            Ok(last.map_or(0, |(seq, _)| seq))
        })
    }

    /// The `seq` of the newest read-model snapshot (0 when none).
    pub(crate) fn last_snapshot_seq<'a>(&'a self) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let select = format!("SELECT MAX(seq) FROM {}", crate::SNAPSHOTS_TABLE);
            let seq: Option<i64> = match self {
                DbPool::Sqlite(p) => sqlx::query_scalar(&select).fetch_one(p).await?,
                DbPool::Postgres(p) => sqlx::query_scalar(&select).fetch_one(p).await?,
                DbPool::MySql(p) => sqlx::query_scalar(&select).fetch_one(p).await?,
            };
            Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
        })
    }

    /// Tables multi-row statements may write (see [`sql::batch`]).
    pub(crate) fn batchable_tables<'a>(
        &'a self,
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                DbPool::Sqlite(p) => sqlite::batchable_tables(&mut *p.acquire().await?).await,
                DbPool::Postgres(p) => postgres::batchable_tables(&mut *p.acquire().await?).await,
                DbPool::MySql(p) => mysql::batchable_tables(&mut *p.acquire().await?).await,
            }
        })
    }

    /// Starts the writer's transaction holding the writers' lock.
    pub(crate) fn begin_write<'a>(&'a self) -> BoxFuture<'a, Result<WriteTx, sqlx::Error>> {
        Box::pin(async move {
            Ok(match self {
                DbPool::Sqlite(p) => WriteTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
                DbPool::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    postgres::lock(&mut tx).await?;
                    WriteTx::Postgres(tx)
                }
                DbPool::MySql(p) => {
                    let mut tx = p.begin().await?;
                    mysql::lock(&mut tx).await?;
                    WriteTx::MySql(tx)
                }
            })
        })
    }

    /// Runs a `SELECT` built by [`sql::find_sql`] and decodes its rows.
    pub(crate) fn fetch_rows<'a>(
        &'a self,
        sql: &'a Sql,
        columns: &'a [&Column],
    ) -> BoxFuture<'a, Result<Vec<Row>, sqlx::Error>> {
        Box::pin(async move {
            macro_rules! rows {
                ($pool:expr, $module:ident) => {{
                    let rows = $module::fetch(&mut *$pool.acquire().await?, sql).await?;
                    rows.iter()
                        .map(|row| {
                            let mut out = Row::new();
                            for (i, column) in columns.iter().enumerate() {
                                if let Some(value) = $module::decode(row, i, column.ty)? {
                                    out.insert(column.name.clone(), value);
                                }
                            }
                            Ok(out)
                        })
                        .collect()
                }};
            }
            match self {
                DbPool::Sqlite(p) => rows!(p, sqlite),
                DbPool::Postgres(p) => rows!(p, postgres),
                DbPool::MySql(p) => rows!(p, mysql),
            }
        })
    }

    /// Reads the event log.
    pub(crate) fn fetch_events<'a>(
        &'a self,
        query: &'a EventQuery,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, sqlx::Error>> {
        Box::pin(async move {
            let sql = sql::events_sql(self.dialect(), query);
            match self {
                DbPool::Sqlite(p) => {
                    let rows = sqlite::fetch(&mut *p.acquire().await?, &sql).await?;
                    rows.iter().map(sqlite::decode_event).collect()
                }
                DbPool::Postgres(p) => {
                    let rows = postgres::fetch(&mut *p.acquire().await?, &sql).await?;
                    rows.iter().map(postgres::decode_event).collect()
                }
                DbPool::MySql(p) => {
                    let rows = mysql::fetch(&mut *p.acquire().await?, &sql).await?;
                    rows.iter().map(mysql::decode_event).collect()
                }
            }
        })
    }
}

/// The last event's `seq` and timestamp.
pub(crate) type LastEvent = (u64, DateTime<Utc>);

/// The writer's open transaction (holding the writers' lock).
pub(crate) enum WriteTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    MySql(Transaction<'static, MySql>),
}

impl WriteTx {
    pub fn execute<'a>(&'a mut self, sql: &'a Sql) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            match self {
                WriteTx::Sqlite(tx) => sqlite::execute(tx, sql).await,
                WriteTx::Postgres(tx) => postgres::execute(tx, sql).await,
                WriteTx::MySql(tx) => mysql::execute(tx, sql).await,
            }
        })
    }

    /// Runs a fixed statement (savepoints).
    pub fn raw<'a>(&'a mut self, statement: &'a str) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                WriteTx::Sqlite(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
                WriteTx::Postgres(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
                WriteTx::MySql(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
            }
        })
    }

    pub fn introspect<'a>(&'a mut self) -> BoxFuture<'a, Result<DbSchema, sqlx::Error>> {
        Box::pin(async move {
            match self {
                WriteTx::Sqlite(tx) => sqlite::introspect(tx).await,
                WriteTx::Postgres(tx) => postgres::introspect(tx).await,
                WriteTx::MySql(tx) => mysql::introspect(tx).await,
            }
        })
    }

    /// The last event's `seq` and timestamp, read under the writers' lock.
    pub fn last_event<'a>(&'a mut self) -> BoxFuture<'a, Result<Option<LastEvent>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                WriteTx::Sqlite(tx) => sqlite::last_event(tx).await,
                WriteTx::Postgres(tx) => postgres::last_event(tx).await,
                WriteTx::MySql(tx) => mysql::last_event(tx).await,
            }
        })
    }

    pub fn insert_event<'a>(
        &'a mut self,
        event: &'a StoredEvent,
        timestamp: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                WriteTx::Sqlite(tx) => sqlite::insert_event(tx, event).await,
                WriteTx::Postgres(tx) => postgres::insert_event(tx, event, timestamp).await,
                WriteTx::MySql(tx) => mysql::insert_event(tx, event, timestamp).await,
            }
        })
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await,
            WriteTx::Postgres(tx) => tx.commit().await,
            WriteTx::MySql(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => tx.rollback().await,
            WriteTx::Postgres(tx) => tx.rollback().await,
            WriteTx::MySql(tx) => tx.rollback().await,
        }
    }
}
