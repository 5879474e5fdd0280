//! PostgreSQL: a transaction-scoped advisory lock serializes writers (across
//! processes too), `NOTIFY` tells other instances of each commit, JSON columns are `json`/`jsonb`, text compares with
//! `COLLATE "C"`. The log's `payload` and `meta` are `TEXT` (not `JSONB`,
//! which rewrites numbers such as `1e17` and would make replay differ from
//! the live dispatch); a log made with `JSONB` columns is converted when the
//! store opens.

mod listen;
mod schema;
mod syntax;

use std::collections::HashSet;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::error::{BoxDynError, DatabaseError};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::{PgConnection, Pool, Postgres, Row as _};

use super::backend::{Driver, Listener, MigrationLock};
use super::builder::Bind;
use super::codec;
use super::syntax::Syntax;
use crate::db::Dialect;
use crate::schema::DbSchema;

/// The advisory lock key of the store's writers ("flux" in ASCII).
pub(crate) const LOCK_KEY: i64 = 0x666c_7578;

#[async_trait]
impl Driver for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
    const SCHEMES: &'static [&'static str] = &["postgres", "postgresql"];
    const SYNTAX: &'static dyn Syntax = &syntax::PostgresSyntax;
    const MIGRATION: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_events (
            seq BIGINT PRIMARY KEY,
            id UUID NOT NULL UNIQUE,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            meta TEXT,
            error BOOLEAN NOT NULL DEFAULT FALSE,
            timestamp TIMESTAMPTZ NOT NULL,
            changeset_hash TEXT
        )",
        // A log made before the log kept its JSON as text (`JSONB` then):
        // converted once, in the migration's transaction. JSONB had already
        // rewritten those events' numbers; what is stored from now on stays
        // exactly as written.
        "DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = current_schema() AND table_name = 'flux_events'
                         AND column_name IN ('payload', 'meta') AND data_type IN ('jsonb', 'json')) THEN
                ALTER TABLE flux_events
                    ALTER COLUMN payload TYPE TEXT USING payload::text,
                    ALTER COLUMN meta TYPE TEXT USING meta::text;
            END IF;
        END
        $$",
        "CREATE INDEX IF NOT EXISTS flux_events_type ON flux_events (type)",
        "CREATE INDEX IF NOT EXISTS flux_events_timestamp ON flux_events (timestamp)",
        // The icelog's manifest (see `crate::icelog`).
        "CREATE TABLE IF NOT EXISTS flux_icelog (
            segment TEXT PRIMARY KEY,
            first_seq BIGINT NOT NULL UNIQUE,
            last_seq BIGINT NOT NULL,
            first_time TEXT NOT NULL,
            last_time TEXT NOT NULL,
            events BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            crc_compressed BIGINT NOT NULL,
            crc_events BIGINT NOT NULL,
            location TEXT NOT NULL
        )",
        // The frozen events' ids (see `crate::icelog`): a resend stays committed once.
        "CREATE TABLE IF NOT EXISTS flux_icelog_ids (
            id UUID PRIMARY KEY NOT NULL,
            seq BIGINT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS flux_icelog_ids_seq ON flux_icelog_ids (seq)",
    ];
    const SAGA_TABLES: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_sagas (
            name TEXT NOT NULL PRIMARY KEY,
            last_seq BIGINT NOT NULL,
            state TEXT NOT NULL,
            holder TEXT,
            lease_until BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS flux_saga_effects (
            effect_key TEXT NOT NULL PRIMARY KEY,
            saga TEXT NOT NULL,
            effect TEXT NOT NULL,
            input TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_at BIGINT NOT NULL,
            last_error TEXT,
            parked BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS flux_saga_timers (
            timer_key TEXT NOT NULL PRIMARY KEY,
            saga TEXT NOT NULL,
            due_at BIGINT NOT NULL,
            event TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS flux_saga_effects_due ON flux_saga_effects (saga, parked, next_at)",
        "CREATE INDEX IF NOT EXISTS flux_saga_timers_due ON flux_saga_timers (saga, due_at)",
    ];
    const HASH_COLUMN: (&'static str, &'static str) = (
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = 'flux_events' AND column_name = 'changeset_hash'",
        "ALTER TABLE flux_events ADD COLUMN changeset_hash TEXT",
    );

    /// sqlx's migrator takes an advisory lock that works here, and some
    /// migrations (`CREATE INDEX CONCURRENTLY`) cannot run in a transaction.
    const APP_MIGRATION_LOCK: MigrationLock = MigrationLock::Migrator;
    /// A session advisory lock ("fluxstar" in ASCII): concurrent `CREATE TABLE IF
    /// NOT EXISTS` of one table fails on `pg_class`'s unique index.
    const STARTUP_LOCK: Option<(&'static str, &'static str)> = Some((
        "SELECT pg_advisory_lock(7380403049546932594)",
        "SELECT pg_advisory_unlock(7380403049546932594)",
    ));

    async fn connect(url: &str, max_connections: u32) -> Result<Pool<Postgres>, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(PgConnectOptions::from_str(url)?)
            .await
    }

    /// Held until the transaction ends.
    async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn notify(conn: &mut PgConnection, head: u64) -> Result<(), sqlx::Error> {
        listen::notify(conn, head).await
    }

    async fn listen(pool: &Pool<Postgres>) -> Result<Option<Box<dyn Listener>>, sqlx::Error> {
        listen::listen(pool).await.map(Some)
    }

    async fn introspect(conn: &mut PgConnection) -> Result<DbSchema, sqlx::Error> {
        schema::introspect(conn).await
    }

    async fn batchable_tables(conn: &mut PgConnection) -> Result<HashSet<String>, sqlx::Error> {
        schema::batchable_tables(conn).await
    }

    fn add(args: &mut PgArguments, bind: &Bind) -> Result<(), BoxDynError> {
        codec::add_bind::<Postgres>(args, bind)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn decode(row: &PgRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
        Ok(match ty {
            FieldType::Integer => row.try_get::<Option<i64>, _>(index)?.map(Value::from),
            FieldType::Boolean => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
            FieldType::Real => row.try_get::<Option<f64>, _>(index)?.map(codec::real_value),
            FieldType::Text => row.try_get::<Option<String>, _>(index)?.map(Value::String),
            FieldType::Json => codec::json_value(row.try_get::<Option<String>, _>(index)?)?,
        })
    }

    fn decode_event(row: &PgRow) -> Result<StoredEvent, sqlx::Error> {
        codec::decode_event::<Postgres>(
            row,
            row.try_get(1)?,
            codec::format_timestamp(Self::decode_time(row, 6)?),
        )
    }

    fn decode_time(row: &PgRow, index: usize) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(index)
    }

    fn is_missing(err: &dyn DatabaseError) -> bool {
        // undefined_table; invalid_catalog_name (connecting to a dropped database)
        matches!(err.code().as_deref(), Some("42P01" | "3D000"))
    }
}
