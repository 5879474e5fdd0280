//! MySQL / MariaDB: a locking read of the one-row `flux_store_lock` table
//! serializes writers (across processes too), JSON is a `JSON` column (text
//! with a `json_valid` check on MariaDB), booleans are `TINYINT(1)`, and text
//! compares as binary strings unless the column's collation already does.
//! The log's `payload` and `meta` are `LONGTEXT` (utf8mb4, binary): kept as
//! written (MariaDB's `JSON` is the same text; MySQL 8's binary `JSON`, of
//! logs made before, is still read, through `CAST(... AS CHAR)`).

mod schema;
mod syntax;

use std::collections::HashSet;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::error::{BoxDynError, DatabaseError};
use sqlx::mysql::{
    MySqlArguments, MySqlConnectOptions, MySqlDatabaseError, MySqlPoolOptions, MySqlQueryResult, MySqlRow,
};
use sqlx::{MySql, MySqlConnection, Pool, Row as _};

use super::backend::{Driver, MigrationLock};
use super::builder::Bind;
use super::codec;
use super::syntax::Syntax;
use crate::LOCK_TABLE;
use crate::db::Dialect;
use crate::schema::DbSchema;

#[async_trait]
impl Driver for MySql {
    const DIALECT: Dialect = Dialect::MySql;
    const SCHEMES: &'static [&'static str] = &["mysql", "mariadb"];
    const SYNTAX: &'static dyn Syntax = &syntax::MySqlSyntax;
    const MIGRATION: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_events (
            seq BIGINT NOT NULL PRIMARY KEY,
            id CHAR(36) NOT NULL UNIQUE,
            type VARCHAR(255) NOT NULL,
            payload LONGTEXT NOT NULL,
            meta LONGTEXT,
            error BOOLEAN NOT NULL DEFAULT FALSE,
            timestamp DATETIME(3) NOT NULL,
            changeset_hash CHAR(16),
            INDEX flux_events_type (type),
            INDEX flux_events_timestamp (timestamp)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS flux_store_lock (id INT NOT NULL PRIMARY KEY) ENGINE = InnoDB",
        "INSERT IGNORE INTO flux_store_lock (id) VALUES (1)",
        // The icelog's manifest (see `crate::icelog`).
        "CREATE TABLE IF NOT EXISTS flux_icelog (
            segment VARCHAR(100) NOT NULL PRIMARY KEY,
            first_seq BIGINT NOT NULL UNIQUE,
            last_seq BIGINT NOT NULL,
            first_time VARCHAR(40) NOT NULL,
            last_time VARCHAR(40) NOT NULL,
            events BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            crc_compressed BIGINT NOT NULL,
            crc_events BIGINT NOT NULL,
            location TEXT NOT NULL
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        // The frozen events' ids (see `crate::icelog`): a resend stays committed once.
        "CREATE TABLE IF NOT EXISTS flux_icelog_ids (
            id CHAR(36) NOT NULL PRIMARY KEY,
            seq BIGINT NOT NULL,
            INDEX flux_icelog_ids_seq (seq)
        )",
    ];
    const SAGA_TABLES: &'static [&'static str] = &[
        "CREATE TABLE IF NOT EXISTS flux_sagas (
            name VARCHAR(191) NOT NULL PRIMARY KEY,
            last_seq BIGINT NOT NULL,
            state LONGTEXT NOT NULL,
            holder VARCHAR(191),
            lease_until BIGINT NOT NULL
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS flux_saga_effects (
            effect_key VARCHAR(191) NOT NULL PRIMARY KEY,
            saga VARCHAR(191) NOT NULL,
            effect VARCHAR(191) NOT NULL,
            input LONGTEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_at BIGINT NOT NULL,
            last_error LONGTEXT,
            parked BIGINT NOT NULL,
            INDEX flux_saga_effects_due (saga, parked, next_at)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS flux_saga_timers (
            timer_key VARCHAR(191) NOT NULL PRIMARY KEY,
            saga VARCHAR(191) NOT NULL,
            due_at BIGINT NOT NULL,
            event LONGTEXT NOT NULL,
            INDEX flux_saga_timers_due (saga, due_at)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    ];
    /// Adding a nullable column at the end is instant on InnoDB.
    const HASH_COLUMN: (&'static str, &'static str) = (
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() \
         AND table_name = 'flux_events' AND column_name = 'changeset_hash'",
        "ALTER TABLE flux_events ADD COLUMN changeset_hash CHAR(16)",
    );
    /// DDL commits by itself, and the writers' lock table is created by the
    /// migration: a named lock instead (with a timeout: `GET_LOCK(name, -1)`,
    /// which sqlx's migrator takes, waits for nothing on MariaDB).
    const MIGRATION_LOCK: MigrationLock = MigrationLock::Named {
        take: "SELECT GET_LOCK(CONCAT('flux_migrations.', DATABASE()), 600)",
        release: "SELECT RELEASE_LOCK(CONCAT('flux_migrations.', DATABASE()))",
    };

    /// A named lock: another instance building the versions must not find
    /// its scratch tables half made.
    const STARTUP_LOCK: Option<(&'static str, &'static str)> = Some((
        "SELECT GET_LOCK(CONCAT('flux_startup.', DATABASE()), 600)",
        "SELECT RELEASE_LOCK(CONCAT('flux_startup.', DATABASE()))",
    ));

    /// `mysql://...`, or `mariadb://...` (the same protocol).
    async fn connect(url: &str, max_connections: u32) -> Result<Pool<MySql>, sqlx::Error> {
        let url = url.replacen("mariadb:", "mysql:", 1);
        MySqlPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(MySqlConnectOptions::from_str(&url)?)
            .await
    }

    /// Held until the transaction ends.
    async fn lock(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("SELECT id FROM {LOCK_TABLE} WHERE id = 1 FOR UPDATE"))
            .fetch_optional(conn)
            .await?;
        Ok(())
    }

    async fn introspect(conn: &mut MySqlConnection) -> Result<DbSchema, sqlx::Error> {
        schema::introspect(conn).await
    }

    async fn batchable_tables(conn: &mut MySqlConnection) -> Result<HashSet<String>, sqlx::Error> {
        schema::batchable_tables(conn).await
    }

    fn add(args: &mut MySqlArguments, bind: &Bind) -> Result<(), BoxDynError> {
        codec::add_bind::<MySql>(args, bind)
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn decode(row: &MySqlRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
        codec::decode_unchecked::<MySql>(row, index, ty)
    }

    fn decode_event(row: &MySqlRow) -> Result<StoredEvent, sqlx::Error> {
        let id = codec::parse_id(&row.try_get_unchecked::<String, _>(1)?)?;
        codec::decode_event::<MySql>(row, id, codec::format_timestamp(Self::decode_time(row, 6)?))
    }

    fn decode_time(row: &MySqlRow, index: usize) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(index)
    }

    fn is_missing(err: &dyn DatabaseError) -> bool {
        // ER_NO_SUCH_TABLE; ER_BAD_DB_ERROR (connecting to a dropped database);
        // ER_NO_DB_ERROR (a session whose database was dropped keeps none,
        // even once it is created again).
        err.try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1146 | 1049 | 1046))
    }
}
