//! [`Syntax`]: how a dialect spells what the statement builders write. The
//! builders ([`super::write`], [`super::read`], [`super::batch`]) ask it and
//! never name a dialect; each dialect's folder implements it once.

use flux_capacitor::FieldType;

use super::builder::Bind;
use crate::schema::Column;
use crate::versions::{OPEN, VALID_UNTIL};

/// How a dialect spells a `VALUES` list read as a table (`FROM (VALUES ...) AS v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValuesTable {
    /// Its columns are named by an alias list (`AS v (c0, ...)`); without
    /// one, `VALUES` names them `column1`, `column2`...
    pub alias_list: bool,
    /// Each value is cast to its column's type ([`Syntax::value_type`]).
    pub typed_values: bool,
}

/// How a multi-row `UPDATE` joins the new values (see [`super::batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultiUpdate {
    /// `UPDATE t SET c = v.<name> FROM (VALUES ...) AS v`.
    FromValues(ValuesTable),
    /// `SET c = CASE key WHEN ? THEN ? ... END WHERE key IN (...)`, at most
    /// `max_rows` rows a statement (its cost grows with rows²).
    CaseWhen { max_rows: usize },
}

/// A dialect's spelling of identifiers, parameters, casts and the few
/// statements whose grammar differs. Defaults are standard SQL.
pub(crate) trait Syntax: Sync + std::fmt::Debug {
    /// Appends the placeholder of parameter `index` (1-based).
    fn placeholder(&self, out: &mut String, _index: usize) {
        out.push('?');
    }

    /// Quotes an identifier (already checked against the introspected schema).
    fn quote(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// The expression comparing a text `column` by code point.
    fn text_expr(&self, column: &Column) -> String;

    /// `ORDER BY` term: nulls first ascending and last descending.
    fn order_term(&self, expr: &str, descending: bool) -> String {
        format!("{expr} {}", if descending { "DESC" } else { "ASC" })
    }

    /// A cast around a compared parameter, where the database would
    /// otherwise guess its type wrongly.
    fn compare_cast(&self, _bind: &Bind) -> Option<&'static str> {
        None
    }

    /// Whether `key = ?` alone may match a key that is not exactly the
    /// bound one (a padding collation), so lookups add a binary comparison.
    fn inexact_key(&self, key: &Column) -> bool {
        let _ = key;
        false
    }

    /// `None` where the primary key's index of a table keyed by `key` holds
    /// its keys in code-point order, the order of every page; else how to
    /// declare the key so that it does (each page in key order sorts the
    /// whole table meanwhile).
    fn key_order_fix(&self, key: &Column) -> Option<&'static str> {
        let _ = key;
        None
    }

    /// The expression a versions table's key is indexed, matched and
    /// ordered by ([`super::versions`]): the reads' code-point expression,
    /// where an index can hold it.
    fn versions_key_expr(&self, key: &Column) -> String {
        match key.ty {
            FieldType::Text => self.text_expr(key),
            _ => self.quote(&key.name),
        }
    }

    /// The cast of an integer parameter whose type the database cannot
    /// infer (in a `SELECT` list or a `CASE` result).
    fn int_param_cast(&self) -> Option<&'static str> {
        None
    }

    /// The `SELECT` expression reading `column` back as its field type.
    fn select_expr(&self, column: &Column) -> String;

    /// The event log's `SELECT` list, in [`super::read::EVENT_COLUMNS`] order
    /// (`payload` and `meta` read as the text they were written as).
    fn event_columns(&self) -> &'static str {
        "seq, id, type, payload, meta, error, timestamp, changeset_hash"
    }

    /// A log row's `id` parameter.
    fn event_id(&self, id: uuid::Uuid) -> Bind {
        Bind::Text(id.to_string())
    }

    /// A log row's `timestamp` parameter (`text`: its RFC 3339 form).
    fn event_time(&self, _text: &str, time: chrono::DateTime<chrono::Utc>) -> Bind {
        Bind::Time(time)
    }

    /// How multi-row updates are written.
    fn multi_update(&self) -> MultiUpdate;

    /// The cast of a `VALUES` entry of `column`, when [`ValuesTable`] has
    /// `typed_values`.
    fn value_type(&self, column: &Column) -> &'static str {
        match (column.write_cast, column.ty) {
            (Some(cast), _) => cast,
            (None, FieldType::Integer) => "BIGINT",
            (None, FieldType::Real) => "DOUBLE PRECISION",
            (None, FieldType::Boolean) => "BOOLEAN",
            (None, FieldType::Text | FieldType::Json) => "TEXT",
        }
    }

    /// Statements renaming tables `(from, to)`, in order, inside the
    /// writer's transaction.
    fn rename_tables(&self, renames: &[(String, String)]) -> Vec<String> {
        renames
            .iter()
            .map(|(from, to)| format!("ALTER TABLE {} RENAME TO {}", self.quote(from), self.quote(to)))
            .collect()
    }

    /// Whether renaming commits the transaction by itself (so it must run in
    /// one of its own, after the rest has committed).
    fn rename_commits(&self) -> bool {
        false
    }

    /// How the row versions' statements ([`super::versions`]) join many
    /// `(key, seq)` rows: a `VALUES` table, or (`None`) a `CASE` on the key.
    fn versions_values(&self) -> Option<ValuesTable> {
        None
    }

    /// The `UPDATE` closing versions: where a versions table's key is a
    /// primary key, one replacing an empty twin ([`super::versions`]).
    fn versions_update(&self) -> &'static str {
        "UPDATE "
    }

    /// `CREATE TABLE` of versions table `name` with `columns`, keyed by
    /// `key` (the terms of its key, in page order).
    fn versions_table(&self, name: &str, columns: &[String], key: &str) -> String {
        let _ = key;
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            self.quote(name),
            columns.join(", ")
        )
    }

    /// The indexes of versions table `name` made apart from its table, each
    /// `(index name, statement)`: its key, and its closed versions (a
    /// partial index).
    fn versions_indexes(&self, name: &str, key: &str) -> Vec<(String, String)> {
        let key_index = versions_index(name, KEY_INDEX);
        let create = format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({key})",
            self.quote(&key_index),
            self.quote(name)
        );
        vec![(key_index, create), closed_versions_index(self, name)]
    }

    /// A query of the indexes of the current schema, each its name and its
    /// table's (two text columns), where index names are the schema's;
    /// `None` where they are each table's own.
    fn index_owners_query(&self) -> Option<&'static str> {
        None
    }

    /// `ALTER INDEX ... RENAME`, where the dialect can rename an index.
    fn rename_index(&self, from: &str, to: &str) -> Option<String> {
        Some(format!(
            "ALTER INDEX IF EXISTS {} RENAME TO {}",
            self.quote(from),
            self.quote(to)
        ))
    }

    /// `DROP INDEX IF EXISTS`, where index names are the schema's.
    fn drop_index(&self, name: &str) -> String {
        format!("DROP INDEX IF EXISTS {}", self.quote(name))
    }

    /// Statements giving versions table `to`, renamed from `from`, the
    /// indexes named after it (index names are the schema's, not the
    /// table's: left behind, they would keep a later table named `from`
    /// from getting its own). `kept`: `to` stays a versions table in use
    /// (not one set aside to be dropped).
    fn rename_versions_indexes(&self, from: &str, to: &str, key: &str, kept: bool) -> Vec<String> {
        let _ = (key, kept);
        [KEY_INDEX, CLOSED_INDEX]
            .iter()
            .filter_map(|which| self.rename_index(&versions_index(from, which), &versions_index(to, which)))
            .collect()
    }
}

/// The suffix of a versions table's key index.
pub(crate) const KEY_INDEX: &str = "key";
/// The suffix of a versions table's index of closed versions.
pub(crate) const CLOSED_INDEX: &str = "closed";

/// The name of index `which` of versions table `table`.
pub(crate) fn versions_index(table: &str, which: &str) -> String {
    format!("{table}_{which}")
}

/// The partial index of the closed versions of `table` (the planners use
/// it where a statement repeats its term verbatim: [`super::versions`]):
/// its name and statement.
pub(crate) fn closed_versions_index(syntax: &(impl Syntax + ?Sized), table: &str) -> (String, String) {
    let name = versions_index(table, CLOSED_INDEX);
    let create = format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({VALID_UNTIL}) WHERE {VALID_UNTIL} < {OPEN}",
        syntax.quote(&name),
        syntax.quote(table)
    );
    (name, create)
}
