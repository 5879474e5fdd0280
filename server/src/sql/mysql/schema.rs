//! MySQL's and MariaDB's schema: the read model's tables and columns (in the
//! current database), and which tables take multi-row statements.

use std::collections::HashSet;

use flux_capacitor::FieldType;
use sqlx::{MySqlConnection, Row as _};

use crate::schema::{DbSchema, RawColumn};

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
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COLLATION_NAME, COLUMN_KEY,
                CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, CHARACTER_SET_NAME
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
            // VARCHAR(n) counts characters, TEXT bytes: both limits hold.
            let max_chars: Option<u64> = row.try_get_unchecked(6)?;
            let max_bytes: Option<u64> = row.try_get_unchecked(7)?;
            let json = json_columns.contains(&(table.clone(), name.clone()));
            let charset: Option<String> = row.try_get_unchecked(8)?;
            let sql_type = match (&charset, &collation) {
                (Some(charset), Some(collation)) => {
                    format!("{column_type} CHARACTER SET {charset} COLLATE {collation}")
                }
                _ => column_type.clone(),
            };
            Ok(RawColumn {
                ty: field_type(&data_type.to_ascii_lowercase(), &column_type.to_ascii_lowercase(), json),
                exact_text: exact(collation.as_deref()),
                table,
                name,
                primary_key: key == "PRI",
                write_cast: None,
                max_chars,
                max_bytes,
                bind_json_numbers: false,
                sql_type,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`crate::sql::batch`]): base tables without triggers, without
/// foreign keys to or from them and without a unique index but the primary
/// key. (Whether the key compares exactly is the column's `exact_text`.)
pub(crate) async fn batchable_tables(conn: &mut MySqlConnection) -> Result<HashSet<String>, sqlx::Error> {
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
