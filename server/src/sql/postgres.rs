//! PostgreSQL: a transaction-scoped advisory lock serializes writers (across
//! processes too), JSON columns are `json`/`jsonb`, text compares with
//! `COLLATE "C"`.

use chrono::{DateTime, Utc};
use flux_capacitor::{FieldType, StoredEvent};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row as _};

use super::Sql;
use crate::EVENTS_TABLE;
use crate::schema::{Column, DbSchema, RawColumn};

/// The advisory lock key of the store's writers ("flux" in ASCII).
pub(crate) const LOCK_KEY: i64 = 0x666c_7578;

pub(crate) const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS flux_events (
        seq BIGINT PRIMARY KEY,
        id UUID NOT NULL UNIQUE,
        type TEXT NOT NULL,
        payload JSONB NOT NULL,
        meta JSONB,
        error BOOLEAN NOT NULL DEFAULT FALSE,
        timestamp TIMESTAMPTZ NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS flux_events_type ON flux_events (type)",
    "CREATE INDEX IF NOT EXISTS flux_events_timestamp ON flux_events (timestamp)",
    "CREATE TABLE IF NOT EXISTS flux_snapshots (seq BIGINT PRIMARY KEY, state TEXT NOT NULL)",
];

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    for statement in MIGRATION {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Takes the writers' lock, held until the transaction ends.
pub(crate) async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

fn field_type(udt: &str) -> (Option<FieldType>, Option<&'static str>) {
    match udt {
        "text" | "varchar" | "bpchar" => (Some(FieldType::Text), None),
        "int2" | "int4" | "int8" => (Some(FieldType::Integer), None),
        "float4" | "float8" => (Some(FieldType::Real), None),
        "bool" => (Some(FieldType::Boolean), None),
        "json" => (Some(FieldType::Json), Some("JSON")),
        "jsonb" => (Some(FieldType::Json), Some("JSONB")),
        _ => (None, None),
    }
}

pub(crate) async fn introspect(conn: &mut PgConnection) -> Result<DbSchema, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.relname::text, a.attname::text, t.typname::text,
                COALESCE(a.attnum = ANY(i.indkey) AND array_length(i.indkey::int2[], 1) = 1, FALSE)
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
         ORDER BY c.relname, a.attnum",
    )
    .fetch_all(conn)
    .await?;
    let columns = rows
        .iter()
        .map(|row| {
            let (ty, write_cast) = field_type(&row.try_get::<String, _>(2)?);
            Ok(RawColumn {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                ty,
                primary_key: row.try_get(3)?,
                write_cast,
                exact_text: true,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

pub(crate) fn select_expr(column: &Column) -> String {
    let q = super::Dialect::Postgres.quote(&column.name);
    match column.ty {
        FieldType::Integer => format!("CAST({q} AS BIGINT)"),
        FieldType::Real => format!("CAST({q} AS DOUBLE PRECISION)"),
        FieldType::Boolean => q,
        FieldType::Text | FieldType::Json => format!("CAST({q} AS TEXT)"),
    }
}

pub(crate) fn decode(row: &PgRow, index: usize, ty: FieldType) -> Result<Option<Value>, sqlx::Error> {
    Ok(match ty {
        FieldType::Integer => row.try_get::<Option<i64>, _>(index)?.map(Value::from),
        FieldType::Boolean => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
        FieldType::Real => row.try_get::<Option<f64>, _>(index)?.map(super::real_value),
        FieldType::Text => row.try_get::<Option<String>, _>(index)?.map(Value::String),
        FieldType::Json => super::json_value(row.try_get::<Option<String>, _>(index)?)?,
    })
}

pub(crate) async fn execute(conn: &mut PgConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
    Ok(super::sqlite::bind_all!(sqlx::query(&sql.text), &sql.binds)
        .execute(conn)
        .await?
        .rows_affected())
}

pub(crate) async fn fetch(conn: &mut PgConnection, sql: &Sql) -> Result<Vec<PgRow>, sqlx::Error> {
    super::sqlite::bind_all!(sqlx::query(&sql.text), &sql.binds)
        .fetch_all(conn)
        .await
}

pub(crate) async fn last_event(conn: &mut PgConnection) -> Result<Option<(u64, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT seq, timestamp FROM {EVENTS_TABLE} ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((row.try_get::<i64, _>(0)? as u64, row.try_get(1)?)))
        .transpose()
}

pub(crate) async fn insert_event(
    conn: &mut PgConnection,
    event: &StoredEvent,
    timestamp: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {EVENTS_TABLE} (seq, id, type, payload, meta, error, timestamp)
         VALUES ($1, $2, $3, CAST($4 AS JSONB), CAST($5 AS JSONB), $6, $7)"
    ))
    .bind(event.seq as i64)
    .bind(event.id)
    .bind(&event.event_type)
    .bind(event.payload.to_string())
    .bind(event.meta.as_ref().map(Value::to_string))
    .bind(event.error)
    .bind(timestamp)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn decode_event(row: &PgRow) -> Result<StoredEvent, sqlx::Error> {
    let timestamp: DateTime<Utc> = row.try_get(6)?;
    super::event_from_parts(
        row.try_get::<i64, _>(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        &row.try_get::<String, _>(3)?,
        row.try_get::<Option<String>, _>(4)?.as_deref(),
        row.try_get::<bool, _>(5)?,
        super::format_timestamp(timestamp),
    )
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`super::batch`]): ordinary tables without triggers (foreign
/// keys are triggers on both of their tables) or rules, without a unique
/// index but the primary key's or an exclusion constraint, whose key columns
/// compare deterministically.
pub(crate) async fn batchable_tables(
    conn: &mut PgConnection,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname = current_schema()
           AND NOT c.relhastriggers AND NOT c.relhasrules
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND NOT i.indisprimary)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = c.oid AND x.contype = 'x')
           AND NOT EXISTS (SELECT 1 FROM pg_index i
                           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                           JOIN pg_collation co ON co.oid = a.attcollation
                           WHERE i.indrelid = c.oid AND i.indisprimary AND NOT co.collisdeterministic)",
    )
    .fetch_all(conn)
    .await
    .map(|names: Vec<String>| names.into_iter().collect())
}
