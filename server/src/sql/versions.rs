//! The statements of row versions ([`crate::versions`]): a versions table
//! made like its read-model table, the statements that close and open
//! versions next to each changeset operation, and the reads at a `seq`.
//!
//! **Layout.** A current version's `valid_until` is [`OPEN`] (`i64::MAX`),
//! not `NULL`, so that `(key, valid_until, valid_from)` can key the versions
//! table: on SQLite the primary key of a `WITHOUT ROWID` table, elsewhere an
//! index in the order a page reads. A row's current version is one seek on
//! it (`key = ? AND valid_until = OPEN`), a page `as_of` walks it in key
//! order, and on SQLite every version is **one** B-tree entry where the
//! first layout (a rowid table, a `(key, valid_from)` and a `(valid_to, key)`
//! index) wrote three (BENCHMARKS.md §9). A second index holds closed
//! versions only (`valid_until < OPEN`; on MySQL, which has no partial
//! indexes, all of them): it finds the versions an `update_where` closed.
//! Indexes are named after their table (`<versions>_key`, `<versions>_closed`)
//! and renamed with it ([`rename_indexes`]): on SQLite and PostgreSQL index
//! names are the schema's, and a name left behind would keep a later table
//! of the old name from getting its own (`CREATE INDEX IF NOT EXISTS`).
//!
//! One event may open and close versions of a row more than once: those
//! empty versions (`valid_from = valid_until`, never in force, read by
//! nothing) can share all three columns. Where they are a primary key
//! (SQLite), closing a version replaces such a twin (`UPDATE OR REPLACE`:
//! only an empty version can collide, as the one version of a row closed at
//! a `seq` after being in force is unique); MySQL/MariaDB, which has no such
//! update, keys them with a plain index.
//!
//! Every statement is set-based: a `*_where` operation closes the versions
//! of the rows its filter matches with one `UPDATE ... WHERE key IN (SELECT
//! key FROM table WHERE filter)` (before the operation) and opens the new
//! ones with one `INSERT ... SELECT` of the rows it left without a current
//! version (after it). The multi-row path writes a create's version from
//! the values it binds (`INSERT ... VALUES`) instead of reading the row back,
//! and, knowing every change of a row in its plan, writes a version that a
//! later change of the plan ends **already closed** ([`after_many`]): a
//! row changed *n* times in a batch costs *n* inserts and at most one
//! closing `UPDATE`, where closing is the dear part (on SQLite it moves the
//! version's primary-key entry). The versions written are those of the
//! one-statement-per-operation path, but for the empty ones, which no read
//! sees.

use std::collections::HashSet;

use flux_capacitor::{FieldType, Key, Operation};

use super::Dialect;
use super::builder::{Bind, Sql};
use super::syntax::{CLOSED_INDEX, KEY_INDEX, ValuesTable, versions_index};
#[cfg(doc)]
use super::write::row_chunks;
use super::write::{key_bind, push_filter, split_rows, write_bind};
use crate::schema::{Column, Table};
use crate::versions::{OPEN, VALID_FROM, VALID_UNTIL};

fn int(value: u64) -> Bind {
    Bind::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Most rows one versions statement with a `CASE` names (its cost grows
/// with rows²); where the dialect joins a `VALUES` table instead,
/// [`row_chunks`] decides.
pub(crate) const MAX_CASE_ROWS: usize = 64;

/// `rows` split into the statements closing or opening their versions by
/// key, of at most `params` parameters a row.
fn in_key_chunks<T>(dialect: Dialect, rows: &[T], params: usize) -> Vec<&[T]> {
    match dialect.syntax().versions_values() {
        Some(_) => split_rows(rows, params).collect(),
        None => rows.chunks(MAX_CASE_ROWS).collect(),
    }
}

/// A row in a versions statement by key: its key, the `seq` its version
/// opens or closes at, and the `seq` a version opened ends at (`None`:
/// current, unless the same multi-row plan changes the row again: [`Batched`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub key: Key,
    pub seq: u64,
    pub until: Option<u64>,
}

impl Span {
    /// Row `key` at `seq`, its version opened there current (no end).
    pub(crate) fn at(key: Key, seq: u64) -> Self {
        Span { key, seq, until: None }
    }
}

/// `(VALUES (?, ?), ...) AS flux_keys (flux_k, flux_s)`, each row's key and
/// `seq`, and its end as `flux_u` when `ends` (where `VALUES` takes no
/// alias list, a `SELECT` renames its columns: names no read-model column
/// can clash with); answers the join condition on `key`.
fn push_key_values(sql: &mut Sql, values: ValuesTable, key: &Column, rows: &[Span], ends: bool) -> String {
    let key_cast = values.typed_values.then(|| sql.syntax.value_type(key));
    if !values.alias_list {
        sql.push("(SELECT column1 AS flux_k, column2 AS flux_s");
        if ends {
            sql.push(", column3 AS flux_u");
        }
        sql.push(" FROM ");
    }
    sql.push("(VALUES ");
    sql.list(rows, ", ", |sql, row| {
        sql.push("(");
        sql.bind(key_bind(&row.key), key_cast);
        sql.push(", ");
        push_seq(sql, row.seq);
        if ends {
            push_bound_until(sql, row.until);
        }
        sql.push(")");
    });
    sql.push(match (values.alias_list, ends) {
        (true, false) => ") AS flux_keys (flux_k, flux_s)",
        (true, true) => ") AS flux_keys (flux_k, flux_s, flux_u)",
        (false, _) => ")) AS flux_keys",
    });
    format!("{} = flux_keys.flux_k", key_expr(sql, key))
}

/// The expression a versions table's key is indexed by (and matched by,
/// when it compares exactly: see [`key_exprs`]).
fn key_expr(sql: &Sql, key: &Column) -> String {
    sql.syntax.versions_key_expr(key)
}

/// The expressions a key is matched by: the indexed one, and the exact
/// one too where the indexed one ignores trailing spaces (MySQL's padding
/// collations), as the live reads' key lookups do.
fn key_exprs(sql: &Sql, key: &Column) -> Vec<String> {
    let mut out = vec![key_expr(sql, key)];
    if key.ty == FieldType::Text && sql.syntax.inexact_key(key) {
        out.push(sql.syntax.text_expr(key));
    }
    out
}

/// The terms of a versions table's key: `(key, valid_until, valid_from)`,
/// in the order a page in key order reads it (PostgreSQL's `ASC NULLS
/// FIRST` is not a default index's order, which would leave it unused).
fn key_terms(dialect: Dialect, table: &Table) -> String {
    let syntax = dialect.syntax();
    let key = syntax.versions_key_expr(table.key_column());
    format!("{}, {VALID_UNTIL}, {VALID_FROM}", syntax.order_term(&key, false))
}

/// `CREATE TABLE` of `versions` (the columns of its read-model table, as
/// declared, without any constraint, and the validity columns), keyed by
/// `(key, valid_until, valid_from)`, and its index of closed versions (see
/// the module docs).
pub(crate) fn create_table(dialect: Dialect, name: &str, table: &Table) -> Vec<Sql> {
    let syntax = dialect.syntax();
    let mut columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", syntax.quote(&c.name), c.sql_type))
        .collect();
    columns.push(format!("{VALID_FROM} BIGINT NOT NULL"));
    columns.push(format!("{VALID_UNTIL} BIGINT NOT NULL"));
    let key = key_terms(dialect, table);
    std::iter::once(syntax.versions_table(name, &columns, &key))
        .chain(
            syntax
                .versions_indexes(name, &key)
                .into_iter()
                .map(|(_, create)| create),
        )
        .map(|text| Sql::fixed(dialect, text))
        .collect()
}

/// The indexes of versions table `name` of `table` made apart from it
/// that `existing` (index names) lacks.
pub(crate) fn missing_indexes(dialect: Dialect, name: &str, table: &Table, existing: &HashSet<String>) -> Vec<Sql> {
    let syntax = dialect.syntax();
    syntax
        .versions_indexes(name, &key_terms(dialect, table))
        .into_iter()
        .filter(|(index, _)| !existing.contains(index))
        .map(|(_, create)| Sql::fixed(dialect, create))
        .collect()
}

/// Statements giving every versions index found (`owners`: index name and
/// table name, from the catalog) the name of the table it is on: a
/// misnamed one (left by a rename before index names followed their
/// table) is renamed, parked first under a free name since it may hold
/// another's name, or, where indexes cannot be renamed, dropped to be made
/// again ([`missing_indexes`]); a second one of a kind on a table is
/// dropped. Updates `existing` (every index name) to what they leave.
pub(crate) fn name_indexes(dialect: Dialect, owners: &[(String, String)], existing: &mut HashSet<String>) -> Vec<Sql> {
    let syntax = dialect.syntax();
    let ours = |index: &str, owner: &str| {
        if !owner.starts_with(crate::versions::PREFIX) || !index.starts_with("flux_v") {
            return None;
        }
        let which = [KEY_INDEX, CLOSED_INDEX]
            .into_iter()
            .find(|which| index.ends_with(&format!("_{which}")))?;
        Some(versions_index(owner, which))
    };
    let mut out = Vec::new();
    let mut parked = Vec::new();
    for (index, owner) in owners {
        let Some(proper) = ours(index, owner).filter(|proper| proper != index) else {
            continue;
        };
        existing.remove(index);
        let park = format!("flux_vpark_{}", parked.len());
        match syntax.rename_index(index, &park) {
            Some(rename) => {
                out.push(rename);
                parked.push((park, proper));
            }
            None => out.push(syntax.drop_index(index)),
        }
    }
    for (park, proper) in parked {
        out.extend(match existing.insert(proper.clone()) {
            true => syntax.rename_index(&park, &proper),
            false => Some(syntax.drop_index(&park)),
        });
    }
    out.into_iter().map(|text| Sql::fixed(dialect, text)).collect()
}

/// After versions table `from` of `table` was renamed `to`: its indexes
/// named after `to` (see [`super::syntax::Syntax::rename_versions_indexes`]).
pub(crate) fn rename_indexes(dialect: Dialect, table: &Table, from: &str, to: &str, kept: bool) -> Vec<Sql> {
    let syntax = dialect.syntax();
    syntax
        .rename_versions_indexes(from, to, &key_terms(dialect, table), kept)
        .into_iter()
        .map(|text| Sql::fixed(dialect, text))
        .collect()
}

/// `CREATE TABLE` of a scratch copy of `table` named `name` (its columns
/// as declared, its key the primary key), for building versions from the log.
pub(crate) fn create_scratch(dialect: Dialect, name: &str, table: &Table) -> Sql {
    let syntax = dialect.syntax();
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", syntax.quote(&c.name), c.sql_type))
        .collect();
    Sql::fixed(
        dialect,
        format!(
            "CREATE TABLE {} ({}, PRIMARY KEY ({}))",
            syntax.quote(name),
            columns.join(", "),
            syntax.quote(&table.key)
        ),
    )
}

/// `DROP TABLE IF EXISTS`.
pub(crate) fn drop_table(dialect: Dialect, name: &str) -> Sql {
    Sql::fixed(
        dialect,
        format!("DROP TABLE IF EXISTS {}", dialect.syntax().quote(name)),
    )
}

/// Opens a version at `seq` of every row of `source` when `versions` is
/// empty: the history of a table the store first sees with rows in it.
pub(crate) fn seed(dialect: Dialect, source: &Table, versions: &Table, seq: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    push_insert_select(&mut sql, versions);
    push_seq(&mut sql, seq);
    push_open(&mut sql);
    sql.push(" FROM ")
        .ident(&source.name)
        .push(" WHERE NOT EXISTS (SELECT 1 FROM ");
    sql.ident(&versions.name).push(")");
    sql
}

/// Copies the versions of `legacy`, a versions table of the first layout
/// (`legacy_end` `NULL` for current), into `versions`, of the current one:
/// its columns `kept`, `NULL` ends becoming [`OPEN`], the empty ones left out.
pub(crate) fn copy_legacy(dialect: Dialect, legacy: &str, versions: &str, kept: &[&str], legacy_end: &str) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(versions).push(" (");
    sql.list(kept, ", ", |sql, c| {
        sql.ident(c);
    });
    push_validity(&mut sql);
    sql.push(") SELECT ");
    sql.list(kept, ", ", |sql, c| {
        sql.ident(c);
    });
    sql.push(", ").push(VALID_FROM).push(", COALESCE(").push(legacy_end);
    sql.push(", ").push(&OPEN.to_string()).push(") FROM ").ident(legacy);
    // Empty versions were never in force (and could collide in the new key).
    sql.push(" WHERE ").push(legacy_end).push(" IS NULL OR ");
    sql.push(legacy_end).push(" > ").push(VALID_FROM);
    sql
}

/// `ALTER TABLE` adding `column` (added to the read-model table by a later
/// migration) to `versions`: older versions hold `NULL` there.
pub(crate) fn add_column(dialect: Dialect, versions: &str, column: &Column) -> Sql {
    let syntax = dialect.syntax();
    Sql::fixed(
        dialect,
        format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            syntax.quote(versions),
            syntax.quote(&column.name),
            column.sql_type
        ),
    )
}

/// `<key> = ?` on a versions table (or its read-model table).
fn push_key(sql: &mut Sql, key: &Column, id: &Key) {
    let exprs = key_exprs(sql, key);
    sql.list(exprs, " AND ", |sql, expr| {
        sql.push(&expr).push(" = ");
        sql.bind(key_bind(id), None);
    });
}

fn push_seq(sql: &mut Sql, seq: u64) {
    let cast = sql.syntax.int_param_cast();
    sql.bind(int(seq), cast);
}

/// `, valid_from, valid_until`: the validity columns, after a version's others.
fn push_validity(sql: &mut Sql) {
    sql.push(", ").push(VALID_FROM).push(", ").push(VALID_UNTIL);
}

/// `, <OPEN>`: the `valid_until` of a version opened (after its `valid_from`).
fn push_open(sql: &mut Sql) {
    sql.push(", ").push(&OPEN.to_string());
}

/// `, <until>`: the `seq` a version ends at, [`push_open`] for a current one.
fn push_until(sql: &mut Sql, until: Option<u64>) {
    match until {
        Some(until) => {
            sql.push(", ");
            push_seq(sql, until);
        }
        None => push_open(sql),
    }
}

/// `, ?`: the `seq` a version ends at, [`OPEN`] for a current one, always
/// bound — in a statement of many rows, so that its text does not depend on
/// which of them end (each text is prepared and cached once).
fn push_bound_until(sql: &mut Sql, until: Option<u64>) {
    sql.push(", ");
    push_seq(sql, until.unwrap_or(OPEN.unsigned_abs()));
}

/// `UPDATE versions SET valid_until = `, replacing an empty twin where the
/// three columns are a primary key (see the module docs).
fn push_close(sql: &mut Sql, versions: &Table) {
    let update = sql.syntax.versions_update();
    sql.push(update);
    sql.ident(&versions.name).push(" SET ").push(VALID_UNTIL).push(" = ");
}

/// `valid_until = <OPEN> AND `: a row's current version (literal, so that
/// the primary key's second column is matched by every plan).
fn push_current(sql: &mut Sql) {
    sql.push(VALID_UNTIL).push(" = ").push(&OPEN.to_string()).push(" AND ");
}

/// `<key> IN (?, ...)`.
fn push_keys(sql: &mut Sql, key: &Column, rows: &[Span]) {
    let exprs = key_exprs(sql, key);
    sql.list(exprs, " AND ", |sql, expr| {
        sql.push(&expr).push(" IN (");
        sql.list(rows, ", ", |sql, row| {
            sql.bind(key_bind(&row.key), None);
        });
        sql.push(")");
    });
}

/// `<key> IN (SELECT <key> FROM <table> WHERE ` + `tail` + `)`, for each key expression.
fn push_key_in(sql: &mut Sql, key: &Column, table: &str, mut tail: impl FnMut(&mut Sql)) {
    let exprs = key_exprs(sql, key);
    sql.list(exprs, " AND ", |sql, expr| {
        sql.push(&expr)
            .push(" IN (SELECT ")
            .push(&expr)
            .push(" FROM ")
            .ident(table);
        sql.push(" WHERE ");
        tail(sql);
        sql.push(")");
    });
}

/// `CASE <key> WHEN ? THEN <seq> ... END`: each row's `seq` (`pick` of it).
fn push_seqs(sql: &mut Sql, key: &Column, rows: &[Span], pick: fn(&Span) -> u64) {
    let expr = key_exprs(sql, key).pop().unwrap_or_default();
    sql.push("CASE ").push(&expr);
    for row in rows {
        sql.push(" WHEN ");
        sql.bind(key_bind(&row.key), None);
        sql.push(" THEN ");
        push_seq(sql, pick(row));
    }
    sql.push(" END");
}

/// Closes the current versions of `rows` (distinct keys) at their `seq`.
pub(crate) fn close_keys(dialect: Dialect, versions: &Table, rows: &[Span]) -> Sql {
    let mut sql = Sql::new(dialect);
    let key = versions.key_column();
    push_close(&mut sql, versions);
    match rows {
        [row] => {
            push_seq(&mut sql, row.seq);
            sql.push(" WHERE ");
            push_current(&mut sql);
            push_key(&mut sql, key, &row.key);
        }
        _ => match sql.syntax.versions_values() {
            Some(values) => {
                // `... = flux_keys.flux_s FROM (VALUES ...) AS flux_keys WHERE key = flux_keys.flux_k`:
                // one primary-key seek a row.
                sql.push("flux_keys.flux_s FROM ");
                let join = push_key_values(&mut sql, values, key, rows, false);
                sql.push(" WHERE ");
                push_current(&mut sql);
                sql.push(&join);
            }
            None => {
                push_seqs(&mut sql, key, rows, |row| row.seq);
                sql.push(" WHERE ");
                push_current(&mut sql);
                push_keys(&mut sql, key, rows);
            }
        },
    }
    sql
}

/// `INSERT INTO versions (columns, valid_from, valid_until) SELECT columns, `.
fn push_insert_select(sql: &mut Sql, versions: &Table) {
    sql.push("INSERT INTO ").ident(&versions.name).push(" (");
    sql.list(&versions.columns, ", ", |sql, c| {
        sql.ident(&c.name);
    });
    push_validity(sql);
    sql.push(") SELECT ");
    sql.list(&versions.columns, ", ", |sql, c| {
        sql.ident(&c.name);
    });
    sql.push(", ");
}

/// Opens a version of each of `rows` (distinct keys) as `source` holds it
/// now, valid from its `seq` until its `until`.
pub(crate) fn open_keys(dialect: Dialect, source: &Table, versions: &Table, rows: &[Span]) -> Sql {
    let mut sql = Sql::new(dialect);
    let key = source.key_column();
    let ends = rows.iter().any(|row| row.until.is_some());
    push_insert_select(&mut sql, versions);
    match rows {
        [row] => {
            push_seq(&mut sql, row.seq);
            push_until(&mut sql, row.until);
            sql.push(" FROM ").ident(&source.name).push(" WHERE ");
            push_key(&mut sql, key, &row.key);
        }
        _ => match sql.syntax.versions_values() {
            Some(values) => {
                // `... flux_keys.flux_s, OPEN FROM (VALUES ...) AS flux_keys JOIN source ON key = flux_keys.flux_k`.
                sql.push("flux_keys.flux_s");
                if ends {
                    sql.push(", flux_keys.flux_u");
                } else {
                    push_open(&mut sql);
                }
                sql.push(" FROM ");
                let join = push_key_values(&mut sql, values, key, rows, ends);
                sql.push(" JOIN ").ident(&source.name).push(" ON ").push(&join);
            }
            None => {
                push_seqs(&mut sql, key, rows, |row| row.seq);
                if ends {
                    sql.push(", ");
                    push_seqs(&mut sql, key, rows, |row| row.until.unwrap_or(OPEN.unsigned_abs()));
                } else {
                    push_open(&mut sql);
                }
                sql.push(" FROM ").ident(&source.name).push(" WHERE ");
                push_keys(&mut sql, key, rows);
            }
        },
    }
    sql
}

/// Before an `update_where`/`destroy_where` at `seq`: closes the current
/// versions of the rows of `source` its filter matches.
fn close_matching(dialect: Dialect, source: &Table, versions: &Table, operation: &Operation, seq: u64) -> Option<Sql> {
    let (Operation::UpdateWhere { filter, .. } | Operation::DestroyWhere { filter, .. }) = operation else {
        return None;
    };
    let mut sql = Sql::new(dialect);
    push_close(&mut sql, versions);
    push_seq(&mut sql, seq);
    sql.push(" WHERE ");
    push_current(&mut sql);
    push_key_in(&mut sql, source.key_column(), &source.name, |sql| {
        push_filter(sql, source, filter)
    });
    Some(sql)
}

/// After an `update_where` at `seq`: opens a version of each row of `source`
/// whose version was closed at `seq` and that has no current one (the rows
/// it matched; a row destroyed at `seq` is not in `source`).
fn open_reclosed(dialect: Dialect, source: &Table, versions: &Table, seq: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    let key = source.key_column();
    // The partial index's own term, verbatim, lets the planners use it.
    let closed = |sql: &mut Sql| {
        sql.push(VALID_UNTIL).push(" < ").push(&OPEN.to_string());
        sql.push(" AND ").push(VALID_UNTIL).push(" = ");
        push_seq(sql, seq);
    };
    push_insert_select(&mut sql, versions);
    push_seq(&mut sql, seq);
    push_open(&mut sql);
    sql.push(" FROM ").ident(&source.name).push(" WHERE ");
    push_key_in(&mut sql, key, &versions.name, closed);
    // ... and without a current version (one opened since, at `seq`).
    sql.push(" AND NOT (");
    push_key_in(&mut sql, key, &versions.name, |sql| {
        push_current(sql);
        push_key_in(sql, key, &versions.name, closed);
    });
    sql.push(")");
    sql
}

/// The key of the row a by-key operation writes.
fn row_key(table: &Table, operation: &Operation) -> Option<Key> {
    match operation {
        Operation::Create { row, .. } => Key::from_value(row.get(&table.key)?),
        Operation::UpdateById { id, .. } | Operation::DestroyById { id, .. } => Some(id.clone()),
        Operation::UpdateWhere { .. } | Operation::DestroyWhere { .. } => None,
    }
}

/// The versions statements of one operation at `seq` that writes `source`
/// (which has changed, or not, by itself: an empty patch writes nothing):
/// those to run before it and those to run after it.
pub(crate) fn around(
    dialect: Dialect,
    source: &Table,
    versions: &Table,
    operation: &Operation,
    seq: u64,
) -> (Option<Sql>, Vec<Sql>) {
    let before = close_matching(dialect, source, versions, operation, seq);
    let mut after = Vec::new();
    match operation {
        Operation::UpdateWhere { .. } => after.push(open_reclosed(dialect, source, versions, seq)),
        Operation::DestroyWhere { .. } => {}
        _ => {
            if let Some(id) = row_key(source, operation) {
                let rows = [Span::at(id, seq)];
                if !matches!(operation, Operation::Create { .. }) {
                    after.push(close_keys(dialect, versions, &rows));
                }
                if !matches!(operation, Operation::DestroyById { .. }) {
                    after.push(open_keys(dialect, source, versions, &rows));
                }
            }
        }
    }
    (before, after)
}

/// A version's parameters, each with the cast its column is written with.
type Values = Vec<(Bind, Option<&'static str>)>;

/// A create's row as the parameters of its version, in `versions`' column
/// order, when it gives every column a value: then the row is exactly what
/// was bound (on a table without triggers, which the multi-row path
/// writes), with no default filled in by the database. `None` otherwise.
fn created_values(source: &Table, versions: &Table, operation: &Operation) -> Option<Values> {
    let Operation::Create { row, .. } = operation else {
        return None;
    };
    versions
        .columns
        .iter()
        .map(|column| {
            let written = source.column(&column.name)?;
            Some((write_bind(written, row.get(&column.name)?)?, written.write_cast))
        })
        .collect()
}

/// Opens the versions of created rows from their values (see
/// [`created_values`]), each valid from its `seq` until its end.
fn insert_values(dialect: Dialect, versions: &Table, rows: &[(Values, u64, Option<u64>)]) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(&versions.name).push(" (");
    sql.list(&versions.columns, ", ", |sql, c| {
        sql.ident(&c.name);
    });
    push_validity(&mut sql);
    sql.push(") VALUES ");
    let ends = rows.iter().any(|(_, _, until)| until.is_some());
    sql.list(rows, ", ", |sql, (values, seq, until)| {
        sql.push("(");
        sql.list(values, ", ", |sql, (bind, cast)| {
            sql.bind(bind.clone(), *cast);
        });
        sql.push(", ");
        push_seq(sql, *seq);
        if ends {
            push_bound_until(sql, *until);
        } else {
            push_open(sql);
        }
        sql.push(")");
    });
    sql
}

/// A by-key operation of a multi-row plan ([`super::batch`]), with what
/// the plan knows of the other operations on its row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batched<'a> {
    pub operation: &'a Operation,
    /// The `seq` of its event.
    pub seq: u64,
    /// The `seq` of the plan's next operation on the same row before a
    /// barrier (an operation written alone), if any.
    pub next: Option<u64>,
    /// Whether no operation on the same row comes before it since the
    /// plan's last barrier.
    pub first: bool,
}

impl<'a> Batched<'a> {
    /// `operation` at `seq`, as if alone on its row in the plan.
    pub(crate) fn new(operation: &'a Operation, seq: u64) -> Self {
        Batched {
            operation,
            seq,
            next: None,
            first: true,
        }
    }
}

/// The versions statements after a multi-row statement of by-key
/// `operations` on distinct rows of `source` (a table without triggers).
///
/// Where the plan changes a row again later (`next`), the version an
/// operation opens is written already closed there, and the later
/// operation closes nothing: only a row's first operation since the last
/// barrier closes the version opened before the plan. A version the same
/// event would close again (`next` = its `seq`) is never in force and is
/// not written. So a row changed *n* times in a batch costs *n* inserts
/// and at most one `UPDATE` of its versions, not *n* of each.
pub(crate) fn after_many<'a>(
    dialect: Dialect,
    source: &Table,
    versions: &Table,
    operations: impl IntoIterator<Item = Batched<'a>>,
) -> Vec<Sql> {
    let mut close = Vec::new();
    let mut open = Vec::new();
    let mut created = Vec::new();
    for Batched {
        operation,
        seq,
        next,
        first,
    } in operations
    {
        // A version its own event closes again is never in force.
        let opens = next != Some(seq);
        if let Some(values) = created_values(source, versions, operation) {
            if opens {
                created.push((values, seq, next));
            }
            continue;
        }
        let Some(id) = row_key(source, operation) else { continue };
        if first && !matches!(operation, Operation::Create { .. }) {
            close.push(Span::at(id.clone(), seq));
        }
        if opens && !matches!(operation, Operation::DestroyById { .. }) {
            open.push(Span {
                key: id,
                seq,
                until: next,
            });
        }
    }
    let mut out: Vec<Sql> = in_key_chunks(dialect, &close, 2)
        .into_iter()
        .map(|rows| close_keys(dialect, versions, rows))
        .collect();
    out.extend(
        in_key_chunks(dialect, &open, 3)
            .into_iter()
            .map(|rows| open_keys(dialect, source, versions, rows)),
    );
    out.extend(split_rows(&created, versions.columns.len() + 2).map(|rows| insert_values(dialect, versions, rows)));
    out
}

/// `<validity columns> ` of a version in force right after `seq`.
pub(crate) fn push_valid_at(sql: &mut Sql, seq: u64) {
    sql.push(VALID_FROM).push(" <= ").bind(int(seq), None);
    sql.push(" AND ").push(VALID_UNTIL).push(" > ");
    sql.bind(int(seq), None);
}

/// `SELECT` of every version of row `id` that lasted (valid after some
/// event), in `valid_from` order, with the validity columns last.
pub(crate) fn history_sql<'t>(dialect: Dialect, versions: &'t Table, id: &Key) -> (Sql, Vec<&'t Column>) {
    let columns: Vec<&Column> = versions.columns.iter().collect();
    let mut sql = Sql::new(dialect);
    sql.push("SELECT ");
    sql.list(&columns, ", ", |sql, column| {
        let expr = sql.syntax.select_expr(column);
        sql.push(&expr);
    });
    sql.push(", ").push(VALID_FROM).push(", ").push(VALID_UNTIL);
    sql.push(" FROM ").ident(&versions.name).push(" WHERE ");
    push_key(&mut sql, versions.key_column(), id);
    sql.push(" AND ").push(VALID_UNTIL).push(" > ").push(VALID_FROM);
    sql.push(" ORDER BY ").push(VALID_FROM);
    (sql, columns)
}

/// `SELECT` of the log's events with these `seq`s, in `seq` order.
pub(crate) fn events_at_sql(dialect: Dialect, seqs: &[u64]) -> Sql {
    let mut sql = Sql::new(dialect);
    let columns = sql.syntax.event_columns();
    sql.push("SELECT ")
        .push(columns)
        .push(" FROM ")
        .push(crate::EVENTS_TABLE);
    sql.push(" WHERE seq IN (");
    sql.list(seqs, ", ", |sql, seq| {
        sql.bind(int(*seq), None);
    });
    sql.push(") ORDER BY seq");
    sql
}

#[cfg(test)]
mod tests {
    use flux_capacitor::{CollectionSchema, Filter};

    use super::*;

    fn table(name: &str) -> Table {
        let schema: CollectionSchema = serde_json::from_value(serde_json::json!({
            "fields": { "id": "text", "n": "integer" }
        }))
        .unwrap();
        Table::from_schema(name, &schema)
    }

    #[test]
    fn update_where_closes_then_reopens_what_it_matched() {
        let op = Operation::UpdateWhere {
            collection: "t".into(),
            key: "id".into(),
            filter: Filter::gt("n", 1),
            patch: serde_json::from_value(serde_json::json!({ "n": 0 })).unwrap(),
        };
        let (before, after) = around(Dialect::Sqlite, &table("t"), &table("flux_versions_t"), &op, 7);
        assert_eq!(
            before.unwrap().text,
            r#"UPDATE OR REPLACE "flux_versions_t" SET flux_valid_until_seq = ? WHERE flux_valid_until_seq = 9223372036854775807 AND "id" COLLATE BINARY IN (SELECT "id" COLLATE BINARY FROM "t" WHERE ("n" IS NOT NULL AND "n" > ?))"#
        );
        assert_eq!(after.len(), 1);
        assert!(
            after[0].text.starts_with(
                r#"INSERT INTO "flux_versions_t" ("id", "n", flux_valid_from_seq, flux_valid_until_seq) SELECT "id", "n", ?, 9223372036854775807 FROM "t""#
            ),
            "{}",
            after[0].text
        );
    }

    #[test]
    fn a_create_naming_every_column_is_versioned_from_its_values_else_read_back() {
        let create = |row: serde_json::Value| Operation::Create {
            collection: "t".into(),
            key: "id".into(),
            row: serde_json::from_value(row).unwrap(),
        };
        let full = [
            create(serde_json::json!({ "id": "a", "n": 1 })),
            create(serde_json::json!({ "id": "b", "n": 2 })),
        ];
        let sql = after_many(
            Dialect::Sqlite,
            &table("t"),
            &table("flux_versions_t"),
            full.iter()
                .zip([3, 4])
                .map(|(operation, seq)| Batched::new(operation, seq)),
        );
        assert_eq!(sql.len(), 1);
        assert_eq!(
            sql[0].text,
            r#"INSERT INTO "flux_versions_t" ("id", "n", flux_valid_from_seq, flux_valid_until_seq) VALUES (?, ?, ?, 9223372036854775807), (?, ?, ?, 9223372036854775807)"#
        );
        assert_eq!(
            sql[0].binds,
            [
                Bind::Text("a".into()),
                Bind::Int(1),
                Bind::Int(3),
                Bind::Text("b".into()),
                Bind::Int(2),
                Bind::Int(4)
            ]
        );
        // A column left out (or null) may take the database's default: read back.
        for partial in [
            serde_json::json!({ "id": "c" }),
            serde_json::json!({ "id": "c", "n": null }),
        ] {
            let sql = after_many(
                Dialect::Sqlite,
                &table("t"),
                &table("flux_versions_t"),
                [Batched::new(&create(partial), 5)],
            );
            assert!(sql[0].text.contains(" SELECT "), "{}", sql[0].text);
        }
    }

    #[test]
    fn many_rows_take_their_own_seq() {
        let rows = [Span::at(Key::from("a"), 3), Span::at(Key::from("b"), 4)];
        let versions = table("flux_versions_t");
        // Joined with a `VALUES` list (one key seek a row) ...
        assert_eq!(
            close_keys(Dialect::Postgres, &versions, &rows).text,
            r#"UPDATE "flux_versions_t" SET flux_valid_until_seq = flux_keys.flux_s FROM (VALUES (CAST($1 AS TEXT), CAST($2 AS BIGINT)), (CAST($3 AS TEXT), CAST($4 AS BIGINT))) AS flux_keys (flux_k, flux_s) WHERE flux_valid_until_seq = 9223372036854775807 AND "id" COLLATE "C" = flux_keys.flux_k"#
        );
        assert_eq!(
            open_keys(Dialect::Sqlite, &table("t"), &versions, &rows).text,
            r#"INSERT INTO "flux_versions_t" ("id", "n", flux_valid_from_seq, flux_valid_until_seq) SELECT "id", "n", flux_keys.flux_s, 9223372036854775807 FROM (SELECT column1 AS flux_k, column2 AS flux_s FROM (VALUES (?, ?), (?, ?))) AS flux_keys JOIN "t" ON "id" COLLATE BINARY = flux_keys.flux_k"#
        );
        // ... or, on MySQL, a `CASE` on the key.
        assert_eq!(
            close_keys(Dialect::MySql, &versions, &rows).text,
            "UPDATE `flux_versions_t` SET flux_valid_until_seq = CASE CAST(`id` AS BINARY) WHEN ? THEN ? WHEN ? THEN ? END WHERE flux_valid_until_seq = 9223372036854775807 AND `id` IN (?, ?) AND CAST(`id` AS BINARY) IN (?, ?)"
        );
        // Rows that end and rows still current share one text: every end is bound.
        let mixed = [
            Span {
                key: Key::from("a"),
                seq: 3,
                until: Some(5),
            },
            Span::at(Key::from("b"), 4),
        ];
        let opened = open_keys(Dialect::Sqlite, &table("t"), &versions, &mixed);
        assert!(opened.text.contains("(VALUES (?, ?, ?), (?, ?, ?))"), "{}", opened.text);
        assert_eq!(opened.binds[5], Bind::Int(i64::MAX));
        let sizes = |dialect| -> Vec<usize> { in_key_chunks(dialect, &[0; 130], 2).iter().map(|c| c.len()).collect() };
        assert_eq!(sizes(Dialect::MySql), [64, 64, 2]);
        assert_eq!(sizes(Dialect::Sqlite), [128, 2]);
    }
}
