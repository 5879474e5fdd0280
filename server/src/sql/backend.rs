//! The store's database layer as three object-safe traits — [`Backend`] (a
//! pool), [`WriterConn`] (the writer's kept connection) and [`WriteTx`] (the
//! writer's transaction) — implemented once, generically, for sqlx's
//! `Pool<DB>`, `PoolConnection<DB>` and `Transaction<DB>` of every database
//! `DB` that implements [`Driver`]: the few things each dialect does its own
//! way (connecting, the store's tables, introspection, the writers' lock,
//! binding and decoding). One `impl Driver` per dialect folder, as sqlx's
//! `AnyConnectionBackend` has one `impl` per driver; callers never name a
//! dialect.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, Row, StoredEvent};
use futures::TryStreamExt;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::error::{BoxDynError, DatabaseError};
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Executor, IntoArguments, Pool, Transaction};

use super::builder::{Bind, Sql};
use super::syntax::Syntax;
use super::{Dialect, read};
use crate::EventQuery;
use crate::schema::{Column, DbSchema};
use crate::subscribe::event_bytes;

type Result<T, E = sqlx::Error> = std::result::Result<T, E>;

/// The last event's `seq` and timestamp.
pub(crate) type LastEvent = (u64, DateTime<Utc>);

/// What a dialect does its own way, implemented on its sqlx database type
/// in the dialect's folder.
#[async_trait]
pub(crate) trait Driver: Database {
    /// The dialect's name in [`Dialect`].
    const DIALECT: Dialect;
    /// URL schemes [`crate::DbPool::connect`] opens with this driver.
    const SCHEMES: &'static [&'static str];
    /// How statements are spelled.
    const SYNTAX: &'static dyn Syntax;
    /// The statement starting the writer's transaction, when not `BEGIN`.
    const BEGIN_WRITE: Option<&'static str> = None;

    /// The store's own tables, created if missing when the store opens.
    const MIGRATION: &'static [&'static str];
    /// The sagas' tables (`flux_sagas`, `flux_saga_effects`,
    /// `flux_saga_timers`: see [`crate::saga`]), created after
    /// [`Driver::MIGRATION`] under the same lock.
    const SAGA_TABLES: &'static [&'static str];
    /// The log's `changeset_hash` column, added (nullable: old rows keep
    /// `NULL`) to a log made before the store kept hashes, after
    /// [`Driver::MIGRATION`] under the same lock: a query counting the
    /// column (0 or 1), and the statement adding it.
    const HASH_COLUMN: (&'static str, &'static str);
    /// How migrations (the store's tables, and an app's with
    /// [`crate::DbPool::run_migrations`]) keep out of each other's way when
    /// several instances start at once.
    const MIGRATION_LOCK: MigrationLock = MigrationLock::Writers;
    /// How an app's migrations are serialized, when not as the store's own.
    const APP_MIGRATION_LOCK: MigrationLock = Self::MIGRATION_LOCK;
    /// The session lock (take, release) that serializes the store's start-up
    /// work on its own tables beyond the migration (the row versions tables)
    /// across instances, where concurrent DDL races (`CREATE TABLE IF NOT
    /// EXISTS` on PostgreSQL); `None` where DDL is serialized anyway (SQLite
    /// takes the database's write lock for it).
    const STARTUP_LOCK: Option<(&'static str, &'static str)> = None;

    /// Opens a pool for `url` (one of [`Driver::SCHEMES`]).
    async fn connect(url: &str, max_connections: u32) -> Result<Pool<Self>>;

    /// Takes the writers' lock inside the writer's open transaction.
    async fn lock(_conn: &mut Self::Connection) -> Result<()> {
        Ok(())
    }

    /// Tells other instances, when the writer's transaction commits, that
    /// the log's head is now `head` (PostgreSQL: `NOTIFY`). Without
    /// notifications, they find out by polling ([`crate::Config::poll_interval`]).
    async fn notify(_conn: &mut Self::Connection, _head: u64) -> Result<()> {
        Ok(())
    }

    /// A listener for other instances' [`Driver::notify`], on a connection
    /// of its own; `None` when the database has no notifications.
    async fn listen(_pool: &Pool<Self>) -> Result<Option<Box<dyn Listener>>> {
        Ok(None)
    }

    /// Reads the read model's schema.
    async fn introspect(conn: &mut Self::Connection) -> Result<DbSchema>;

    /// Tables multi-row statements may write (see [`super::batch`]).
    async fn batchable_tables(conn: &mut Self::Connection) -> Result<HashSet<String>>;

    /// Adds a parameter (usually [`super::codec::add_bind`]).
    fn add<'q>(args: &mut Self::Arguments<'q>, bind: &'q Bind) -> Result<(), BoxDynError>;

    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Column `index` of `row`, selected by [`Syntax::select_expr`] for `ty`
    /// (`None`: SQL `NULL`).
    fn decode(row: &Self::Row, index: usize, ty: FieldType) -> Result<Option<Value>>;

    /// A log row selected by [`Syntax::event_columns`].
    fn decode_event(row: &Self::Row) -> Result<StoredEvent>;

    /// The log's `timestamp` column at `index`.
    fn decode_time(row: &Self::Row, index: usize) -> Result<DateTime<Utc>>;

    /// Whether `err` says a table (or the whole database) is not there: a
    /// database dropped, or its tables, under a running store.
    fn is_missing(err: &dyn DatabaseError) -> bool;
}

/// How a dialect serializes migrations across processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MigrationLock {
    /// Inside the writer's transaction, holding the writers' lock (DDL is
    /// transactional): others wait, then find the work done.
    Writers,
    /// Around the work on one connection, with these statements taking and
    /// releasing a session lock (DDL that commits by itself).
    Named { take: &'static str, release: &'static str },
    /// sqlx's migrator locks by itself (and may run migrations that cannot
    /// run in a transaction).
    Migrator,
}

/// Statements on one connection, written once for every [`Driver`] (the
/// bounds sqlx's executors need live here only).
pub(crate) trait Statements: Driver {
    fn execute<'a>(conn: &'a mut Self::Connection, sql: &'a Sql) -> BoxFuture<'a, Result<u64>>;
    fn fetch<'a>(conn: &'a mut Self::Connection, sql: &'a Sql) -> BoxFuture<'a, Result<Vec<Self::Row>>>;
    /// Streams the log rows `sql` selects, stopping after the event that
    /// brings their size to `max_bytes` (the rest is never decoded).
    fn fetch_events_within<'a>(
        conn: &'a mut Self::Connection,
        sql: &'a Sql,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>>>;
    /// Runs an app's migrations on `conn` (sqlx's own lock taken or not).
    fn run_migrator<'a>(
        conn: &'a mut Self::Connection,
        migrator: &'a Migrator,
    ) -> BoxFuture<'a, Result<(), MigrateError>>;
}

fn arguments<'q, DB: Driver>(sql: &'q Sql) -> Result<DB::Arguments<'q>> {
    let mut args = DB::Arguments::default();
    for bind in &sql.binds {
        DB::add(&mut args, bind).map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

impl<DB: Driver> Statements for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    DB::Connection: Migrate,
{
    fn run_migrator<'a>(
        conn: &'a mut DB::Connection,
        migrator: &'a Migrator,
    ) -> BoxFuture<'a, Result<(), MigrateError>> {
        Box::pin(migrator.run_direct(conn))
    }

    fn execute<'a>(conn: &'a mut DB::Connection, sql: &'a Sql) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let done = sqlx::query_with(&sql.text, arguments::<DB>(sql)?).execute(conn).await?;
            Ok(DB::rows_affected(&done))
        })
    }

    fn fetch<'a>(conn: &'a mut DB::Connection, sql: &'a Sql) -> BoxFuture<'a, Result<Vec<DB::Row>>> {
        Box::pin(async move { sqlx::query_with(&sql.text, arguments::<DB>(sql)?).fetch_all(conn).await })
    }

    fn fetch_events_within<'a>(
        conn: &'a mut DB::Connection,
        sql: &'a Sql,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>>> {
        Box::pin(async move {
            let mut rows = sqlx::query_with(&sql.text, arguments::<DB>(sql)?).fetch(conn);
            let (mut events, mut bytes) = (Vec::new(), 0);
            while let Some(row) = rows.try_next().await? {
                let event = DB::decode_event(&row)?;
                bytes += event_bytes(&event);
                events.push(event);
                if bytes >= max_bytes {
                    break;
                }
            }
            Ok(events)
        })
    }
}

/// Most ids one [`read::events_by_id_sql`] binds.
pub(crate) const IDS_PER_QUERY: usize = 500;

async fn events_by_id<DB: Statements>(conn: &mut DB::Connection, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>> {
    let mut events = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        for row in DB::fetch(conn, &read::events_by_id_sql(DB::DIALECT, chunk)).await? {
            events.push(DB::decode_event(&row)?);
        }
    }
    Ok(events)
}

async fn last_event<DB: Statements>(conn: &mut DB::Connection) -> Result<Option<LastEvent>> {
    let rows = DB::fetch(conn, &read::last_event_sql(DB::DIALECT)).await?;
    rows.first()
        .map(|row| {
            let seq = DB::decode(row, 0, FieldType::Integer)?.and_then(|v| v.as_u64());
            Ok((seq.unwrap_or(0), DB::decode_time(row, 1)?))
        })
        .transpose()
}

/// Decodes `rows` selected by [`read::find_sql`] for `columns`; `NULL`s are absent.
fn decode_rows<DB: Driver>(rows: &[DB::Row], columns: &[&Column]) -> Result<Vec<Row>> {
    rows.iter()
        .map(|row| {
            let mut out = Row::new();
            for (i, column) in columns.iter().enumerate() {
                if let Some(value) = DB::decode(row, i, column.ty)? {
                    out.insert(column.name.clone(), value);
                }
            }
            Ok(out)
        })
        .collect()
}

/// A database the store runs on: a pool of one of the registered dialects.
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    fn dialect(&self) -> Dialect;
    fn max_connections(&self) -> u32;
    async fn close(&self);
    async fn migrate(&self) -> Result<()>;
    /// Runs `work` holding [`Driver::STARTUP_LOCK`] on a connection of its
    /// own (so `work` itself uses the pool's other connections; with a pool
    /// of one connection, without the lock).
    async fn serialized_startup<'a>(
        &'a self,
        work: BoxFuture<'a, Result<DbSchema, crate::StoreError>>,
    ) -> Result<DbSchema, crate::StoreError>;
    async fn introspect(&self) -> Result<DbSchema>;
    async fn batchable_tables(&self) -> Result<HashSet<String>>;
    /// The `seq` of the last event in the log (0 when empty).
    async fn last_seq(&self) -> Result<u64>;
    /// Runs a statement outside the writer's transaction.
    async fn execute(&self, sql: &Sql) -> Result<u64>;
    /// Runs a `SELECT` of `columns` and decodes its rows.
    async fn fetch_rows(&self, sql: &Sql, columns: &[&Column]) -> Result<Vec<Row>>;
    /// Reads the event log.
    async fn fetch_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>>;
    /// Reads the log rows a `SELECT` of [`Syntax::event_columns`] gives.
    async fn fetch_events_sql(&self, sql: &Sql) -> Result<Vec<StoredEvent>>;
    /// Reads the event log, stopping after the event that brings the page's
    /// size ([`event_bytes`]) to `max_bytes`.
    async fn fetch_events_within(&self, query: &EventQuery, max_bytes: usize) -> Result<Vec<StoredEvent>>;
    /// The log's events whose `id` is one of `ids` (those that are there), in `seq` order.
    async fn events_by_id(&self, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>>;
    /// A connection for the writer to keep between its transactions.
    async fn writer_conn(&self) -> Result<Box<dyn WriterConn>>;
    /// Starts the writer's transaction, holding the writers' lock, on a
    /// pool connection of its own.
    async fn begin_write(&self) -> Result<Box<dyn WriteTx>>;
    /// Listens for other instances' commits; `None` when this database
    /// has no notifications.
    async fn listen(&self) -> Result<Option<Box<dyn Listener>>>;
    /// Runs an app's migrations under the dialect's [`MigrationLock`].
    async fn run_migrations(&self, migrator: &Migrator) -> Result<(), MigrateError>;
    /// Whether `err` says a table or the database is missing ([`Driver::is_missing`]).
    fn is_missing(&self, err: &sqlx::Error) -> bool;
}

/// What runs under the migration lock.
enum Work<'a> {
    /// The store's own tables, then the columns added since ([`add_columns`]).
    Statements(&'a [Sql]),
    /// An app's migrations.
    Migrator(&'a Migrator),
}

async fn work<DB: Statements>(conn: &mut DB::Connection, work: Work<'_>) -> Result<(), MigrateError> {
    match work {
        Work::Statements(statements) => {
            for statement in statements {
                DB::execute(conn, statement).await?;
            }
            add_columns::<DB>(conn).await?;
            Ok(())
        }
        Work::Migrator(migrator) => DB::run_migrator(conn, migrator).await,
    }
}

/// Adds the log columns a log made by an earlier version lacks
/// ([`Driver::HASH_COLUMN`]).
async fn add_columns<DB: Statements>(conn: &mut DB::Connection) -> Result<()> {
    let (probe, add) = DB::HASH_COLUMN;
    let rows = DB::fetch(conn, &Sql::fixed(DB::DIALECT, probe)).await?;
    let found = match rows.first() {
        Some(row) => DB::decode(row, 0, FieldType::Integer)?.and_then(|v| v.as_u64()),
        None => None,
    };
    if found.unwrap_or(0) == 0 {
        tracing::info!("adding the changeset_hash column to the event log (its old events keep none)");
        DB::execute(conn, &Sql::fixed(DB::DIALECT, add)).await?;
    }
    Ok(())
}

/// Runs `what` on one connection under `lock`.
async fn locked<DB: Statements>(pool: &Pool<DB>, lock: MigrationLock, what: Work<'_>) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?;
    match lock {
        MigrationLock::Migrator => work::<DB>(&mut conn, what).await?,
        MigrationLock::Writers => {
            let mut tx = begin_write::<DB>(&mut conn).await?;
            work::<DB>(&mut tx, what).await?;
            tx.commit().await?;
        }
        MigrationLock::Named { take, release } => {
            DB::execute(&mut conn, &Sql::fixed(DB::DIALECT, take)).await?;
            let done = work::<DB>(&mut conn, what).await;
            DB::execute(&mut conn, &Sql::fixed(DB::DIALECT, release)).await?;
            done?;
        }
    }
    Ok(())
}

/// Notifications of commits by other instances ([`Driver::listen`]).
#[async_trait]
pub(crate) trait Listener: Send {
    /// Waits for the next notification: `Some(head)`, the log's head after
    /// a commit; `None` when the connection was lost (notifications may
    /// have been missed) and is back. An error: it cannot reconnect now.
    async fn next(&mut self) -> Result<Option<u64>>;
}

/// The writer's kept pool connection: taking one from the pool for each
/// transaction costs the pool's health check (a round trip) on taking it and
/// another on giving it back.
#[async_trait]
pub(crate) trait WriterConn: Send {
    /// Starts the writer's transaction on this connection, holding the writers' lock.
    async fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>>;
}

/// The writer's open transaction, holding the writers' lock; or a savepoint
/// within it ([`WriteTx::savepoint`]), which commits into its parent.
/// Dropped without `commit`, it rolls back.
#[async_trait]
pub(crate) trait WriteTx: Send {
    async fn execute(&mut self, sql: &Sql) -> Result<u64>;
    async fn introspect(&mut self) -> Result<DbSchema>;
    /// The last event's `seq` and timestamp, read under the writers' lock.
    async fn last_event(&mut self) -> Result<Option<LastEvent>>;
    /// The log's events whose `id` is one of `ids`, read under the writers' lock.
    async fn events_by_id(&mut self, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>>;
    /// Tells other instances, on commit, that the log's head is `head`.
    async fn notify(&mut self, head: u64) -> Result<()>;
    /// A savepoint: a nested transaction (sqlx's nested `begin`).
    async fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

async fn begin_write<DB: Statements>(conn: &mut DB::Connection) -> Result<Transaction<'_, DB>> {
    let mut tx = match DB::BEGIN_WRITE {
        Some(statement) => conn.begin_with(statement).await?,
        None => conn.begin().await?,
    };
    DB::lock(&mut tx).await?;
    Ok(tx)
}

#[async_trait]
impl<DB: Statements> Backend for Pool<DB> {
    fn dialect(&self) -> Dialect {
        DB::DIALECT
    }

    fn max_connections(&self) -> u32 {
        self.options().get_max_connections()
    }

    async fn close(&self) {
        Pool::close(self).await;
    }

    async fn migrate(&self) -> Result<()> {
        let statements: Vec<Sql> = DB::MIGRATION
            .iter()
            .chain(DB::SAGA_TABLES)
            .map(|text| Sql::fixed(DB::DIALECT, *text))
            .collect();
        locked(self, DB::MIGRATION_LOCK, Work::Statements(&statements))
            .await
            .map_err(|err| match err {
                MigrateError::Execute(err) => err,
                other => sqlx::Error::Migrate(Box::new(other)),
            })
    }

    async fn serialized_startup<'a>(
        &'a self,
        work: BoxFuture<'a, Result<DbSchema, crate::StoreError>>,
    ) -> Result<DbSchema, crate::StoreError> {
        let Some((take, release)) = DB::STARTUP_LOCK.filter(|_| self.max_connections() > 1) else {
            return work.await;
        };
        let mut conn = self.acquire().await?;
        DB::execute(&mut conn, &Sql::fixed(DB::DIALECT, take)).await?;
        let done = work.await;
        DB::execute(&mut conn, &Sql::fixed(DB::DIALECT, release)).await?;
        done
    }

    async fn run_migrations(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        locked(self, DB::APP_MIGRATION_LOCK, Work::Migrator(migrator)).await
    }

    fn is_missing(&self, err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(e) if DB::is_missing(&**e))
    }

    async fn introspect(&self) -> Result<DbSchema> {
        DB::introspect(&mut *self.acquire().await?).await
    }

    async fn batchable_tables(&self) -> Result<HashSet<String>> {
        DB::batchable_tables(&mut *self.acquire().await?).await
    }

    async fn last_seq(&self) -> Result<u64> {
        Ok(last_event::<DB>(&mut *self.acquire().await?)
            .await?
            .map_or(0, |(seq, _)| seq))
    }

    async fn execute(&self, sql: &Sql) -> Result<u64> {
        DB::execute(&mut *self.acquire().await?, sql).await
    }

    async fn fetch_rows(&self, sql: &Sql, columns: &[&Column]) -> Result<Vec<Row>> {
        let rows = DB::fetch(&mut *self.acquire().await?, sql).await?;
        decode_rows::<DB>(&rows, columns)
    }

    async fn fetch_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>> {
        let sql = read::events_sql(DB::DIALECT, query);
        let rows = DB::fetch(&mut *self.acquire().await?, &sql).await?;
        rows.iter().map(DB::decode_event).collect()
    }

    async fn fetch_events_sql(&self, sql: &Sql) -> Result<Vec<StoredEvent>> {
        let rows = DB::fetch(&mut *self.acquire().await?, sql).await?;
        rows.iter().map(DB::decode_event).collect()
    }

    async fn fetch_events_within(&self, query: &EventQuery, max_bytes: usize) -> Result<Vec<StoredEvent>> {
        let sql = read::events_sql(DB::DIALECT, query);
        DB::fetch_events_within(&mut *self.acquire().await?, &sql, max_bytes).await
    }

    async fn events_by_id(&self, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>> {
        events_by_id::<DB>(&mut *self.acquire().await?, ids).await
    }

    async fn writer_conn(&self) -> Result<Box<dyn WriterConn>> {
        Ok(Box::new(self.acquire().await?))
    }

    async fn begin_write(&self) -> Result<Box<dyn WriteTx>> {
        let mut tx = match DB::BEGIN_WRITE {
            Some(statement) => self.begin_with(statement).await?,
            None => self.begin().await?,
        };
        DB::lock(&mut tx).await?;
        Ok(Box::new(tx))
    }

    async fn listen(&self) -> Result<Option<Box<dyn Listener>>> {
        DB::listen(self).await
    }
}

#[async_trait]
impl<DB: Statements> WriterConn for PoolConnection<DB> {
    async fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(begin_write::<DB>(&mut **self).await?))
    }
}

#[async_trait]
impl<DB: Statements> WriteTx for Transaction<'_, DB> {
    async fn execute(&mut self, sql: &Sql) -> Result<u64> {
        DB::execute(&mut **self, sql).await
    }

    async fn introspect(&mut self) -> Result<DbSchema> {
        DB::introspect(&mut **self).await
    }

    async fn last_event(&mut self) -> Result<Option<LastEvent>> {
        last_event::<DB>(&mut **self).await
    }

    async fn events_by_id(&mut self, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>> {
        events_by_id::<DB>(&mut **self, ids).await
    }

    async fn notify(&mut self, head: u64) -> Result<()> {
        DB::notify(&mut **self, head).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(Connection::begin(&mut **self).await?))
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Transaction::commit(*self).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Transaction::rollback(*self).await
    }
}
