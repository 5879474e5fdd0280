//! MySQL's and MariaDB's spelling: backquoted identifiers, binary-string
//! comparison where a column's collation is not exact, `CASE` multi-row
//! updates, one `RENAME TABLE`.

use flux_capacitor::FieldType;

use crate::schema::Column;
use crate::sql::syntax::{CLOSED_INDEX, KEY_INDEX, MultiUpdate, Syntax, versions_index};
use crate::versions::VALID_UNTIL;

#[derive(Debug)]
pub(crate) struct MySqlSyntax;

impl Syntax for MySqlSyntax {
    fn quote(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn text_expr(&self, column: &Column) -> String {
        let quoted = self.quote(&column.name);
        if column.exact_text {
            quoted
        } else {
            format!("CAST({quoted} AS BINARY)")
        }
    }

    /// A padding collation (`utf8mb4_bin`) finds `"a "` by `"a"`.
    fn inexact_key(&self, key: &Column) -> bool {
        !key.exact_text
    }

    /// An inexact text key is ordered as `CAST(key AS BINARY)`, which its
    /// index does not hold.
    fn key_order_fix(&self, key: &Column) -> Option<&'static str> {
        (key.ty == FieldType::Text && !key.exact_text).then_some("declare a text key COLLATE utf8mb4_nopad_bin")
    }

    /// No expression indexes (MariaDB): the column itself, whose
    /// collation is exact wherever this is used ([`Syntax::inexact_key`]).
    fn versions_key_expr(&self, key: &Column) -> String {
        self.quote(&key.name)
    }

    fn select_expr(&self, column: &Column) -> String {
        let q = self.quote(&column.name);
        match column.ty {
            FieldType::Integer | FieldType::Boolean => format!("CAST({q} AS SIGNED)"),
            FieldType::Real => format!("CAST({q} AS DOUBLE)"),
            FieldType::Text => q,
            FieldType::Json => format!("CAST({q} AS CHAR)"),
        }
    }

    fn event_columns(&self) -> &'static str {
        "seq, id, type, CAST(payload AS CHAR), CAST(meta AS CHAR), error, timestamp, changeset_hash"
    }

    fn multi_update(&self) -> MultiUpdate {
        MultiUpdate::CaseWhen { max_rows: 32 }
    }

    fn rename_tables(&self, renames: &[(String, String)]) -> Vec<String> {
        let pairs: Vec<String> = renames
            .iter()
            .map(|(from, to)| format!("{} TO {}", self.quote(from), self.quote(to)))
            .collect();
        vec![format!("RENAME TABLE {}", pairs.join(", "))]
    }

    /// `RENAME TABLE` commits the open transaction.
    fn rename_commits(&self) -> bool {
        true
    }

    /// Indexes inline (MySQL has no `CREATE INDEX IF NOT EXISTS`), the key
    /// a plain index: one event may leave two empty versions of a row with
    /// the same key columns, and MySQL has no `UPDATE` replacing one. No
    /// partial indexes: the closed versions' index holds every version.
    fn versions_table(&self, name: &str, columns: &[String], key: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, INDEX {} ({key}), INDEX {} ({VALID_UNTIL}))",
            self.quote(name),
            columns.join(", "),
            self.quote(&versions_index(name, KEY_INDEX)),
            self.quote(&versions_index(name, CLOSED_INDEX))
        )
    }

    fn versions_indexes(&self, _name: &str, _key: &str) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Index names are the table's own: they follow it.
    fn rename_versions_indexes(&self, _from: &str, _to: &str, _key: &str, _kept: bool) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exact_text_key_is_indexed_in_page_order() {
        let key = |ty, exact_text| Column {
            exact_text,
            ..Column::new("id", ty)
        };
        assert!(MySqlSyntax.key_order_fix(&key(FieldType::Text, true)).is_none());
        assert!(MySqlSyntax.key_order_fix(&key(FieldType::Integer, false)).is_none());
        assert!(MySqlSyntax.key_order_fix(&key(FieldType::Text, false)).is_some());
    }
}
