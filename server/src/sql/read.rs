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
    // The key last, to make the order total (unless ordered by already).
    let key = table.key_column();
    let tie = (!order.iter().any(|(column, _)| column.name == key.name)).then_some((key, false));
    let live = at.is_none();
    sql.list(order.iter().copied().chain(tie), ", ", |sql, (column, descending)| {
        let expr = order_expr(sql, column);
        let term = if live && column.name == key.name {
            // Never NULL: no nulls placement, so that the primary key's index
            // serves the order (PostgreSQL's `NULLS FIRST` is not its order).
            format!("{expr} {}", if descending { "DESC" } else { "ASC" })
        } else {
            // The versions' key index is built in this order ([`super::versions`]).
            sql.syntax.order_term(&expr, descending)
        };
        sql.push(&term);
    });
    if limit.is_some() || offset > 0 {
        sql.push(" LIMIT ").bind(int(limit.unwrap_or(u64::MAX)), None);
        sql.push(" OFFSET ").bind(int(offset), None);
    }
    (sql, columns)
}

#[cfg(test)]
mod tests {
    use flux_capacitor::CollectionSchema;

    use super::*;

    #[test]
    fn a_live_page_orders_by_the_key_as_its_index_does() {
        let schema: CollectionSchema =
            serde_json::from_value(serde_json::json!({ "fields": { "id": "text", "n": "integer" } })).unwrap();
        let table = Table::from_schema("t", &schema);
        let (key, n) = (&table.columns[0], &table.columns[1]);
        let text =
            |order: &[(&Column, bool)], at| find_sql(Dialect::Postgres, &table, None, order, Some(50), 0, at).0.text;
        // The key, never NULL, with no nulls placement: the primary key's index serves it.
        assert!(text(&[], None).ends_with(r#"ORDER BY "id" COLLATE "C" ASC LIMIT $1 OFFSET $2"#));
        assert!(text(&[(key, true)], None).ends_with(r#"ORDER BY "id" COLLATE "C" DESC LIMIT $1 OFFSET $2"#));
        assert!(
            text(&[(n, false)], None)
                .ends_with(r#"ORDER BY "n" ASC NULLS FIRST, "id" COLLATE "C" ASC LIMIT $1 OFFSET $2"#)
        );
        // A past page reads the versions' key index, built `NULLS FIRST`.
        assert!(text(&[], Some(3)).contains(r#"ORDER BY "id" COLLATE "C" ASC NULLS FIRST LIMIT"#));
    }
}
