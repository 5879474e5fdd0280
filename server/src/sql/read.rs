//! Reads: `SELECT`s of a read-model table and of the event log.

use flux_capacitor::Filter;

use super::builder::{Bind, Sql};
use super::write::{order_expr, push_filter};
use super::{Dialect, EVENTS_TABLE};
use crate::EventQuery;
use crate::schema::{Column, Table};

/// The event log's columns, in the order every dialect selects and inserts them.
pub(crate) const EVENT_COLUMNS: &str = "seq, id, type, payload, meta, error, timestamp, changeset_hash";

fn int(value: u64) -> Bind {
    Bind::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// `SELECT` of the store's event log.
pub(crate) fn events_sql(dialect: Dialect, query: &EventQuery) -> Sql {
    let mut sql = Sql::new(dialect);
    let columns = sql.syntax.event_columns();
    sql.push("SELECT ").push(columns).push(" FROM ").push(EVENTS_TABLE);
    sql.push(" WHERE seq > ").bind(int(query.after_seq), None);
    if let Some(types) = &query.types {
        sql.push(" AND type IN (");
        if types.is_empty() {
            sql.push("NULL");
        }
        sql.list(types, ", ", |sql, ty| {
            sql.bind(Bind::Text(ty.clone()), None);
        });
        sql.push(")");
    }
    sql.push(" ORDER BY seq LIMIT ").bind(int(query.limit), None);
    sql
}

/// `SELECT` of the log rows whose `id` is one of `ids` (the unique index
/// on `id` finds each), in `seq` order.
pub(crate) fn events_by_id_sql(dialect: Dialect, ids: &[uuid::Uuid]) -> Sql {
    let mut sql = Sql::new(dialect);
    let columns = sql.syntax.event_columns();
    sql.push("SELECT ").push(columns).push(" FROM ").push(EVENTS_TABLE);
    sql.push(" WHERE id IN (");
    sql.list(ids, ", ", |sql, id| {
        let bind = sql.syntax.event_id(*id);
        sql.bind(bind, None);
    });
    sql.push(") ORDER BY seq");
    sql
}

/// `SELECT` of the log's last `seq` and timestamp.
pub(crate) fn last_event_sql(dialect: Dialect) -> Sql {
    Sql::fixed(
        dialect,
        format!("SELECT seq, timestamp FROM {EVENTS_TABLE} ORDER BY seq DESC LIMIT 1"),
    )
}

/// `SELECT` of a read-model table (or, with `at`, of its versions table as
/// of that `seq`); the selected columns in order.
pub(crate) fn find_sql<'t>(
    dialect: Dialect,
    table: &'t Table,
    filter: Option<&Filter>,
    order: &[(&'t Column, bool)],
    limit: Option<u64>,
    offset: u64,
    at: Option<u64>,
) -> (Sql, Vec<&'t Column>) {
    let columns: Vec<&Column> = table.columns.iter().collect();
    let mut sql = Sql::new(dialect);
    sql.push("SELECT ");
    sql.list(&columns, ", ", |sql, column| {
        let expr = sql.syntax.select_expr(column);
        sql.push(&expr);
    });
    sql.push(" FROM ").ident(&table.name);
    if let Some(seq) = at {
        // `table` is a versions table: the versions in force right after `seq`.
        sql.push(" WHERE ");
        super::versions::push_valid_at(&mut sql, seq);
        if let Some(filter) = filter {
            sql.push(" AND ");
            push_filter(&mut sql, table, filter);
        }
    } else if let Some(filter) = filter {
        sql.push(" WHERE ");
        push_filter(&mut sql, table, filter);
    }
    sql.push(" ORDER BY ");
    let terms = order.iter().copied().chain([(table.key_column(), false)]);
    sql.list(terms, ", ", |sql, (column, descending)| {
        let term = sql.syntax.order_term(&order_expr(sql, column), descending);
        sql.push(&term);
    });
    if limit.is_some() || offset > 0 {
        sql.push(" LIMIT ").bind(int(limit.unwrap_or(u64::MAX)), None);
        sql.push(" OFFSET ").bind(int(offset), None);
    }
    (sql, columns)
}
