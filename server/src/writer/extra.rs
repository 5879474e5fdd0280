//! Statements written with a dispatch, in its transaction: what lets a saga
//! ([`crate::saga`]) move its position, keep its state, and fill its outbox
//! and timers in the same transaction as the events it dispatches.
//!
//! A [`Extras::guard`] runs first and must change exactly one row (a
//! compare-and-set on the saga's position and lease, the deletion of the
//! outbox row or timer being completed); otherwise the dispatch is
//! [`StoreError::Stale`] and nothing of it is written. A dispatch with
//! extras is written on the one-statement path, in a savepoint of its own
//! when its group has others, so a stale one fails alone; its group does
//! not take the multi-row path (rare: sagas dispatch little).

use crate::StoreError;
use crate::sql::Sql;
use crate::sql::backend::WriteTx;

/// Statements for the writer to run with a dispatch, after its events.
#[derive(Debug, Clone)]
pub(crate) struct Extras {
    /// Must change exactly one row, else the dispatch is stale.
    pub guard: Sql,
    /// What the guard was for, for [`StoreError::Stale`].
    pub what: String,
    /// Run after the guard, in order.
    pub statements: Vec<Sql>,
}

impl Extras {
    /// Runs the guard, then the statements, in `tx`.
    pub(crate) async fn run(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        let changed = tx.execute(&self.guard).await.map_err(StoreError::database)?;
        if changed != 1 {
            return Err(StoreError::Stale {
                what: self.what.clone(),
            });
        }
        for statement in &self.statements {
            tx.execute(statement).await.map_err(StoreError::database)?;
        }
        Ok(())
    }

    /// Runs them in a transaction of their own (when there are no events to
    /// write with them), holding the writers' lock like a dispatch.
    pub(crate) async fn run_alone(&self, db: &dyn crate::sql::backend::Backend) -> Result<(), StoreError> {
        let mut tx = db.begin_write().await.map_err(StoreError::database)?;
        self.run(&mut *tx).await?;
        tx.commit().await.map_err(StoreError::database)
    }
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;
    use flux_capacitor::testing::conformance;
    use serde_json::json;

    use super::*;
    use crate::db::Dialect;
    use crate::saga::now_ms;
    use crate::sql::Bind;
    use crate::{EventQuery, Store};

    fn guard(from: i64, to: i64) -> Sql {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("UPDATE flux_sagas SET last_seq = ")
            .bind(Bind::Int(to), None)
            .push(" WHERE name = 's' AND last_seq = ")
            .bind(Bind::Int(from), None);
        sql
    }

    fn timer(key: &str) -> Sql {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("INSERT INTO flux_saga_timers (timer_key, saga, due_at, event) VALUES (")
            .bind(Bind::Text(key.into()), None)
            .push(", 's', ")
            .bind(Bind::Int(now_ms()), None)
            .push(", '{}')");
        sql
    }

    #[tokio::test]
    async fn a_stale_dispatch_fails_alone_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::builder(conformance::reducer()).connect(&url).await.unwrap();
        let db = store.shared().db();
        let mut insert = Sql::new(Dialect::Sqlite);
        insert.push(
            "INSERT INTO flux_sagas (name, last_seq, state, holder, lease_until) VALUES ('s', 0, 'null', NULL, 0)",
        );
        db.execute(&insert).await.unwrap();
        let extras = |from, to, key| Extras {
            guard: guard(from, to),
            what: format!("s at {from}"),
            statements: vec![timer(key)],
        };
        let event = |n: u64| Event::new("x", json!({ "n": n }));
        let first = store.write_with(vec![event(1)], extras(0, 1, "t1")).await.unwrap();
        assert_eq!(first[0].seq, 1);
        // In one group (or not): the stale one fails alone.
        let (a, stale, b) = tokio::join!(
            store.dispatch(event(2)),
            store.write_with(vec![event(3), event(4)], extras(0, 2, "t2")),
            store.dispatch(event(5)),
        );
        assert!(a.is_ok() && b.is_ok());
        let err = stale.unwrap_err();
        assert!(matches!(&err, StoreError::Stale { what } if what == "s at 0"), "{err}");
        assert_eq!(err.kind(), "stale");
        let logged: Vec<u64> = store
            .events(EventQuery::after(0, 10))
            .await
            .unwrap()
            .iter()
            .map(|e| e.payload["n"].as_u64().unwrap())
            .collect();
        assert_eq!(logged.len(), 3);
        assert!(!logged.contains(&3) && !logged.contains(&4));
        let mut count = Sql::new(Dialect::Sqlite);
        count.push("SELECT COUNT(*) FROM flux_saga_timers");
        let column = crate::schema::Column::new("n", flux_capacitor::FieldType::Integer);
        let rows = db.fetch_rows(&count, &[&column]).await.unwrap();
        assert_eq!(rows[0]["n"], 1, "only the first dispatch's timer");
        // Without events, the extras alone, guarded alike.
        store.write_with(Vec::new(), extras(1, 2, "t3")).await.unwrap();
        let again = store.write_with(Vec::new(), extras(1, 3, "t4")).await.unwrap_err();
        assert_eq!(again.kind(), "stale");
        let rows = db.fetch_rows(&count, &[&column]).await.unwrap();
        assert_eq!(rows[0]["n"], 2);
    }
}
