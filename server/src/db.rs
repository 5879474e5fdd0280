//! [`DbPool`]: the connection pool of one of the three backends, and the
//! writer's transaction over it. Each method dispatches to its dialect module.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flux_capacitor::{Row, StoredEvent};
use futures::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Connection, MySql, MySqlPool, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

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

    /// The most connections the pool opens.
    pub(crate) fn max_connections(&self) -> u32 {
        match self {
            DbPool::Sqlite(p) => p.options().get_max_connections(),
            DbPool::Postgres(p) => p.options().get_max_connections(),
            DbPool::MySql(p) => p.options().get_max_connections(),
        }
    }

    /// A connection for the writer to keep between its transactions.
    pub(crate) fn acquire_writer<'a>(&'a self) -> BoxFuture<'a, Result<WriterConn, sqlx::Error>> {
        Box::pin(async move {
            Ok(match self {
                DbPool::Sqlite(p) => WriterConn::Sqlite(p.acquire().await?),
                DbPool::Postgres(p) => WriterConn::Postgres(p.acquire().await?),
                DbPool::MySql(p) => WriterConn::MySql(p.acquire().await?),
            })
        })
    }

    /// Starts the writer's transaction holding the writers' lock.
    pub(crate) fn begin_write<'a>(&'a self) -> BoxFuture<'a, Result<WriteTx, sqlx::Error>> {
        Box::pin(async move {
            Ok(match self {
                DbPool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
                DbPool::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    postgres::lock(&mut tx).await?;
                    Tx::Postgres(tx)
                }
                DbPool::MySql(p) => {
                    let mut tx = p.begin().await?;
                    mysql::lock(&mut tx).await?;
                    Tx::MySql(tx)
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

/// A pool connection the writer keeps between transactions while it is
/// busy: taking one from the pool for each transaction costs the pool's
/// health check (a round trip) on taking it and another on giving it back.
pub(crate) enum WriterConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
    MySql(PoolConnection<MySql>),
}

impl WriterConn {
    /// Starts the writer's transaction on this connection, holding the writers' lock.
    pub(crate) fn begin(&mut self) -> BoxFuture<'_, Result<Tx<'_>, sqlx::Error>> {
        Box::pin(async move {
            Ok(match self {
                WriterConn::Sqlite(c) => Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
                WriterConn::Postgres(c) => {
                    let mut tx = c.begin().await?;
                    postgres::lock(&mut tx).await?;
                    Tx::Postgres(tx)
                }
                WriterConn::MySql(c) => {
                    let mut tx = c.begin().await?;
                    mysql::lock(&mut tx).await?;
                    Tx::MySql(tx)
                }
            })
        })
    }
}

/// The writer's open transaction (holding the writers' lock) on a pool
/// connection of its own.
pub(crate) type WriteTx = Tx<'static>;

/// A writer's open transaction (holding the writers' lock), on a pool
/// connection of its own (`'static`, [`WriteTx`]) or on a [`WriterConn`].
pub(crate) enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
    MySql(Transaction<'c, MySql>),
}

impl Tx<'_> {
    pub fn execute<'a>(&'a mut self, sql: &'a Sql) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Tx::Sqlite(tx) => sqlite::execute(tx, sql).await,
                Tx::Postgres(tx) => postgres::execute(tx, sql).await,
                Tx::MySql(tx) => mysql::execute(tx, sql).await,
            }
        })
    }

    /// Runs a fixed statement (savepoints).
    pub fn raw<'a>(&'a mut self, statement: &'a str) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                Tx::Sqlite(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
                Tx::Postgres(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
                Tx::MySql(tx) => sqlx::Executor::execute(&mut **tx, statement).await.map(drop),
            }
        })
    }

    pub fn introspect<'a>(&'a mut self) -> BoxFuture<'a, Result<DbSchema, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Tx::Sqlite(tx) => sqlite::introspect(tx).await,
                Tx::Postgres(tx) => postgres::introspect(tx).await,
                Tx::MySql(tx) => mysql::introspect(tx).await,
            }
        })
    }

    /// The last event's `seq` and timestamp, read under the writers' lock.
    pub fn last_event<'a>(&'a mut self) -> BoxFuture<'a, Result<Option<LastEvent>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Tx::Sqlite(tx) => sqlite::last_event(tx).await,
                Tx::Postgres(tx) => postgres::last_event(tx).await,
                Tx::MySql(tx) => mysql::last_event(tx).await,
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
                Tx::Sqlite(tx) => sqlite::insert_event(tx, event).await,
                Tx::Postgres(tx) => postgres::insert_event(tx, event, timestamp).await,
                Tx::MySql(tx) => mysql::insert_event(tx, event, timestamp).await,
            }
        })
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
            Tx::MySql(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
            Tx::MySql(tx) => tx.rollback().await,
        }
    }
}
