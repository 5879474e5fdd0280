//! SQLite: `BEGIN IMMEDIATE` serializes writers (across processes too), JSON
//! is stored as text (a bare number as an SQL number where the column's
//! affinity would convert it), booleans as 0/1, text compares with
//! `COLLATE BINARY`.

mod schema;
mod syntax;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::error::{BoxDynError, DatabaseError};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow,
};
use sqlx::{Pool, Row as _, Sqlite, SqliteConnection, TypeInfo as _, ValueRef as _};

use super::backend::Driver;
use super::builder::Bind;
use super::codec::{self, parse_timestamp};
use super::syntax::Syntax;
use crate::db::Dialect;
use crate::schema::DbSchema;

/// A `json` column, selected as it is stored: JSON text, or a bare number
/// stored as an SQL number (see [`crate::schema::Column::bind_json_numbers`];
/// also what SQLite made of number-like text written earlier), read as that
/// number exactly rather than through SQLite's 15-digit text form.
fn decode_json(row: &SqliteRow, index: usize) -> Result<Option<Value>, sqlx::Error> {
    let stored = row.try_get_raw(index)?.type_info().name().to_owned();
    match stored.as_str() {
        "NULL" => Ok(None),
        "INTEGER" => Ok(Some(codec::number_value(
            row.try_get_unchecked::<i64, _>(index)?.into(),
        ))),
        "REAL" => Ok(Some(codec::real_value(row.try_get_unchecked::<f64, _>(index)?))),
        _ => codec::json_value(row.try_get_unchecked::<Option<String>, _>(index)?),
    }
}

#[async_trait]
impl Driver for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
    const SCHEMES: &'static [&'static str] = &["sqlite"];
    const SYNTAX: &'static dyn Syntax = &syntax::SqliteSyntax;
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const MIGRATION: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_events (
            seq INTEGER PRIMARY KEY NOT NULL,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            meta TEXT,
            error INTEGER NOT NULL DEFAULT 0,
            timestamp TEXT NOT NULL,
            changeset_hash TEXT
        )",
        "CREATE INDEX IF NOT EXISTS flux_events_type ON flux_events (type)",
        "CREATE INDEX IF NOT EXISTS flux_events_timestamp ON flux_events (timestamp)",
        // The icelog's manifest (see `crate::icelog`).
        "CREATE TABLE IF NOT EXISTS flux_icelog (
            segment TEXT PRIMARY KEY NOT NULL,
            first_seq INTEGER NOT NULL UNIQUE,
            last_seq INTEGER NOT NULL,
            first_time TEXT NOT NULL,
            last_time TEXT NOT NULL,
            events INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            crc_compressed INTEGER NOT NULL,
            crc_events INTEGER NOT NULL,
            location TEXT NOT NULL
        )",
        // The frozen events' ids (see `crate::icelog`): a resend stays committed once.
        "CREATE TABLE IF NOT EXISTS flux_icelog_ids (
            id TEXT PRIMARY KEY NOT NULL,
            seq INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS flux_icelog_ids_seq ON flux_icelog_ids (seq)",
    ];
    const SAGA_TABLES: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_sagas (
            name TEXT NOT NULL PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            state TEXT NOT NULL,
            holder TEXT,
            lease_until INTEGER NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS flux_saga_effects (
            effect_key TEXT NOT NULL PRIMARY KEY,
            saga TEXT NOT NULL,
            effect TEXT NOT NULL,
            input TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_at INTEGER NOT NULL,
            last_error TEXT,
            parked INTEGER NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS flux_saga_timers (
            timer_key TEXT NOT NULL PRIMARY KEY,
            saga TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            event TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS flux_saga_effects_due ON flux_saga_effects (saga, parked, next_at)",
        "CREATE INDEX IF NOT EXISTS flux_saga_timers_due ON flux_saga_timers (saga, due_at)",
    ];
    const HASH_COLUMN: (&'static str, &'static str) = (
        "SELECT COUNT(*) FROM pragma_table_info('flux_events') WHERE name = 'changeset_hash'",
        "ALTER TABLE flux_events ADD COLUMN changeset_hash TEXT",
    );

    /// `sqlite://notes.db` (file created if missing, WAL journal), or
    /// `sqlite::memory:` (one connection, kept open: each connection would
    /// be a database of its own).
    async fn connect(url: &str, max_connections: u32) -> Result<Pool<Sqlite>, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(30));
        if url.contains(":memory:") || url.contains("mode=memory") {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            // Switching a new file to WAL takes an exclusive lock without
            // waiting for it: several processes opening one new file at once
            // get `database is locked` (code 5) and try again.
            let options = options.journal_mode(SqliteJournalMode::Wal);
            let mut attempts = 0;
            loop {
                let opened = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with(options.clone())
                    .await;
                match opened {
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") && attempts < 100 => {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(10 + 5 * attempts)).await;
                    }
                    opened => return opened,
                }
            }
        }
    }

    async fn introspect(conn: &mut SqliteConnection) -> Result<DbSchema, sqlx::Error> {
        schema::introspect(conn).await
    }

    async fn batchable_tables(conn: &mut SqliteConnection) -> Result<HashSet<String>, sqlx::Error> {
        schema::batchable_tables(conn).await
    }

    fn add<'q>(args: &mut SqliteArguments<'q>, bind: &'q Bind) -> Result<(), BoxDynError> {
        codec::add_bind::<Sqlite>(args, bind)
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn decode(row: &SqliteRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
        if ty == FieldType::Json {
            return decode_json(row, index);
        }
        codec::decode_unchecked::<Sqlite>(row, index, ty)
    }

    fn decode_event(row: &SqliteRow) -> Result<StoredEvent, sqlx::Error> {
        // The timestamp is stored as its RFC 3339 text.
        codec::decode_event::<Sqlite>(row, codec::parse_id(&row.try_get::<String, _>(1)?)?, row.try_get(6)?)
    }

    fn decode_time(row: &SqliteRow, index: usize) -> Result<DateTime<Utc>, sqlx::Error> {
        parse_timestamp(&row.try_get::<String, _>(index)?)
    }

    fn is_missing(err: &dyn DatabaseError) -> bool {
        // SQLITE_ERROR (1) is every kind of error: only the message tells.
        err.message().starts_with("no such table")
    }
}
