//! SQLite's spelling: `?` parameters, `COLLATE BINARY` for exact text,
//! values read back through `CAST`.

use flux_capacitor::FieldType;

use crate::schema::Column;
use crate::sql::builder::Bind;
use crate::sql::syntax::{CLOSED_INDEX, MultiUpdate, Syntax, ValuesTable, closed_versions_index, versions_index};

#[derive(Debug)]
pub(crate) struct SqliteSyntax;

impl Syntax for SqliteSyntax {
    fn text_expr(&self, column: &Column) -> String {
        format!("{} COLLATE BINARY", self.quote(&column.name))
    }

    fn select_expr(&self, column: &Column) -> String {
        let q = self.quote(&column.name);
        match column.ty {
            FieldType::Integer | FieldType::Boolean => format!("CAST({q} AS INTEGER)"),
            FieldType::Real => format!("CAST({q} AS REAL)"),
            FieldType::Text => format!("CAST({q} AS TEXT)"),
            // As stored: a bare number may be an SQL number, read as one.
            FieldType::Json => q,
        }
    }

    /// The log keeps timestamps as RFC 3339 text.
    fn event_time(&self, text: &str, _time: chrono::DateTime<chrono::Utc>) -> Bind {
        Bind::Text(text.to_owned())
    }

    fn multi_update(&self) -> MultiUpdate {
        MultiUpdate::FromValues(VALUES)
    }

    fn versions_values(&self) -> Option<ValuesTable> {
        Some(VALUES)
    }

    /// Only an empty version can collide with the one closed (see
    /// [`crate::sql::versions`]): replacing it loses nothing.
    fn versions_update(&self) -> &'static str {
        "UPDATE OR REPLACE "
    }

    /// Keyed by its primary key, `WITHOUT ROWID`: one B-tree entry a version.
    fn versions_table(&self, name: &str, columns: &[String], key: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({key})) WITHOUT ROWID",
            self.quote(name),
            columns.join(", ")
        )
    }

    fn versions_indexes(&self, name: &str, _key: &str) -> Vec<(String, String)> {
        vec![closed_versions_index(self, name)]
    }

    fn index_owners_query(&self) -> Option<&'static str> {
        Some("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
    }

    fn rename_index(&self, _from: &str, _to: &str) -> Option<String> {
        None
    }

    /// SQLite cannot rename an index: the old one is dropped and, for a
    /// table kept, made again under its new name.
    fn rename_versions_indexes(&self, from: &str, to: &str, key: &str, kept: bool) -> Vec<String> {
        let mut out = vec![format!(
            "DROP INDEX IF EXISTS {}",
            self.quote(&versions_index(from, CLOSED_INDEX))
        )];
        if kept {
            out.extend(self.versions_indexes(to, key).into_iter().map(|(_, create)| create));
        }
        out
    }
}

/// `(SELECT column1 AS ... FROM (VALUES ...))`: no alias list, no casts.
const VALUES: ValuesTable = ValuesTable {
    alias_list: false,
    typed_values: false,
};
