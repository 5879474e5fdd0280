//! [`LogGuard`]: the store's check that the event log it writes to and
//! publishes from is still the one it has been following.
//!
//! A database dropped (or its tables) under a running store can come back
//! three ways, and the store answers each differently:
//!
//! * **not yet** — the log's table (or the database) is missing: every
//!   dispatch is [`StoreError::LogMissing`] (503) and writes nothing;
//! * **restored with every event the store has published** (a backup taken
//!   after the last commit, tables renamed back): the store goes on by itself.
//!   After a failed write it re-reads the read model's schema and forgets
//!   which tables take multi-row statements, so tables created again are
//!   seen as they are now;
//! * **a log that ends before the last `seq` the store has published** (a
//!   new empty log made by a migration or another instance, an older
//!   backup): going on would give new events `seq`s that subscribers
//!   have already seen and skip (they drop `seq <= last`), silently. So
//!   the store refuses every dispatch with [`StoreError::LogReplaced`] from
//!   then on, publishes nothing more, and [`Store::health`](crate::Store::health)
//!   is not ready (`/ready` 503) with that reason, until the service restarts
//!   and opens the store on the new log (clients then resume from it: a
//!   `seq` past its head is refused, so none waits silently).
//!
//! The writer finds the log's last `seq` in every transaction anyway (it
//! stamps the next ones from it), so the check costs nothing there; the
//! health check and failed writes read it once more.

use std::sync::OnceLock;

use crate::StoreError;
use crate::sql::backend::Backend;

/// Whether the log was found replaced (sticky: `published`, `found`).
#[derive(Default)]
pub(crate) struct LogGuard {
    replaced: OnceLock<(u64, u64)>,
}

impl LogGuard {
    /// [`StoreError::LogReplaced`] once the log was found replaced.
    pub fn check(&self) -> Result<(), StoreError> {
        match self.replaced.get() {
            Some(&(published, found)) => Err(StoreError::LogReplaced { published, found }),
            None => Ok(()),
        }
    }

    /// The log ends at `found` while this store has published up to
    /// `published`: a log that ends before is a replaced one, remembered.
    pub fn found(&self, published: u64, found: u64) -> Result<(), StoreError> {
        if found < published && self.replaced.set((published, found)).is_ok() {
            tracing::error!(
                published,
                found,
                "the event log ends before what this store has published: \
                 the database was replaced under it; refusing every dispatch until restarted"
            );
        }
        self.check()
    }

    /// The error of a failed read of the log: [`StoreError::LogMissing`]
    /// when its table or the database is not there.
    pub fn read_error(&self, db: &dyn Backend, err: sqlx::Error) -> StoreError {
        if db.is_missing(&err) {
            tracing::warn!(error = %err, "the event log is missing");
            StoreError::LogMissing
        } else {
            StoreError::database(err)
        }
    }
}
