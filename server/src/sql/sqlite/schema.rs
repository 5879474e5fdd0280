//! SQLite's schema: the read model's tables and columns, and which tables
//! take multi-row statements.

use std::collections::HashSet;

use flux_capacitor::FieldType;
use sqlx::{Row as _, SqliteConnection};

use crate::schema::{DbSchema, RawColumn};

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

/// Whether SQLite converts number-like text written to a column of this
/// declared type into a number (its affinity is INTEGER, REAL or NUMERIC,
/// by SQLite's rules in order: `INT`; `CHAR`, `CLOB` or `TEXT`; `BLOB` or
/// nothing; `REAL`, `FLOA` or `DOUB`; anything else is NUMERIC).
pub(crate) fn converts_text(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    let text_or_blob =
        t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") || t.contains("BLOB") || t.is_empty();
    t.contains("INT") || !text_or_blob
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
            let declared: String = row.try_get(2)?;
            let ty = field_type(&declared);
            Ok(RawColumn {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                ty,
                primary_key: row.try_get::<i64, _>(3)? > 0,
                write_cast: None,
                exact_text: true,
                // SQLite holds any length (up to SQLITE_MAX_LENGTH, 1 GB).
                max_chars: None,
                max_bytes: None,
                bind_json_numbers: ty == Some(FieldType::Json) && converts_text(&declared),
                sql_type: declared.clone(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(DbSchema::from_columns(columns))
}

/// Tables whose rows multi-row statements may write in any order between
/// rows (see [`crate::sql::batch`]): no triggers, no foreign keys to or from them,
/// no unique index but the primary key's, and a key compared exactly
/// (`BINARY` collation, or the rowid).
pub(crate) async fn batchable_tables(conn: &mut SqliteConnection) -> Result<HashSet<String>, sqlx::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_columns_converting_number_like_text_are_told_apart() {
        for declared in ["JSON", "jsonb", "JSON_INT", "JSON DOUBLE"] {
            assert_eq!(field_type(declared), Some(FieldType::Json));
            assert!(converts_text(declared), "{declared}");
        }
        for declared in ["JSON TEXT", "BLOB JSON", "", "VARCHAR(10)"] {
            assert!(!converts_text(declared), "{declared}");
        }
    }
}
