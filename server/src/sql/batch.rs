//! Multi-row statements for the operations of a commit group.
//!
//! The writer sends the operations of every event of a group here, in order.
//! By-key operations (`create`, `update_by_id`, `destroy_by_id`) on a
//! *batchable* table are placed in **waves**: an operation goes into the wave
//! after the last one holding an operation on the same row, so each wave
//! touches each row at most once and the operations of one row keep their
//! order. A wave becomes one statement per table, kind and set of columns
//! (`INSERT ... VALUES (..), (..)`, `DELETE ... WHERE key IN (..)`, an
//! `UPDATE` joined with the new values), each chunked by [`row_chunks`].
//!
//! Within a wave, statements touch distinct rows, so their order cannot change
//! the outcome — as long as nothing else observes the order: the writer only
//! calls a table batchable when it has no triggers, no foreign keys (to or
//! from it), no unique constraint but its key, and its key compares exactly
//! (see the dialects' `batchable_tables`). Any other operation — `*_where`, or
//! on any other table — is a barrier: the waves so far are written first, then
//! it alone, exactly as the one-statement-per-operation path writes it.
//! Each entry knows the `seq` of the next operation on its row before the
//! next barrier, and whether one came before it: the row versions use it to
//! write each version closed where the plan ends it
//! ([`super::versions::after_many`]).
//!
//! The writer runs these statements optimistically: on any database error it
//! rolls back and writes the group again one statement per operation, which
//! names the event and operation at fault.

use std::collections::{BTreeMap, HashMap};

use flux_capacitor::{Key, Operation};

use super::syntax::{MultiUpdate, ValuesTable};
use super::versions::Batched;
use super::write::{key_bind, write_bind};
use super::{Bind, Dialect, Sql, compile_operation, row_chunks};
use crate::schema::{Column, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Create,
    Update,
    Destroy,
}

/// What one multi-row statement writes: a table, a kind, and its columns
/// (for updates, whether each is set to `NULL`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape<'a> {
    table: &'a str,
    kind: Kind,
    columns: Vec<(&'a str, bool)>,
}

/// One operation in a wave.
struct Entry<'a> {
    /// The operation, its event's `seq`, and what the plan knows of the
    /// other operations on its row (for the row versions).
    change: Batched<'a>,
    key: Bind,
    /// Values of the shape's non-`NULL` columns, in the shape's order.
    values: Vec<Bind>,
}

pub(crate) struct Group<'a> {
    table: &'a Table,
    shape: Shape<'a>,
    entries: Vec<Entry<'a>>,
}

#[derive(Default)]
struct Wave<'a> {
    groups: Vec<Group<'a>>,
    index: HashMap<Shape<'a>, usize>,
}

/// A step of a plan: a group of a wave (one or a few multi-row statements)
/// or an operation written alone.
pub(crate) enum Step<'a> {
    Group(Group<'a>),
    Alone(&'a Table, &'a Operation, u64),
}

impl Step<'_> {
    /// The statements of this step, with those of the row versions when
    /// `versions` (by read-model table) is given ([`super::versions`]).
    pub(crate) fn statements(self, dialect: Dialect, versions: Option<&BTreeMap<String, Table>>) -> Vec<Sql> {
        match self {
            Step::Group(group) => {
                let table = group.table;
                let written: Vec<Batched<'_>> = group.entries.iter().map(|e| e.change).collect();
                let mut out = Vec::new();
                group_statements(dialect, group, &mut out);
                if let Some(v) = versions.and_then(|v| v.get(&table.name)) {
                    out.extend(super::versions::after_many(dialect, table, v, written));
                }
                out
            }
            Step::Alone(table, operation, seq) => {
                let Some(statement) = compile_operation(dialect, table, operation) else {
                    return Vec::new();
                };
                match versions.and_then(|v| v.get(&table.name)) {
                    Some(v) => {
                        let (before, after) = super::versions::around(dialect, table, v, operation, seq);
                        before.into_iter().chain([statement]).chain(after).collect()
                    }
                    None => vec![statement],
                }
            }
        }
    }
}

/// Plans the statements of `operations` (each with its table, in order).
/// `batchable` says which tables may take multi-row statements.
#[cfg(test)]
pub(crate) fn plan<'a>(
    dialect: Dialect,
    operations: impl IntoIterator<Item = (&'a Table, &'a Operation)>,
    batchable: impl Fn(&Table) -> bool,
) -> Vec<Sql> {
    schedule(operations.into_iter().map(|(t, o)| (t, o, 0)), batchable)
        .into_iter()
        .flat_map(|step| step.statements(dialect, None))
        .collect()
}

/// Orders `operations` (each with its table and its event's `seq`, in
/// order) into steps: waves of by-key operations on tables `batchable`
/// accepts, and barriers.
pub(crate) fn schedule<'a>(
    operations: impl IntoIterator<Item = (&'a Table, &'a Operation, u64)>,
    batchable: impl Fn(&Table) -> bool,
) -> Vec<Step<'a>> {
    let mut out = Vec::new();
    let mut waves: Vec<Wave<'a>> = Vec::new();
    // Per row: how many waves hold an operation on it, and where its last is.
    let mut rows: HashMap<(&'a str, Key), (usize, Option<Position>)> = HashMap::new();
    for (table, operation, seq) in operations {
        let placed = batchable(table).then(|| entry(table, operation, seq)).flatten();
        match placed {
            Some(Placed::Nothing) => {}
            Some(Placed::Entry(shape, key, mut entry)) => {
                let (depth, last) = rows.entry((table.name.as_str(), key)).or_default();
                if let Some(last) = last {
                    waves[last.wave].groups[last.group].entries[last.entry].change.next = Some(seq);
                    entry.change.first = false;
                }
                let slot = *depth;
                if waves.len() <= slot {
                    waves.push(Wave::default());
                }
                let wave = &mut waves[slot];
                let group = *wave.index.entry(shape.clone()).or_insert_with(|| {
                    wave.groups.push(Group {
                        table,
                        shape,
                        entries: Vec::new(),
                    });
                    wave.groups.len() - 1
                });
                let entries = &mut wave.groups[group].entries;
                *last = Some(Position {
                    wave: slot,
                    group,
                    entry: entries.len(),
                });
                *depth = slot + 1;
                entries.push(entry);
            }
            None => {
                flush(&mut waves, &mut out);
                rows.clear();
                out.push(Step::Alone(table, operation, seq));
            }
        }
    }
    flush(&mut waves, &mut out);
    out
}

/// Where an entry is: its wave, its group in the wave, its place in the group.
#[derive(Debug, Clone, Copy)]
struct Position {
    wave: usize,
    group: usize,
    entry: usize,
}

enum Placed<'a> {
    /// The operation writes nothing (an empty patch).
    Nothing,
    Entry(Shape<'a>, Key, Entry<'a>),
}

/// The wave entry of a by-key operation; `None` for the others.
fn entry<'a>(table: &'a Table, operation: &'a Operation, seq: u64) -> Option<Placed<'a>> {
    let column = |name: &str| table.column(name);
    match operation {
        Operation::Create { row, .. } => {
            let mut columns = Vec::with_capacity(row.len());
            let mut values = Vec::with_capacity(row.len());
            for (field, value) in row {
                let Some(column) = column(field) else { continue };
                let Some(bind) = write_bind(column, value) else {
                    continue;
                };
                columns.push((column.name.as_str(), false));
                values.push(bind);
            }
            let key = Key::from_value(row.get(&table.key)?)?;
            let shape = Shape {
                table: &table.name,
                kind: Kind::Create,
                columns,
            };
            Some(Placed::Entry(
                shape,
                key.clone(),
                Entry {
                    change: Batched::new(operation, seq),
                    key: key_bind(&key),
                    values,
                },
            ))
        }
        Operation::UpdateById { id, patch, .. } => {
            let mut columns = Vec::with_capacity(patch.len());
            let mut values = Vec::with_capacity(patch.len());
            for (field, value) in patch {
                if field.as_str() == table.key {
                    continue;
                }
                let Some(column) = column(field) else { continue };
                match write_bind(column, value) {
                    Some(bind) => {
                        columns.push((column.name.as_str(), false));
                        values.push(bind);
                    }
                    None => columns.push((column.name.as_str(), true)),
                }
            }
            if columns.is_empty() {
                return Some(Placed::Nothing);
            }
            let shape = Shape {
                table: &table.name,
                kind: Kind::Update,
                columns,
            };
            Some(Placed::Entry(
                shape,
                id.clone(),
                Entry {
                    change: Batched::new(operation, seq),
                    key: key_bind(id),
                    values,
                },
            ))
        }
        Operation::DestroyById { id, .. } => Some(Placed::Entry(
            Shape {
                table: &table.name,
                kind: Kind::Destroy,
                columns: Vec::new(),
            },
            id.clone(),
            Entry {
                change: Batched::new(operation, seq),
                key: key_bind(id),
                values: Vec::new(),
            },
        )),
        Operation::UpdateWhere { .. } | Operation::DestroyWhere { .. } => None,
    }
}

fn flush<'a>(waves: &mut Vec<Wave<'a>>, out: &mut Vec<Step<'a>>) {
    for wave in waves.drain(..) {
        out.extend(wave.groups.into_iter().map(Step::Group));
    }
}

fn group_statements(dialect: Dialect, group: Group<'_>, out: &mut Vec<Sql>) {
    let Group { table, shape, entries } = group;
    let values = shape.columns.iter().filter(|(_, null)| !null).count();
    let (params, cap) = match shape.kind {
        Kind::Create => (values, usize::MAX),
        Kind::Destroy => (1, usize::MAX),
        Kind::Update => match dialect.syntax().multi_update() {
            MultiUpdate::CaseWhen { max_rows } => (2 * values + 1, max_rows),
            MultiUpdate::FromValues(_) => (values + 1, usize::MAX),
        },
    };
    let mut rest = entries;
    let mut sizes = Vec::new();
    let mut left = rest.len();
    while left > 0 {
        let chunk = row_chunks(left.min(cap), params);
        left -= chunk.iter().sum::<usize>();
        sizes.extend(chunk);
    }
    for size in sizes {
        let tail = rest.split_off(size);
        let chunk = std::mem::replace(&mut rest, tail);
        if size == 1 && shape.kind != Kind::Create {
            out.extend(compile_operation(dialect, table, chunk[0].change.operation));
            continue;
        }
        let columns: Vec<(&Column, bool)> = shape
            .columns
            .iter()
            .filter_map(|(name, null)| Some((table.column(name)?, *null)))
            .collect();
        out.push(match shape.kind {
            Kind::Create => insert(dialect, table, &columns, chunk),
            Kind::Destroy => destroy(dialect, table, chunk),
            Kind::Update => update(dialect, table, &columns, chunk),
        });
    }
}

fn insert(dialect: Dialect, table: &Table, columns: &[(&Column, bool)], entries: Vec<Entry<'_>>) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(&table.name).push(" (");
    sql.list(columns, ", ", |sql, (column, _)| {
        sql.ident(&column.name);
    });
    sql.push(") VALUES ");
    sql.list(entries, ", ", |sql, entry| {
        sql.push("(");
        sql.list(columns.iter().zip(entry.values), ", ", |sql, ((column, _), bind)| {
            sql.bind(bind, column.write_cast);
        });
        sql.push(")");
    });
    sql
}

fn destroy(dialect: Dialect, table: &Table, entries: Vec<Entry<'_>>) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ")
        .ident(&table.name)
        .push(" WHERE ")
        .ident(&table.key)
        .push(" IN (");
    sql.list(entries, ", ", |sql, entry| {
        sql.bind(entry.key, None);
    });
    sql.push(")");
    sql
}

fn update(dialect: Dialect, table: &Table, columns: &[(&Column, bool)], entries: Vec<Entry<'_>>) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("UPDATE ").ident(&table.name).push(" SET ");
    let key = table.key_column();
    let ValuesTable {
        alias_list,
        typed_values,
    } = match sql.syntax.multi_update() {
        MultiUpdate::FromValues(values) => values,
        MultiUpdate::CaseWhen { .. } => {
            // `SET c = CASE key WHEN ? THEN ? ... END ... WHERE key IN (...)`.
            let mut value = 0;
            sql.list(columns, ", ", |sql, (column, null)| {
                sql.ident(&column.name).push(" = ");
                if *null {
                    sql.push("NULL");
                    return;
                }
                sql.push("CASE ").ident(&key.name);
                for entry in &entries {
                    sql.push(" WHEN ");
                    sql.bind(entry.key.clone(), None).push(" THEN ");
                    sql.bind(entry.values[value].clone(), None);
                }
                sql.push(" ELSE ").ident(&column.name).push(" END");
                value += 1;
            });
            sql.push(" WHERE ").ident(&key.name).push(" IN (");
            sql.list(entries, ", ", |sql, entry| {
                sql.bind(entry.key, None);
            });
            sql.push(")");
            return sql;
        }
    };
    // Without an alias list, `VALUES` names its columns column1, column2...
    let name = |i: usize| {
        if alias_list {
            format!("v.c{i}")
        } else {
            format!("v.column{}", i + 1)
        }
    };
    let mut value = 0;
    sql.list(columns, ", ", |sql, (column, null)| {
        sql.ident(&column.name).push(" = ");
        if *null {
            sql.push("NULL");
        } else {
            value += 1;
            sql.push(&name(value));
        }
    });
    sql.push(" FROM (VALUES ");
    let syntax = sql.syntax;
    let cast = |column: &Column| typed_values.then(|| syntax.value_type(column));
    let value_columns: Vec<&Column> = columns.iter().filter(|(_, null)| !null).map(|(c, _)| *c).collect();
    sql.list(entries, ", ", |sql, entry| {
        sql.push("(");
        sql.bind(entry.key, cast(key));
        for (column, bind) in value_columns.iter().zip(entry.values) {
            sql.push(", ");
            sql.bind(bind, cast(column));
        }
        sql.push(")");
    });
    sql.push(") AS v");
    if alias_list {
        sql.push("(c0");
        for i in 1..=value_columns.len() {
            sql.push(&format!(", c{i}"));
        }
        sql.push(")");
    }
    sql.push(" WHERE ").ident(&table.name).push(".").ident(&key.name);
    sql.push(" = ").push(&name(0));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use flux_capacitor::CollectionSchema;
    use serde_json::json;

    fn notes() -> Table {
        let schema: CollectionSchema = serde_json::from_value(json!({
            "fields": { "id": "text", "title": "text", "n": "integer" }
        }))
        .unwrap();
        let mut table = Table::from_schema("notes", &schema);
        for column in &mut table.columns {
            column.exact_text = true;
        }
        table
    }

    fn op(value: serde_json::Value) -> Operation {
        serde_json::from_value(value).unwrap()
    }

    fn texts(dialect: Dialect, ops: &[Operation], batchable: bool) -> Vec<String> {
        let table = notes();
        plan(dialect, ops.iter().map(|o| (&table, o)), |_| batchable)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    fn workload() -> Vec<Operation> {
        vec![
            op(json!({ "op": "create", "collection": "notes", "row": { "id": "a", "title": "A" } })),
            op(json!({ "op": "update_by_id", "collection": "notes", "id": "a", "patch": { "title": "A2" } })),
            op(json!({ "op": "create", "collection": "notes", "row": { "id": "b", "title": "B" } })),
            op(json!({ "op": "update_by_id", "collection": "notes", "id": "b", "patch": { "title": "B2" } })),
            op(json!({ "op": "destroy_by_id", "collection": "notes", "id": "a" })),
            op(json!({ "op": "create", "collection": "notes", "row": { "id": "a", "title": "A3" } })),
            op(json!({ "op": "destroy_by_id", "collection": "notes", "id": "b" })),
        ]
    }

    #[test]
    fn rows_keep_their_order_in_waves() {
        assert_eq!(
            texts(Dialect::Sqlite, &workload(), true),
            vec![
                r#"INSERT INTO "notes" ("id", "title") VALUES (?, ?), (?, ?)"#.to_string(),
                r#"UPDATE "notes" SET "title" = v.column2 FROM (VALUES (?, ?), (?, ?)) AS v WHERE "notes"."id" = v.column1"#.into(),
                r#"DELETE FROM "notes" WHERE "id" IN (?, ?)"#.into(),
                r#"INSERT INTO "notes" ("id", "title") VALUES (?, ?)"#.into(),
            ]
        );
        assert_eq!(
            texts(Dialect::Postgres, &workload()[..4], true)[1],
            r#"UPDATE "notes" SET "title" = v.c1 FROM (VALUES (CAST($1 AS TEXT), CAST($2 AS TEXT)), (CAST($3 AS TEXT), CAST($4 AS TEXT))) AS v(c0, c1) WHERE "notes"."id" = v.c0"#
        );
        assert_eq!(
            texts(Dialect::MySql, &workload()[..4], true)[1],
            "UPDATE `notes` SET `title` = CASE `id` WHEN ? THEN ? WHEN ? THEN ? ELSE `title` END WHERE `id` IN (?, ?)"
        );
    }

    #[test]
    fn other_tables_and_where_operations_are_written_one_by_one() {
        let ops = workload();
        let one_by_one: Vec<String> = ops
            .iter()
            .filter_map(|o| compile_operation(Dialect::Sqlite, &notes(), o))
            .map(|s| s.text)
            .collect();
        assert_eq!(texts(Dialect::Sqlite, &ops, false), one_by_one);

        let mut ops = workload();
        ops.insert(
            2,
            op(json!({ "op": "destroy_where", "collection": "notes", "filter": { "op": "eq", "field": "n", "value": 1 } })),
        );
        let planned = texts(Dialect::Sqlite, &ops, true);
        assert!(planned[0].starts_with("INSERT"), "{planned:?}");
        assert!(
            planned[1].starts_with("UPDATE") && !planned[1].contains("VALUES"),
            "{planned:?}"
        );
        assert!(
            planned[2].starts_with("DELETE") && planned[2].contains("\"n\""),
            "{planned:?}"
        );
    }

    #[test]
    fn binds_follow_the_rows() {
        let table = notes();
        let ops = workload();
        let planned = plan(Dialect::Sqlite, ops.iter().map(|o| (&table, o)), |_| true);
        assert_eq!(
            planned[1].binds,
            vec![
                Bind::Text("a".into()),
                Bind::Text("A2".into()),
                Bind::Text("b".into()),
                Bind::Text("B2".into())
            ]
        );
    }

    #[test]
    fn chunks_are_powers_of_two_within_the_limits() {
        assert_eq!(row_chunks(1000, 7), vec![256, 256, 256, 128, 64, 32, 8]);
        assert_eq!(row_chunks(3, 1), vec![2, 1]);
        assert_eq!(row_chunks(0, 3), Vec::<usize>::new());
        assert!(row_chunks(10_000, 100).iter().all(|&n| n * 100 <= 8192));
    }

    /// The statements of `ops` (at `seq` 1, 2, ...) with the row versions of `notes`.
    fn versioned(ops: &[Operation]) -> Vec<Sql> {
        let table = notes();
        let versions = BTreeMap::from([(
            "notes".to_string(),
            Table {
                name: "flux_versions_notes".into(),
                ..notes()
            },
        )]);
        schedule(ops.iter().zip(1..).map(|(o, seq)| (&table, o, seq)), |_| true)
            .into_iter()
            .flat_map(|step| step.statements(Dialect::Sqlite, Some(&versions)))
            .collect()
    }

    #[test]
    fn versions_of_a_row_changed_again_in_the_plan_are_written_closed() {
        let planned = versioned(&workload());
        // Every row's first change is its create: no version is closed by an `UPDATE`.
        assert!(
            !planned.iter().any(|s| s.text.contains("SET flux_valid_until_seq")),
            "{planned:#?}"
        );
        // The creates of `a` (1) and `b` (3) open versions ending at their updates (2, 4).
        let opened = &planned[1];
        assert_eq!(
            opened.text,
            r#"INSERT INTO "flux_versions_notes" ("id", "n", "title", flux_valid_from_seq, flux_valid_until_seq) SELECT "id", "n", "title", flux_keys.flux_s, flux_keys.flux_u FROM (SELECT column1 AS flux_k, column2 AS flux_s, column3 AS flux_u FROM (VALUES (?, ?, ?), (?, ?, ?))) AS flux_keys JOIN "notes" ON "id" COLLATE BINARY = flux_keys.flux_k"#
        );
        let text = |s: &str| Bind::Text(s.into());
        assert_eq!(
            opened.binds,
            [
                text("a"),
                Bind::Int(1),
                Bind::Int(2),
                text("b"),
                Bind::Int(3),
                Bind::Int(4)
            ]
        );
        // The last change of a row opens its current version.
        let last = planned.last().unwrap();
        assert!(last.text.contains("9223372036854775807"), "{}", last.text);
        assert_eq!(last.binds, [Bind::Int(6), text("a")]);
    }

    #[test]
    fn a_barrier_ends_what_the_plan_knows_of_a_row() {
        let update = |title: &str| {
            op(json!({ "op": "update_by_id", "collection": "notes", "id": "a", "patch": { "title": title } }))
        };
        let planned = versioned(&[
            update("1"),
            update("1"),
            op(
                json!({ "op": "destroy_where", "collection": "notes", "filter": { "op": "eq", "field": "n", "value": 1 } }),
            ),
            update("2"),
        ]);
        let closes: Vec<&Vec<Bind>> = planned
            .iter()
            .filter(|s| s.text.contains("SET flux_valid_until_seq") && !s.text.contains("IN (SELECT"))
            .map(|s| &s.binds)
            .collect();
        // The first change of `a` on each side of the barrier closes its current version.
        assert_eq!(
            closes,
            [
                &vec![Bind::Int(1), Bind::Text("a".into())],
                &vec![Bind::Int(4), Bind::Text("a".into())]
            ]
        );
        let opened: Vec<&Vec<Bind>> = planned
            .iter()
            .filter(|s| s.text.starts_with(r#"INSERT INTO "flux_versions_notes""#))
            .map(|s| &s.binds)
            .collect();
        assert_eq!(
            opened,
            [
                &vec![Bind::Int(1), Bind::Int(2), Bind::Text("a".into())],
                &vec![Bind::Int(2), Bind::Text("a".into())],
                &vec![Bind::Int(4), Bind::Text("a".into())]
            ]
        );
    }
}
