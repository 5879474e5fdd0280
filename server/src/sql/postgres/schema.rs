//! PostgreSQL's schema: the read model's tables and columns (in the current
//! schema), and which tables take multi-row statements.

use std::collections::HashSet;

use flux_capacitor::FieldType;
use sqlx::{PgConnection, Row as _};

use crate::schema::{DbSchema, RawColumn};

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

/// The most bytes of a text key: a B-tree index entry holds at most 2704
/// bytes (with the default 8 KB pages), 12 of them the entry's own headers,
/// and the row versions' index puts two sequence numbers (16 bytes) beside
/// the key: `(key, valid_until, valid_from)`. PostgreSQL might fit a longer
/// key that compresses well; refusing every longer one keeps the outcome
/// independent of the text's content (and of whether versions are kept).
pub(crate) const MAX_KEY_BYTES: u64 = 2676;

pub(crate) async fn introspect(conn: &mut PgConnection) -> Result<DbSchema, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.relname::text, a.attname::text, t.typname::text,
                COALESCE(a.attnum = ANY(i.indkey) AND array_length(i.indkey::int2[], 1) = 1, FALSE),
                CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN (a.atttypmod - 4)::int8 END,
                format_type(a.atttypid, a.atttypmod)
                  || COALESCE((SELECT ' COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                               FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                               WHERE co.oid = a.attcollation AND a.attcollation <> 0), '')
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
            let primary_key: bool = row.try_get(3)?;
            Ok(RawColumn {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                ty,
                primary_key,
                write_cast,
                exact_text: true,
                max_chars: row.try_get::<Option<i64>, _>(4)?.map(|n| n as u64),
                max_bytes: (primary_key && ty == Some(FieldType::Text)).then_some(MAX_KEY_BYTES),
                bind_json_numbers: false,
                sql_type: row.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`crate::sql::batch`]): ordinary tables without triggers (foreign
/// keys are triggers on both of their tables) or rules, without a unique
/// index but the primary key's or an exclusion constraint, whose key columns
/// compare deterministically.
pub(crate) async fn batchable_tables(conn: &mut PgConnection) -> Result<HashSet<String>, sqlx::Error> {
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
