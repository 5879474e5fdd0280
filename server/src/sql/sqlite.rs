//! SQLite: `BEGIN IMMEDIATE` serializes writers (across processes too), JSON
//! is stored as text, booleans as 0/1, text compares with `COLLATE BINARY`.

use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, SqliteConnection, SqlitePool};

use super::Sql;
use crate::EVENTS_TABLE;
use crate::schema::{Column, DbSchema, RawColumn};

pub(crate) const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS flux_events (
        seq INTEGER PRIMARY KEY NOT NULL,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        meta TEXT,
        error INTEGER NOT NULL DEFAULT 0,
        timestamp TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS flux_events_type ON flux_events (type)",
    "CREATE INDEX IF NOT EXISTS flux_events_timestamp ON flux_events (timestamp)",
    "CREATE TABLE IF NOT EXISTS flux_snapshots (seq INTEGER PRIMARY KEY NOT NULL, state TEXT NOT NULL)",
];

pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for statement in MIGRATION {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await
}

pub(crate) fn field_type(declared: &str) -> Option<FieldType> {
    let t = declared.to_ascii_uppercase();
    if t.contains("BOOL") {
        Some(FieldType::Boolean)
    } else if t.contains("JSON") {
        Some(FieldType::Json)
    } else if t.contains("INT") {
        Some(FieldType::Integer)
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Some(FieldType::Text)
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Some(FieldType::Real)
    } else {
        None
    }
}

pub(crate) async fn introspect(conn: &mut SqliteConnection) -> Result<DbSchema, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT m.name, p.name, p.type, p.pk FROM sqlite_master AS m, pragma_table_info(m.name) AS p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, p.cid",
    )
    .fetch_all(conn)
    .await?;
    let columns = rows
        .iter()
        .map(|row| {
            Ok(RawColumn {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                ty: field_type(&row.try_get::<String, _>(2)?),
                primary_key: row.try_get::<i64, _>(3)? > 0,
                write_cast: None,
                exact_text: true,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

pub(crate) fn select_expr(column: &Column) -> String {
    let q = super::Dialect::Sqlite.quote(&column.name);
    match column.ty {
        FieldType::Integer | FieldType::Boolean => format!("CAST({q} AS INTEGER)"),
        FieldType::Real => format!("CAST({q} AS REAL)"),
        FieldType::Text | FieldType::Json => format!("CAST({q} AS TEXT)"),
    }
}

pub(crate) fn decode(row: &SqliteRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
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

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                $crate::sql::Bind::Int(v) => query.bind(*v),
                $crate::sql::Bind::Real(v) => query.bind(*v),
                $crate::sql::Bind::Bool(v) => query.bind(*v),
                $crate::sql::Bind::Text(v) => query.bind(v.as_str()),
                $crate::sql::Bind::Null => query.bind(None::<&str>),
                $crate::sql::Bind::Uuid(v) => query.bind(*v),
                $crate::sql::Bind::Time(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

pub(crate) async fn execute(conn: &mut SqliteConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
    Ok(bind_all!(sqlx::query(&sql.text), &sql.binds)
        .execute(conn)
        .await?
        .rows_affected())
}

pub(crate) async fn fetch(conn: &mut SqliteConnection, sql: &Sql) -> Result<Vec<SqliteRow>, sqlx::Error> {
    bind_all!(sqlx::query(&sql.text), &sql.binds).fetch_all(conn).await
}

pub(crate) async fn last_event(conn: &mut SqliteConnection) -> Result<Option<(u64, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT seq, timestamp FROM {EVENTS_TABLE} ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        let seq: i64 = row.try_get(0)?;
        let timestamp: String = row.try_get(1)?;
        Ok((seq as u64, super::parse_timestamp(&timestamp)?))
    })
    .transpose()
}

pub(crate) async fn insert_event(conn: &mut SqliteConnection, event: &StoredEvent) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {EVENTS_TABLE} (seq, id, type, payload, meta, error, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(event.seq as i64)
    .bind(event.id.to_string())
    .bind(&event.event_type)
    .bind(event.payload.to_string())
    .bind(event.meta.as_ref().map(Value::to_string))
    .bind(event.error)
    .bind(&event.timestamp)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn decode_event(row: &SqliteRow) -> Result<StoredEvent, sqlx::Error> {
    let id: String = row.try_get(1)?;
    super::event_from_parts(
        row.try_get::<i64, _>(0)?,
        id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        row.try_get(2)?,
        &row.try_get::<String, _>(3)?,
        row.try_get::<Option<String>, _>(4)?.as_deref(),
        row.try_get::<bool, _>(5)?,
        row.try_get(6)?,
    )
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`super::batch`]): no triggers, no foreign keys to or from them,
/// no unique index but the primary key's, and a key compared exactly
/// (`BINARY` collation, or the rowid).
pub(crate) async fn batchable_tables(
    conn: &mut SqliteConnection,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.name FROM sqlite_master AS m
         WHERE m.type = 'table' AND m.sql NOT LIKE 'CREATE VIRTUAL%'
           AND NOT EXISTS (SELECT 1 FROM sqlite_master AS t
                           WHERE t.type = 'trigger' AND t.tbl_name = m.name COLLATE NOCASE)
           AND NOT EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name))
           AND NOT EXISTS (SELECT 1 FROM sqlite_master AS o, pragma_foreign_key_list(o.name) AS f
                           WHERE o.type = 'table' AND f.\"table\" = m.name COLLATE NOCASE)
           AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.name) AS i
                           WHERE i.\"unique\" AND i.origin <> 'pk')
           AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.name) AS i, pragma_index_xinfo(i.name) AS x
                           WHERE i.origin = 'pk' AND x.key AND x.coll <> 'BINARY' COLLATE NOCASE)",
    )
    .fetch_all(conn)
    .await
    .map(|names: Vec<String>| names.into_iter().collect())
}
