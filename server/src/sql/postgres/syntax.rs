//! PostgreSQL's spelling: `$n` parameters, `COLLATE "C"` for exact text,
//! explicit `NULLS FIRST/LAST`, typed `VALUES` lists, a native `UUID` in the
//! log (its `payload` and `meta` are text, as everywhere: see `super`).

use std::fmt::Write as _;

use flux_capacitor::FieldType;

use crate::schema::Column;
use crate::sql::builder::Bind;
use crate::sql::syntax::{MultiUpdate, Syntax, ValuesTable};

#[derive(Debug)]
pub(crate) struct PostgresSyntax;

impl Syntax for PostgresSyntax {
    fn placeholder(&self, out: &mut String, index: usize) {
        let _ = write!(out, "${index}");
    }

    fn text_expr(&self, column: &Column) -> String {
        format!("{} COLLATE \"C\"", self.quote(&column.name))
    }

    /// A text key's index serves `COLLATE "C"` in the `C` (or `POSIX`)
    /// collation only (not the database's default, even when that is C).
    fn key_order_fix(&self, key: &Column) -> Option<&'static str> {
        let code_point = key.sql_type.ends_with("\"C\"") || key.sql_type.ends_with("\"POSIX\"");
        (key.ty == FieldType::Text && !code_point).then_some("declare a text key COLLATE \"C\"")
    }

    fn order_term(&self, expr: &str, descending: bool) -> String {
        if descending {
            format!("{expr} DESC NULLS LAST")
        } else {
            format!("{expr} ASC NULLS FIRST")
        }
    }

    /// An untyped float parameter compared with a `BIGINT` would be taken
    /// for an integer.
    fn compare_cast(&self, bind: &Bind) -> Option<&'static str> {
        matches!(bind, Bind::Real(_)).then_some("DOUBLE PRECISION")
    }

    fn select_expr(&self, column: &Column) -> String {
        let q = self.quote(&column.name);
        match column.ty {
            FieldType::Integer => format!("CAST({q} AS BIGINT)"),
            FieldType::Real => format!("CAST({q} AS DOUBLE PRECISION)"),
            FieldType::Boolean => q,
            FieldType::Text | FieldType::Json => format!("CAST({q} AS TEXT)"),
        }
    }

    fn int_param_cast(&self) -> Option<&'static str> {
        Some("BIGINT")
    }

    fn event_id(&self, id: uuid::Uuid) -> Bind {
        Bind::Uuid(id)
    }

    fn multi_update(&self) -> MultiUpdate {
        MultiUpdate::FromValues(VALUES)
    }

    fn versions_values(&self) -> Option<ValuesTable> {
        Some(VALUES)
    }

    fn index_owners_query(&self) -> Option<&'static str> {
        Some("SELECT indexname::TEXT, tablename::TEXT FROM pg_indexes WHERE schemaname = current_schema()")
    }
}

/// `(VALUES (CAST($1 AS ...), ...)) AS v (c0, ...)`: parameters are typed
/// by their casts, columns named by an alias list.
const VALUES: ValuesTable = ValuesTable {
    alias_list: true,
    typed_values: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_text_key_in_the_c_collation_orders_by_code_point() {
        let key = |ty, sql_type: &str| Column {
            sql_type: sql_type.into(),
            ..Column::new("id", ty)
        };
        let sorts = |ty, sql_type| PostgresSyntax.key_order_fix(&key(ty, sql_type)).is_some();
        assert!(!sorts(FieldType::Text, r#"text COLLATE pg_catalog."C""#));
        assert!(!sorts(FieldType::Text, r#"text COLLATE pg_catalog."POSIX""#));
        assert!(!sorts(FieldType::Integer, "bigint"));
        assert!(sorts(FieldType::Text, r#"text COLLATE pg_catalog."default""#));
        assert!(sorts(FieldType::Text, r#"text COLLATE pg_catalog."en_US""#));
    }
}
