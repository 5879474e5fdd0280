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
