//! SQL generation shared by the three dialects: changeset operations and
//! filters become one statement each, with every value a bound parameter.
//!
//! The dialect modules ([`sqlite`], [`postgres`], [`mysql`]) hold what differs:
//! connecting, the store's own tables, schema introspection, the writer lock,
//! binding parameters and decoding rows.

pub(crate) mod batch;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use flux_capacitor::{Comparison, Event, FieldType, Filter, Key, Operation, Row, StoredEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::EventQuery;

use crate::schema::{Column, Table};

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

/// A bound parameter value, typed by its column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    /// SQL `NULL` (as text).
    Null,
    /// A native UUID (PostgreSQL's log).
    Uuid(Uuid),
    /// A native timestamp (PostgreSQL's and MySQL's log).
    Time(DateTime<Utc>),
}

/// A statement and its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
    dialect: Dialect,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql {
            text: String::new(),
            binds: Vec::new(),
            dialect,
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `bind`, wrapped in `cast` if given.
    pub fn bind(&mut self, bind: Bind, cast: Option<&str>) -> &mut Self {
        self.binds.push(bind);
        if cast.is_some() {
            self.text.push_str("CAST(");
        }
        match self.dialect {
            Dialect::Postgres => {
                let _ = write!(self.text, "${}", self.binds.len());
            }
            Dialect::Sqlite | Dialect::MySql => self.text.push('?'),
        }
        if let Some(ty) = cast {
            let _ = write!(self.text, " AS {ty})");
        }
        self
    }

    pub fn ident(&mut self, name: &str) -> &mut Self {
        let quoted = self.dialect.quote(name);
        self.text.push_str(&quoted);
        self
    }
}

impl Dialect {
    /// Quotes an identifier (already checked against the introspected schema).
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// The expression comparing `column` by code point (binary collation).
    fn text_expr(self, column: &Column) -> String {
        let quoted = self.quote(&column.name);
        match self {
            Dialect::Sqlite => format!("{quoted} COLLATE BINARY"),
            Dialect::Postgres => format!("{quoted} COLLATE \"C\""),
            Dialect::MySql if column.exact_text => quoted,
            Dialect::MySql => format!("CAST({quoted} AS BINARY)"),
        }
    }

    /// The expression a column is ordered or compared by.
    pub(crate) fn order_expr(self, column: &Column) -> String {
        match column.ty {
            FieldType::Text => self.text_expr(column),
            _ => self.quote(&column.name),
        }
    }

    /// `ORDER BY` term, nulls first ascending and last descending on every backend.
    pub(crate) fn order_term(self, column: &Column, descending: bool) -> String {
        let expr = self.order_expr(column);
        match (self, descending) {
            (Dialect::Postgres, false) => format!("{expr} ASC NULLS FIRST"),
            (Dialect::Postgres, true) => format!("{expr} DESC NULLS LAST"),
            (_, false) => format!("{expr} ASC"),
            (_, true) => format!("{expr} DESC"),
        }
    }
}

/// The parameter for `value` written to `column` (validated beforehand), or
/// `None` for `null`.
pub(crate) fn write_bind(column: &Column, value: &Value) -> Option<Bind> {
    if value.is_null() {
        return None;
    }
    Some(match (column.ty, value) {
        (FieldType::Json, v) => Bind::Text(v.to_string()),
        (FieldType::Text, Value::String(s)) => Bind::Text(s.clone()),
        (FieldType::Integer, Value::Number(n)) if n.as_i64().is_some() => Bind::Int(n.as_i64().unwrap_or_default()),
        (FieldType::Real, Value::Number(n)) => Bind::Real(n.as_f64().unwrap_or_default()),
        (FieldType::Boolean, Value::Bool(b)) => Bind::Bool(*b),
        // Validation rejects anything else before SQL is built; keep the text.
        (_, v) => Bind::Text(v.to_string()),
    })
}

fn key_bind(key: &Key) -> Bind {
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
            for (i, (column, _)) in fields.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.ident(&column.name);
            }
            sql.push(") VALUES (");
            for (i, (column, bind)) in fields.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(bind, column.write_cast);
            }
            sql.push(")");
        }
        Operation::UpdateById { id, patch, .. } => {
            let key = table.key_column();
            if !push_update_set(&mut sql, table, patch) {
                return None;
            }
            sql.push(" WHERE ");
            push_key_match(&mut sql, key, id);
        }
        Operation::DestroyById { id, .. } => {
            let key = table.key_column();
            sql.push("DELETE FROM ").ident(&table.name).push(" WHERE ");
            push_key_match(&mut sql, key, id);
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

/// `key = ?`, exact: on MySQL text keys whose collation ignores trailing
/// spaces also compared as binary strings (the plain `=` keeps the index).
fn push_key_match(sql: &mut Sql, key: &Column, id: &Key) {
    sql.ident(&key.name).push(" = ");
    sql.bind(key_bind(id), None);
    if sql.dialect == Dialect::MySql && key.ty == FieldType::Text && !key.exact_text {
        let expr = sql.dialect.text_expr(key);
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
    for (i, (column, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(&column.name).push(" = ");
        match write_bind(column, value) {
            Some(bind) => sql.bind(bind, column.write_cast),
            None => sql.push("NULL"),
        };
    }
    true
}

const TRUE: &str = "(1=1)";
const FALSE: &str = "(1=0)";

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
        Filter::And { filters } | Filter::Or { filters } if filters.is_empty() => {
            sql.push(if matches!(filter, Filter::And { .. }) {
                TRUE
            } else {
                FALSE
            });
        }
        Filter::And { filters } | Filter::Or { filters } => {
            let joiner = if matches!(filter, Filter::And { .. }) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, f) in filters.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                push_filter(sql, table, f);
            }
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
        (FieldType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => Bind::Int(i),
            None => Bind::Real(n.as_f64().unwrap_or_default()),
        },
        (FieldType::Real, Value::Number(n)) => Bind::Real(n.as_f64().unwrap_or_default()),
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
    let expr = sql.dialect.order_expr(column);
    let cast = match (sql.dialect, &bind) {
        (Dialect::Postgres, Bind::Real(_)) => Some("DOUBLE PRECISION"),
        _ => None,
    };
    sql.push("(").ident(&column.name).push(" IS NOT NULL AND ");
    sql.push(&expr).push(operator);
    sql.bind(bind, cast);
    sql.push(")");
}

/// A `REAL` read back: integral values within ±2^53 become JSON integers, as
/// JavaScript and `MemoryDatabase`'s integer-typed writes have them.
pub(crate) fn real_value(value: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() <= EXACT {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

/// A JSON column read back as text; SQL `NULL` (and JSON `null`) is absent.
pub(crate) fn json_value(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    let Some(text) = text else { return Ok(None) };
    let value: Value = serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((!value.is_null()).then_some(value))
}

/// The RFC 3339 form of a timestamp: UTC, milliseconds, `Z`.
pub(crate) fn format_timestamp(timestamp: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let millis = timestamp.timestamp_subsec_millis();
    if !(0..=9999).contains(&timestamp.year()) || millis > 999 {
        return timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Without chrono's format-string machinery: this runs for every event.
    let mut text = String::with_capacity(24);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        timestamp.year(),
        timestamp.month(),
        timestamp.day(),
        timestamp.hour(),
        timestamp.minute(),
        timestamp.second()
    );
    text
}

pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn event_from_parts(
    seq: i64,
    id: Uuid,
    event_type: String,
    payload: &str,
    meta: Option<&str>,
    error: bool,
    timestamp: String,
) -> Result<StoredEvent, sqlx::Error> {
    let decode = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| sqlx::Error::Decode(Box::new(e)));
    Ok(StoredEvent {
        id,
        seq: seq as u64,
        timestamp,
        event: Event {
            event_type,
            payload: decode(payload)?,
            meta: meta.map(decode).transpose()?,
            error,
        },
    })
}

/// `SELECT` of the store's event log.
pub(crate) fn events_sql(dialect: Dialect, query: &EventQuery) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(match dialect {
        Dialect::Postgres => {
            "SELECT seq, id, type, CAST(payload AS TEXT), CAST(meta AS TEXT), error, timestamp FROM flux_events"
        }
        Dialect::MySql => {
            "SELECT seq, id, type, CAST(payload AS CHAR), CAST(meta AS CHAR), error, timestamp FROM flux_events"
        }
        Dialect::Sqlite => "SELECT seq, id, type, payload, meta, error, timestamp FROM flux_events",
    });
    sql.push(" WHERE seq > ");
    sql.bind(Bind::Int(i64::try_from(query.after_seq).unwrap_or(i64::MAX)), None);
    if let Some(types) = &query.types {
        sql.push(" AND type IN (");
        if types.is_empty() {
            sql.push("NULL");
        }
        for (i, ty) in types.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Bind::Text(ty.clone()), None);
        }
        sql.push(")");
    }
    sql.push(" ORDER BY seq LIMIT ");
    sql.bind(Bind::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)), None);
    sql
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

/// A multi-row `INSERT` of log rows (each event with its timestamp, in `seq`
/// order; sizes from [`row_chunks`]); the same columns and types as the
/// dialects' single-row inserts.
pub(crate) fn insert_events(dialect: Dialect, chunk: &[(&StoredEvent, DateTime<Utc>)]) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.text.reserve(100 + chunk.len() * 40);
    sql.binds.reserve(chunk.len() * 7);
    sql.push("INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp) VALUES ");
    let json = (dialect == Dialect::Postgres).then_some("JSONB");
    for (i, (event, time)) in chunk.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(Bind::Int(event.seq as i64), None).push(", ");
        match dialect {
            Dialect::Postgres => sql.bind(Bind::Uuid(event.id), None),
            _ => sql.bind(Bind::Text(event.id.to_string()), None),
        };
        sql.push(", ");
        sql.bind(Bind::Text(event.event_type.clone()), None).push(", ");
        sql.bind(Bind::Text(event.payload.to_string()), json).push(", ");
        let meta = event.meta.as_ref().map_or(Bind::Null, |m| Bind::Text(m.to_string()));
        sql.bind(meta, json).push(", ");
        sql.bind(Bind::Bool(event.error), None).push(", ");
        match dialect {
            Dialect::Sqlite => sql.bind(Bind::Text(event.timestamp.clone()), None),
            _ => sql.bind(Bind::Time(*time), None),
        };
        sql.push(")");
    }
    sql
}

/// `SELECT` of a read-model table; the selected columns in order.
pub(crate) fn find_sql<'t>(
    dialect: Dialect,
    table: &'t Table,
    filter: Option<&Filter>,
    order: &[(&'t Column, bool)],
    limit: Option<u64>,
    offset: u64,
) -> (Sql, Vec<&'t Column>) {
    let columns: Vec<&Column> = table.columns.iter().collect();
    let mut sql = Sql::new(dialect);
    sql.push("SELECT ");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let expr = match dialect {
            Dialect::Sqlite => sqlite::select_expr(column),
            Dialect::Postgres => postgres::select_expr(column),
            Dialect::MySql => mysql::select_expr(column),
        };
        sql.push(&expr);
    }
    sql.push(" FROM ").ident(&table.name);
    if let Some(filter) = filter {
        sql.push(" WHERE ");
        push_filter(&mut sql, table, filter);
    }
    sql.push(" ORDER BY ");
    for (column, descending) in order {
        let term = dialect.order_term(column, *descending);
        sql.push(&term).push(", ");
    }
    let key = dialect.order_term(table.key_column(), false);
    sql.push(&key);
    if limit.is_some() || offset > 0 {
        sql.push(" LIMIT ");
        sql.bind(
            Bind::Int(limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX))),
            None,
        );
        sql.push(" OFFSET ");
        sql.bind(Bind::Int(i64::try_from(offset).unwrap_or(i64::MAX)), None);
    }
    (sql, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;
    use flux_capacitor::{CollectionSchema, FieldType};

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
    fn timestamps_are_rfc3339_utc_milliseconds() {
        for text in [
            "2026-11-22T19:20:51.123Z",
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let time = parse_timestamp(text).unwrap();
            assert_eq!(format_timestamp(time), text);
            assert_eq!(
                format_timestamp(time),
                time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(Dialect::MySql.quote("a`b"), "`a``b`");
        assert_eq!(Dialect::Sqlite.quote("a\"b"), "\"a\"\"b\"");
        let op = Operation::DestroyById {
            collection: "t\"x".into(),
            key: "id".into(),
            id: Key::from("1"),
        };
        let sql = compile_operation(Dialect::Sqlite, &table(), &op).unwrap();
        assert_eq!(sql.text, r#"DELETE FROM "t""x" WHERE "id" = ?"#);
        let _ = FieldType::Text;
    }
}
