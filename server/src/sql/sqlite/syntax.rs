//! SQLite's spelling: `?` parameters, `COLLATE BINARY` for exact text,
//! values read back through `CAST`.

use flux_capacitor::FieldType;

use crate::schema::Column;
use crate::sql::builder::Bind;
use crate::sql::syntax::{MultiUpdate, Syntax};

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
        MultiUpdate::FromValues {
            alias_list: false,
            typed_values: false,
        }
    }
}
