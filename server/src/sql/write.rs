//! Write compilation: a validated changeset operation becomes one statement,
//! a filter a two-valued predicate, log rows a multi-row `INSERT` — every
//! value a bound parameter.

use chrono::{DateTime, Utc};
use flux_capacitor::domain::{Num, canonical};
use flux_capacitor::{Comparison, FieldType, Filter, Key, Operation, Row, StoredEvent};
use serde_json::Value;

use super::builder::{Bind, Sql};
use super::{Dialect, EVENT_COLUMNS};
use crate::schema::{Column, Table};

/// The parameter for `value` written to `column` (validated beforehand), or
/// `None` for `null`.
pub(crate) fn write_bind(column: &Column, value: &Value) -> Option<Bind> {
    if value.is_null() {
        return None;
    }
    Some(match (column.ty, value) {
        (FieldType::Json, Value::Number(n)) if column.bind_json_numbers => match Num::of(n) {
            Ok(Num::Int(i)) => Bind::Int(i),
            Ok(Num::Float(f)) => Bind::Real(f),
            Err(_) => Bind::Text(n.to_string()),
        },
        (FieldType::Json, v) => Bind::Text(canonical(v).to_string()),
        (FieldType::Text, Value::String(s)) => Bind::Text(s.clone()),
        // Numbers in canonical form: `3.0` is the integer 3 (validated beforehand).
        (FieldType::Integer, Value::Number(n)) if matches!(Num::of(n), Ok(Num::Int(_))) => {
            Bind::Int(Num::of(n).map_or(0, |num| num.as_f64() as i64))
        }
        (FieldType::Real, Value::Number(n)) => {
            Bind::Real(Num::of(n).map_or_else(|_| n.as_f64().unwrap_or_default(), Num::as_f64))
        }
        (FieldType::Boolean, Value::Bool(b)) => Bind::Bool(*b),
        // Validation rejects anything else before SQL is built; keep the text.
        (_, v) => Bind::Text(v.to_string()),
    })
}

pub(crate) fn key_bind(key: &Key) -> Bind {
    match key {
        Key::Int(i) => Bind::Int(*i),
        Key::Str(s) => Bind::Text(s.clone()),
    }
}

/// Compiles one validated operation to a statement; `None` when it cannot
/// change anything (an empty patch).
pub(crate) fn compile_operation(dialect: Dialect, table: &Table, operation: &Operation) -> Option<Sql> {
    let mut sql = Sql::new(dialect);
    match operation {
        Operation::Create { row, .. } => {
            let fields: Vec<(&Column, Bind)> = row
                .iter()
                .filter_map(|(field, value)| {
                    let column = table.column(field)?;
                    Some((column, write_bind(column, value)?))
                })
                .collect();
            sql.push("INSERT INTO ").ident(&table.name).push(" (");
            sql.list(&fields, ", ", |sql, (column, _)| {
                sql.ident(&column.name);
            });
            sql.push(") VALUES (");
            sql.list(fields, ", ", |sql, (column, bind)| {
                sql.bind(bind, column.write_cast);
            });
            sql.push(")");
        }
        Operation::UpdateById { id, patch, .. } => {
            if !push_update_set(&mut sql, table, patch) {
                return None;
            }
            sql.push(" WHERE ");
            push_key_match(&mut sql, table.key_column(), id);
        }
        Operation::DestroyById { id, .. } => {
            sql.push("DELETE FROM ").ident(&table.name).push(" WHERE ");
            push_key_match(&mut sql, table.key_column(), id);
        }
        Operation::UpdateWhere { filter, patch, .. } => {
            if !push_update_set(&mut sql, table, patch) {
                return None;
            }
            sql.push(" WHERE ");
            push_filter(&mut sql, table, filter);
        }
        Operation::DestroyWhere { filter, .. } => {
            sql.push("DELETE FROM ").ident(&table.name).push(" WHERE ");
            push_filter(&mut sql, table, filter);
        }
    }
    Some(sql)
}

/// `key = ?`, exact: where the key's collation ignores trailing spaces, also
/// compared by code point (the plain `=` keeps the index).
fn push_key_match(sql: &mut Sql, key: &Column, id: &Key) {
    sql.ident(&key.name).push(" = ");
    sql.bind(key_bind(id), None);
    if key.ty == FieldType::Text && sql.syntax.inexact_key(key) {
        let expr = sql.syntax.text_expr(key);
        sql.push(" AND ").push(&expr).push(" = ");
        sql.bind(key_bind(id), None);
    }
}

/// `UPDATE t SET ...`; false when the patch sets nothing (only the key, or empty).
fn push_update_set(sql: &mut Sql, table: &Table, patch: &Row) -> bool {
    let fields: Vec<(&Column, &Value)> = patch
        .iter()
        .filter(|(field, _)| field.as_str() != table.key)
        .filter_map(|(field, value)| Some((table.column(field)?, value)))
        .collect();
    if fields.is_empty() {
        return false;
    }
    sql.push("UPDATE ").ident(&table.name).push(" SET ");
    sql.list(fields, ", ", |sql, (column, value)| {
        sql.ident(&column.name).push(" = ");
        match write_bind(column, value) {
            Some(bind) => sql.bind(bind, column.write_cast),
            None => sql.push("NULL"),
        };
    });
    true
}

const TRUE: &str = "(1=1)";
const FALSE: &str = "(1=0)";

/// The expression a column is ordered or compared by.
pub(crate) fn order_expr(sql: &Sql, column: &Column) -> String {
    match column.ty {
        FieldType::Text => sql.syntax.text_expr(column),
        _ => sql.syntax.quote(&column.name),
    }
}

/// Appends `filter` as a two-valued SQL predicate (never NULL), with the exact
/// meaning of [`Filter::matches`].
pub(crate) fn push_filter(sql: &mut Sql, table: &Table, filter: &Filter) {
    match filter {
        Filter::Eq { field, value } => push_comparison(sql, table, field, value, Comparison::Eq),
        Filter::Ne { field, value } => {
            sql.push("NOT ");
            push_comparison(sql, table, field, value, Comparison::Eq);
        }
        Filter::Lt { field, value } => push_comparison(sql, table, field, value, Comparison::Lt),
        Filter::Lte { field, value } => push_comparison(sql, table, field, value, Comparison::Lte),
        Filter::Gt { field, value } => push_comparison(sql, table, field, value, Comparison::Gt),
        Filter::Gte { field, value } => push_comparison(sql, table, field, value, Comparison::Gte),
        Filter::In { field, values } => {
            let any = values.iter().map(|value| Filter::eq(field.clone(), value.clone()));
            push_filter(sql, table, &Filter::or(any));
        }
        Filter::IsNull { field } => match table.column(field) {
            Some(column) => {
                sql.push("(").ident(&column.name).push(" IS NULL)");
            }
            None => {
                sql.push(TRUE);
            }
        },
        Filter::And { filters } if filters.is_empty() => {
            sql.push(TRUE);
        }
        Filter::Or { filters } if filters.is_empty() => {
            sql.push(FALSE);
        }
        Filter::And { filters } | Filter::Or { filters } => {
            let joiner = if matches!(filter, Filter::And { .. }) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            sql.list(filters, joiner, |sql, f| push_filter(sql, table, f));
            sql.push(")");
        }
        Filter::Not { filter } => {
            sql.push("NOT ");
            push_filter(sql, table, filter);
        }
    }
}

/// `(col IS NOT NULL AND col op ?)`, or constant FALSE when the column's type
/// can never compare with the value (different JSON types are never ordered).
fn push_comparison(sql: &mut Sql, table: &Table, field: &str, value: &Value, comparison: Comparison) {
    let Some(column) = table.column(field) else {
        sql.push(FALSE);
        return;
    };
    let bind = match (column.ty, value) {
        (FieldType::Text, Value::String(s)) => Bind::Text(s.clone()),
        // In the domain every number is a double and integer columns hold
        // integers within ±(2^53−1): the databases compare them exactly.
        (FieldType::Integer, Value::Number(n)) => match Num::of(n) {
            Ok(Num::Int(i)) => Bind::Int(i),
            Ok(Num::Float(f)) => Bind::Real(f),
            Err(_) => {
                sql.push(FALSE);
                return;
            }
        },
        (FieldType::Real, Value::Number(n)) => match Num::of(n) {
            Ok(num) => Bind::Real(num.as_f64()),
            Err(_) => {
                sql.push(FALSE);
                return;
            }
        },
        (FieldType::Boolean, Value::Bool(b)) => Bind::Bool(*b),
        _ => {
            sql.push(FALSE);
            return;
        }
    };
    let operator = match comparison {
        Comparison::Eq => " = ",
        Comparison::Lt => " < ",
        Comparison::Lte => " <= ",
        Comparison::Gt => " > ",
        Comparison::Gte => " >= ",
    };
    let expr = order_expr(sql, column);
    let cast = sql.syntax.compare_cast(&bind);
    sql.push("(").ident(&column.name).push(" IS NOT NULL AND ");
    sql.push(&expr).push(operator);
    sql.bind(bind, cast);
    sql.push(")");
}

/// Most rows one multi-row statement writes, and most parameters it binds
/// (well under SQLite's 32766 and PostgreSQL's and MySQL's 65535).
pub(crate) const MAX_ROWS: usize = 256;
const MAX_PARAMS: usize = 8192;

/// Splits `rows` rows of `params` parameters each into statement sizes: as
/// many of the largest allowed power of two as fit, then the remainder in
/// descending powers of two, so a table has at most ten statement texts per
/// shape (each prepared once and cached by sqlx) whatever the batch sizes.
pub(crate) fn row_chunks(rows: usize, params: usize) -> Vec<usize> {
    let fit = (MAX_PARAMS / params.max(1)).clamp(1, MAX_ROWS);
    let cap = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    let mut left = rows;
    let mut out = Vec::new();
    while left > 0 {
        let size = if left >= cap {
            cap
        } else {
            1usize << (usize::BITS - 1 - left.leading_zeros())
        };
        out.push(size);
        left -= size;
    }
    out
}

/// `rows` split into the statement sizes of [`row_chunks`].
pub(crate) fn split_rows<T>(rows: &[T], params: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    row_chunks(rows.len(), params).into_iter().map(move |size| {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        chunk
    })
}

/// Parameters of one log row in [`insert_events`].
pub(crate) const EVENT_PARAMS: usize = 8;

/// A multi-row `INSERT` of log rows (each event with its timestamp, in `seq`
/// order; sizes from [`row_chunks`]; a single event is a chunk of one).
pub(crate) fn insert_events(dialect: Dialect, chunk: &[(&StoredEvent, DateTime<Utc>)]) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.text.reserve(100 + chunk.len() * 40);
    sql.binds.reserve(chunk.len() * EVENT_PARAMS);
    sql.push("INSERT INTO ")
        .push(crate::EVENTS_TABLE)
        .push(" (")
        .push(EVENT_COLUMNS)
        .push(") VALUES ");
    sql.list(chunk, ", ", |sql, (event, time)| {
        sql.push("(");
        sql.bind(Bind::Int(event.seq as i64), None).push(", ");
        let id = sql.syntax.event_id(event.id);
        sql.bind(id, None).push(", ");
        sql.bind(Bind::Text(event.event_type.clone()), None).push(", ");
        // As text, so that no database rewrites it (PostgreSQL's JSONB would
        // turn `1e17` into `100000000000000000`): replay sees what the live
        // dispatch saw.
        sql.bind(Bind::Text(event.payload.to_string()), None).push(", ");
        let meta = event.meta.as_ref().map_or(Bind::Null, |m| Bind::Text(m.to_string()));
        sql.bind(meta, None).push(", ");
        sql.bind(Bind::Bool(event.error), None).push(", ");
        let time = sql.syntax.event_time(&event.timestamp, *time);
        sql.bind(time, None).push(", ");
        let hash = event.hash.clone().map_or(Bind::Null, Bind::Text);
        sql.bind(hash, None).push(")");
    });
    sql
}

/// Renames tables `(from, to)` in order (see [`super::syntax::Syntax::rename_commits`]).
pub(crate) fn rename_tables_sql(dialect: Dialect, renames: &[(String, String)]) -> Vec<Sql> {
    let syntax = dialect.syntax();
    syntax
        .rename_tables(renames)
        .into_iter()
        .map(|text| Sql::fixed(dialect, text))
        .collect()
}

#[cfg(test)]
mod tests {
    use flux_capacitor::CollectionSchema;

    use super::*;

    fn table() -> Table {
        let schema: CollectionSchema = serde_json::from_value(serde_json::json!({
            "fields": { "id": "text", "n": "integer", "done": "boolean" }
        }))
        .unwrap();
        Table::from_schema("t\"x", &schema)
    }

    #[test]
    fn filters_are_two_valued_and_parameterised() {
        let mut sql = Sql::new(Dialect::Postgres);
        let filter = Filter::or([
            Filter::ne("n", 5),
            Filter::eq("n", "5"),
            Filter::is_in("id", ["a'; DROP TABLE x; --"]),
            Filter::and([]),
        ]);
        push_filter(&mut sql, &table(), &filter);
        assert_eq!(
            sql.text,
            r#"(NOT ("n" IS NOT NULL AND "n" = $1) OR (1=0) OR (("id" IS NOT NULL AND "id" COLLATE "C" = $2)) OR (1=1))"#
        );
        assert_eq!(sql.binds, vec![Bind::Int(5), Bind::Text("a'; DROP TABLE x; --".into())]);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(Dialect::MySql.syntax().quote("a`b"), "`a``b`");
        assert_eq!(Dialect::Sqlite.syntax().quote("a\"b"), "\"a\"\"b\"");
        let op = Operation::DestroyById {
            collection: "t\"x".into(),
            key: "id".into(),
            id: Key::from("1"),
        };
        let sql = compile_operation(Dialect::Sqlite, &table(), &op).unwrap();
        assert_eq!(sql.text, r#"DELETE FROM "t""x" WHERE "id" = ?"#);
    }
}
