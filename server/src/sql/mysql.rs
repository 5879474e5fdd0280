//! MySQL / MariaDB: a locking read of the one-row `flux_store_lock` table
//! serializes writers (across processes too), JSON is a `JSON` column (text
//! with a `json_valid` check on MariaDB), booleans are `TINYINT(1)`, and text
//! compares as binary strings unless the column's collation already does.

use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, MySqlPool, Row as _};

use super::Sql;
use crate::schema::{Column, DbSchema, RawColumn};
use crate::{EVENTS_TABLE, LOCK_TABLE};

pub(crate) const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS flux_events (
        seq BIGINT NOT NULL PRIMARY KEY,
        id CHAR(36) NOT NULL UNIQUE,
        type VARCHAR(255) NOT NULL,
        payload JSON NOT NULL,
        meta JSON,
        error BOOLEAN NOT NULL DEFAULT FALSE,
        timestamp DATETIME(3) NOT NULL,
        INDEX flux_events_type (type),
        INDEX flux_events_timestamp (timestamp)
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS flux_store_lock (id INT NOT NULL PRIMARY KEY) ENGINE = InnoDB",
    "INSERT IGNORE INTO flux_store_lock (id) VALUES (1)",
    "CREATE TABLE IF NOT EXISTS flux_snapshots (seq BIGINT NOT NULL PRIMARY KEY, state LONGTEXT NOT NULL) ENGINE = InnoDB",
];

pub(crate) async fn migrate(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    for statement in MIGRATION {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Takes the writers' lock, held until the transaction ends.
pub(crate) async fn lock(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("SELECT id FROM {LOCK_TABLE} WHERE id = 1 FOR UPDATE"))
        .fetch_optional(conn)
        .await?;
    Ok(())
}

fn field_type(data_type: &str, column_type: &str, json: bool) -> Option<FieldType> {
    Some(match data_type {
        _ if json => FieldType::Json,
        "json" => FieldType::Json,
        "tinyint" if column_type.starts_with("tinyint(1)") => FieldType::Boolean,
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => FieldType::Integer,
        "float" | "double" => FieldType::Real,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => FieldType::Text,
        _ => return None,
    })
}

/// Whether `collation` compares by code point without padding, as `MemoryDatabase` does.
fn exact(collation: Option<&str>) -> bool {
    collation.is_some_and(|c| c.ends_with("_nopad_bin") || c == "utf8mb4_0900_bin" || c == "binary")
}

pub(crate) async fn introspect(conn: &mut MySqlConnection) -> Result<DbSchema, sqlx::Error> {
    // MariaDB's JSON is LONGTEXT with a `json_valid(col)` check; MySQL's is a real type
    // (and its CHECK_CONSTRAINTS has no TABLE_NAME, hence the fallback).
    let checks = sqlx::query(
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
         WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let mut json_columns = std::collections::BTreeSet::new();
    for row in &checks {
        let table: String = row.try_get_unchecked(0)?;
        let clause: String = row.try_get_unchecked(1)?;
        let clause = clause.trim();
        if let Some(column) = clause
            .strip_prefix("json_valid(`")
            .and_then(|rest| rest.strip_suffix("`)"))
        {
            json_columns.insert((table, column.replace("``", "`")));
        }
    }
    let rows = sqlx::query(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COLLATION_NAME, COLUMN_KEY
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )
    .fetch_all(&mut *conn)
    .await?;
    let columns = rows
        .iter()
        .map(|row| {
            let table: String = row.try_get_unchecked(0)?;
            let name: String = row.try_get_unchecked(1)?;
            let data_type: String = row.try_get_unchecked(2)?;
            let column_type: String = row.try_get_unchecked(3)?;
            let collation: Option<String> = row.try_get_unchecked(4)?;
            let key: String = row.try_get_unchecked(5)?;
            let json = json_columns.contains(&(table.clone(), name.clone()));
            Ok(RawColumn {
                ty: field_type(&data_type.to_ascii_lowercase(), &column_type.to_ascii_lowercase(), json),
                exact_text: exact(collation.as_deref()),
                table,
                name,
                primary_key: key == "PRI",
                write_cast: None,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

pub(crate) fn select_expr(column: &Column) -> String {
    let q = super::Dialect::MySql.quote(&column.name);
    match column.ty {
        FieldType::Integer | FieldType::Boolean => format!("CAST({q} AS SIGNED)"),
        FieldType::Real => format!("CAST({q} AS DOUBLE)"),
        FieldType::Text => q,
        FieldType::Json => format!("CAST({q} AS CHAR)"),
    }
}

pub(crate) fn decode(row: &MySqlRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
    Ok(match ty {
        FieldType::Integer => row.try_get_unchecked::<Option<i64>, _>(index)?.map(Value::from),
        FieldType::Boolean => row
            .try_get_unchecked::<Option<i64>, _>(index)?
            .map(|b| Value::Bool(b != 0)),
        FieldType::Real => row.try_get_unchecked::<Option<f64>, _>(index)?.map(super::real_value),
        FieldType::Text => row.try_get_unchecked::<Option<String>, _>(index)?.map(Value::String),
        FieldType::Json => super::json_value(row.try_get_unchecked::<Option<String>, _>(index)?)?,
    })
}

pub(crate) async fn execute(conn: &mut MySqlConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
    Ok(super::sqlite::bind_all!(sqlx::query(&sql.text), &sql.binds)
        .execute(conn)
        .await?
        .rows_affected())
}

pub(crate) async fn fetch(conn: &mut MySqlConnection, sql: &Sql) -> Result<Vec<MySqlRow>, sqlx::Error> {
    super::sqlite::bind_all!(sqlx::query(&sql.text), &sql.binds)
        .fetch_all(conn)
        .await
}

pub(crate) async fn last_event(conn: &mut MySqlConnection) -> Result<Option<(u64, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT seq, timestamp FROM {EVENTS_TABLE} ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((row.try_get::<i64, _>(0)? as u64, row.try_get(1)?)))
        .transpose()
}

pub(crate) async fn insert_event(
    conn: &mut MySqlConnection,
    event: &StoredEvent,
    timestamp: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {EVENTS_TABLE} (seq, id, type, payload, meta, error, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(event.seq as i64)
    .bind(event.id.to_string())
    .bind(&event.event_type)
    .bind(event.payload.to_string())
    .bind(event.meta.as_ref().map(Value::to_string))
    .bind(event.error)
    .bind(timestamp)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn decode_event(row: &MySqlRow) -> Result<StoredEvent, sqlx::Error> {
    let id: String = row.try_get_unchecked(1)?;
    let timestamp: DateTime<Utc> = row.try_get(6)?;
    super::event_from_parts(
        row.try_get::<i64, _>(0)?,
        id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        row.try_get_unchecked(2)?,
        &row.try_get_unchecked::<String, _>(3)?,
        row.try_get_unchecked::<Option<String>, _>(4)?.as_deref(),
        row.try_get_unchecked::<bool, _>(5)?,
        super::format_timestamp(timestamp),
    )
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`super::batch`]): base tables without triggers, without
/// foreign keys to or from them and without a unique index but the primary
/// key. (Whether the key compares exactly is the column's `exact_text`.)
pub(crate) async fn batchable_tables(
    conn: &mut MySqlConnection,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.TABLE_NAME FROM information_schema.TABLES t
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
           AND NOT EXISTS (SELECT 1 FROM information_schema.TRIGGERS g
                           WHERE g.EVENT_OBJECT_SCHEMA = t.TABLE_SCHEMA AND g.EVENT_OBJECT_TABLE = t.TABLE_NAME)
           AND NOT EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS r
                           WHERE (r.CONSTRAINT_SCHEMA = t.TABLE_SCHEMA AND r.TABLE_NAME = t.TABLE_NAME)
                              OR (r.UNIQUE_CONSTRAINT_SCHEMA = t.TABLE_SCHEMA AND r.REFERENCED_TABLE_NAME = t.TABLE_NAME))
           AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS s
                           WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME
                             AND s.NON_UNIQUE = 0 AND s.INDEX_NAME <> 'PRIMARY')",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| row.try_get_unchecked::<String, _>(0)).collect()
}
