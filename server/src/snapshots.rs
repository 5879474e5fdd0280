//! [`Snapshots`]: the read-model snapshots behind [`Store::as_of`](crate::Store::as_of)
//! — what is stored, when one is taken, and how one is read back.
//!
//! A snapshot is the **full** read model as of a `seq`, computed from the
//! log (never read from the live tables, which may be ahead), stored as JSON
//! text (`{"keys": {collection: key}, "tables": {collection: [row...]}}`) in
//! `flux_snapshots`. The store takes one in the background whenever
//! [`Config::snapshot_every`](crate::Config::snapshot_every) events have been
//! committed since the newest, one at a time, and on demand with
//! [`Store::take_snapshot`](crate::Store::take_snapshot).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flux_capacitor::{Changeset, FieldType, MemoryDatabase, Operation};
use serde_json::{Map, Value, json};

use crate::StoreError;
use crate::history::{empty_state, state_at};
use crate::schema::Column;
use crate::sql::backend::Backend;
use crate::sql::read::{last_snapshot_sql, snapshot_sql};
use crate::sql::write::insert_snapshot_sql;
use crate::store::Shared;

/// Snapshot state of one store: the newest snapshot's `seq`, whether one is
/// being taken, and how often to take one.
pub(crate) struct Snapshots {
    every: Option<u64>,
    newest: AtomicU64,
    taking: AtomicBool,
}

fn columns() -> [Column; 2] {
    [
        Column::new("seq", FieldType::Integer),
        Column::new("state", FieldType::Text),
    ]
}

impl Snapshots {
    /// Reads the newest snapshot's `seq` from the database.
    pub(crate) async fn open(db: &dyn Backend, every: Option<u64>) -> Result<Snapshots, StoreError> {
        let seq = Column::new("seq", FieldType::Integer);
        let rows = db.fetch_rows(&last_snapshot_sql(db.dialect()), &[&seq]).await?;
        let newest = rows.first().and_then(|row| row.get("seq")).and_then(Value::as_u64);
        Ok(Snapshots {
            every,
            newest: AtomicU64::new(newest.unwrap_or(0)),
            taking: AtomicBool::new(false),
        })
    }

    /// The newest snapshot at or before `seq`, loaded into a state with the
    /// read model's schema.
    pub(crate) async fn load(shared: &Shared, seq: u64) -> Result<Option<(u64, MemoryDatabase)>, StoreError> {
        let db = shared.db();
        let [seq_column, state_column] = columns();
        let rows = db
            .fetch_rows(&snapshot_sql(db.dialect(), seq), &[&seq_column, &state_column])
            .await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let at = row.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let corrupt = |reason: String| StoreError::InvalidPoint {
            reason: format!("snapshot at seq {at} is unreadable: {reason}"),
        };
        let text = row.get("state").and_then(Value::as_str).unwrap_or_default();
        let state: Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        let mut creates = Changeset::no_change();
        for (collection, rows) in state["tables"].as_object().into_iter().flatten() {
            let key = state["keys"][collection]
                .as_str()
                .unwrap_or(flux_capacitor::DEFAULT_KEY);
            for row in rows.as_array().into_iter().flatten() {
                let Value::Object(row) = row else {
                    return Err(corrupt(format!("a row of `{collection}` is not an object")));
                };
                creates.push(Operation::Create {
                    collection: collection.clone(),
                    key: key.into(),
                    row: row.clone(),
                });
            }
        }
        let mut state = empty_state(shared);
        state.apply(&creates).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some((at, state)))
    }

    /// Computes the state at `seq` and stores it (a second snapshot of the
    /// same `seq` is ignored).
    pub(crate) async fn take(shared: &Shared, seq: u64) -> Result<(), StoreError> {
        let state = state_at(shared, seq).await?;
        let schema = shared.schema();
        let keys: Map<String, Value> = state
            .collections()
            .map(|c| {
                let key = schema
                    .tables
                    .get(c)
                    .map_or(flux_capacitor::DEFAULT_KEY, |t| t.key.as_str());
                (c.to_owned(), Value::String(key.to_owned()))
            })
            .collect();
        let text = json!({ "keys": keys, "tables": state.snapshot() }).to_string();
        let bytes = text.len();
        let db = shared.db();
        db.execute(&insert_snapshot_sql(db.dialect(), seq, text)).await?;
        shared.snapshots.newest.fetch_max(seq, Ordering::SeqCst);
        tracing::info!(seq, bytes, "snapshot taken");
        Ok(())
    }

    /// After a commit up to `head`: starts a background snapshot when
    /// `every` events have been committed since the newest (one at a time).
    pub(crate) fn after_commit(shared: &Arc<Shared>, head: u64) {
        let this = &shared.snapshots;
        let Some(every) = this.every else { return };
        if head < this.newest.load(Ordering::SeqCst) + every.max(1) || this.taking.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(err) = Snapshots::take(&shared, head).await {
                tracing::warn!(seq = head, error = %err, "snapshot failed");
            }
            shared.snapshots.taking.store(false, Ordering::SeqCst);
        });
    }

    /// Forgets every snapshot: a rebuild deleted them with the reducers that made them.
    pub(crate) fn forget(&self) {
        self.newest.store(0, Ordering::SeqCst);
    }
}
