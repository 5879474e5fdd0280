//! The sagas' statements, in every dialect through [`Sql`] (plain SQL,
//! bound values; the tables are created by each dialect's migration).

use flux_capacitor::FieldType;

use crate::db::Dialect;
use crate::schema::Column;
use crate::sql::{Bind, Sql};

fn text(value: &str) -> Bind {
    Bind::Text(value.to_owned())
}

fn statement(dialect: Dialect, parts: &[&str], binds: Vec<Bind>) -> Sql {
    let mut sql = Sql::new(dialect);
    let mut binds = binds.into_iter();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            sql.bind(binds.next().unwrap_or(Bind::Null), None);
        }
        sql.push(part);
    }
    sql
}

/// Columns read back, by name and type.
pub fn columns(spec: &[(&str, FieldType)]) -> Vec<Column> {
    spec.iter().map(|(name, ty)| Column::new(name, *ty)).collect()
}

/// Whether the saga's row is there (1 row changed: yes).
pub fn touch_saga(dialect: Dialect, name: &str) -> Sql {
    statement(
        dialect,
        &["UPDATE flux_sagas SET last_seq = last_seq WHERE name = ", ""],
        vec![text(name)],
    )
}

pub fn insert_saga(dialect: Dialect, name: &str, position: u64, state: &str) -> Sql {
    statement(
        dialect,
        &[
            "INSERT INTO flux_sagas (name, last_seq, state, holder, lease_until) VALUES (",
            ", ",
            ", ",
            ", NULL, 0)",
        ],
        vec![text(name), Bind::Int(position as i64), text(state)],
    )
}

/// Takes or renews the lease: changes 1 row when `holder` holds it now.
pub fn take_lease(dialect: Dialect, name: &str, holder: &str, now: i64, until: i64) -> Sql {
    statement(
        dialect,
        &[
            "UPDATE flux_sagas SET holder = ",
            ", lease_until = ",
            " WHERE name = ",
            " AND (holder = ",
            " OR holder IS NULL OR lease_until < ",
            ")",
        ],
        vec![text(holder), Bind::Int(until), text(name), text(holder), Bind::Int(now)],
    )
}

pub fn release_lease(dialect: Dialect, name: &str, holder: &str) -> Sql {
    statement(
        dialect,
        &[
            "UPDATE flux_sagas SET holder = NULL, lease_until = 0 WHERE name = ",
            " AND holder = ",
            "",
        ],
        vec![text(name), text(holder)],
    )
}

/// The guard of a step: moves the position from `from` to `to` and writes
/// the state, if `holder` still holds the lease and nobody moved it.
pub fn advance(dialect: Dialect, name: &str, holder: &str, from: u64, to: u64, state: &str) -> Sql {
    statement(
        dialect,
        &[
            "UPDATE flux_sagas SET last_seq = ",
            ", state = ",
            " WHERE name = ",
            " AND last_seq = ",
            " AND holder = ",
            "",
        ],
        vec![
            Bind::Int(to as i64),
            text(state),
            text(name),
            Bind::Int(from as i64),
            text(holder),
        ],
    )
}

pub fn saga_row(dialect: Dialect, name: &str) -> Sql {
    statement(
        dialect,
        &[
            "SELECT last_seq, state, holder, lease_until FROM flux_sagas WHERE name = ",
            "",
        ],
        vec![text(name)],
    )
}

pub const SAGA_ROW: &[(&str, FieldType)] = &[
    ("last_seq", FieldType::Integer),
    ("state", FieldType::Text),
    ("holder", FieldType::Text),
    ("lease_until", FieldType::Integer),
];

pub fn insert_effect(dialect: Dialect, key: &str, saga: &str, effect: &str, input: &str, now: i64) -> Sql {
    statement(
        dialect,
        &[
            "INSERT INTO flux_saga_effects (effect_key, saga, effect, input, attempts, next_at, last_error, parked) \
             VALUES (",
            ", ",
            ", ",
            ", ",
            ", 0, ",
            ", NULL, 0)",
        ],
        vec![text(key), text(saga), text(effect), text(input), Bind::Int(now)],
    )
}

pub fn insert_timer(dialect: Dialect, key: &str, saga: &str, due: i64, event: &str) -> Sql {
    statement(
        dialect,
        &[
            "INSERT INTO flux_saga_timers (timer_key, saga, due_at, event) VALUES (",
            ", ",
            ", ",
            ", ",
            ")",
        ],
        vec![text(key), text(saga), Bind::Int(due), text(event)],
    )
}

pub fn due_effects(dialect: Dialect, saga: &str, now: i64, limit: u64) -> Sql {
    statement(
        dialect,
        &[
            "SELECT effect_key, effect, input, attempts FROM flux_saga_effects WHERE saga = ",
            " AND parked = 0 AND next_at <= ",
            " ORDER BY next_at, effect_key LIMIT ",
            "",
        ],
        vec![text(saga), Bind::Int(now), Bind::Int(limit as i64)],
    )
}

pub const DUE_EFFECT: &[(&str, FieldType)] = &[
    ("effect_key", FieldType::Text),
    ("effect", FieldType::Text),
    ("input", FieldType::Text),
    ("attempts", FieldType::Integer),
];

/// The guard of an effect's result: its row, still queued.
pub fn delete_effect(dialect: Dialect, key: &str) -> Sql {
    statement(
        dialect,
        &["DELETE FROM flux_saga_effects WHERE effect_key = ", " AND parked = 0"],
        vec![text(key)],
    )
}

pub fn effect_failed(dialect: Dialect, key: &str, attempts: u32, next_at: i64, error: &str, parked: bool) -> Sql {
    statement(
        dialect,
        &[
            "UPDATE flux_saga_effects SET attempts = ",
            ", next_at = ",
            ", last_error = ",
            ", parked = ",
            " WHERE effect_key = ",
            "",
        ],
        vec![
            Bind::Int(i64::from(attempts)),
            Bind::Int(next_at),
            text(error),
            Bind::Int(i64::from(parked)),
            text(key),
        ],
    )
}

pub fn retry_effect(dialect: Dialect, key: &str, now: i64) -> Sql {
    statement(
        dialect,
        &[
            "UPDATE flux_saga_effects SET parked = 0, attempts = 0, last_error = NULL, next_at = ",
            " WHERE effect_key = ",
            " AND parked = 1",
        ],
        vec![Bind::Int(now), text(key)],
    )
}

pub fn parked_effects(dialect: Dialect) -> Sql {
    Sql::fixed(
        dialect,
        "SELECT effect_key, saga, effect, input, attempts, last_error FROM flux_saga_effects \
         WHERE parked = 1 ORDER BY saga, effect_key",
    )
}

pub const PARKED: &[(&str, FieldType)] = &[
    ("effect_key", FieldType::Text),
    ("saga", FieldType::Text),
    ("effect", FieldType::Text),
    ("input", FieldType::Text),
    ("attempts", FieldType::Integer),
    ("last_error", FieldType::Text),
];

pub fn due_timers(dialect: Dialect, saga: &str, now: i64, limit: u64) -> Sql {
    statement(
        dialect,
        &[
            "SELECT timer_key, event FROM flux_saga_timers WHERE saga = ",
            " AND due_at <= ",
            " ORDER BY due_at, timer_key LIMIT ",
            "",
        ],
        vec![text(saga), Bind::Int(now), Bind::Int(limit as i64)],
    )
}

pub const DUE_TIMER: &[(&str, FieldType)] = &[("timer_key", FieldType::Text), ("event", FieldType::Text)];

/// The guard of a timer's event: the timer, still there.
pub fn delete_timer(dialect: Dialect, key: &str) -> Sql {
    statement(
        dialect,
        &["DELETE FROM flux_saga_timers WHERE timer_key = ", ""],
        vec![text(key)],
    )
}

/// Counts of one saga: queued effects, parked effects, timers.
pub fn counts(dialect: Dialect, saga: &str) -> Sql {
    statement(
        dialect,
        &[
            "SELECT (SELECT COUNT(*) FROM flux_saga_effects WHERE saga = ",
            " AND parked = 0), (SELECT COUNT(*) FROM flux_saga_effects WHERE saga = ",
            " AND parked = 1), (SELECT COUNT(*) FROM flux_saga_timers WHERE saga = ",
            ")",
        ],
        vec![text(saga), text(saga), text(saga)],
    )
}

pub const COUNTS: &[(&str, FieldType)] = &[
    ("pending", FieldType::Integer),
    ("parked", FieldType::Integer),
    ("timers", FieldType::Integer),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_in_order_with_each_dialects_placeholders() {
        let sql = advance(Dialect::Postgres, "s", "me", 3, 7, "{}");
        assert_eq!(
            sql.text,
            "UPDATE flux_sagas SET last_seq = $1, state = $2 WHERE name = $3 AND last_seq = $4 AND holder = $5"
        );
        assert_eq!(
            sql.binds,
            [Bind::Int(7), text("{}"), text("s"), Bind::Int(3), text("me")]
        );
        let sql = delete_timer(Dialect::Sqlite, "s:1:0");
        assert_eq!(sql.text, "DELETE FROM flux_saga_timers WHERE timer_key = ?");
    }
}
