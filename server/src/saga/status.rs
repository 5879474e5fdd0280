//! What the sagas are doing: [`Store::sagas`], [`Store::parked_effects`],
//! [`Store::retry_effect`].

use flux_capacitor::FieldType;
use serde::Serialize;
use serde_json::Value;

use super::{now_ms, sql};
use crate::sql::Sql;
use crate::{Store, StoreError};

/// One saga, as [`Store::sagas`] lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SagaInfo {
    /// Its name.
    pub name: String,
    /// The last `seq` it handled, as written (steps without actions since
    /// are written within [`SagaConfig::flush_interval`](super::SagaConfig::flush_interval)).
    pub position: u64,
    /// Events of the log after its position.
    pub lag: u64,
    /// Effects queued (not parked).
    pub pending_effects: u64,
    /// Effects parked after their last attempt.
    pub parked_effects: u64,
    /// Timers set.
    pub timers: u64,
    /// The instance holding its lease, if the lease is current.
    pub holder: Option<String>,
    /// Whether this store registers it (it may be in the database only).
    pub registered: bool,
    /// Why it is failing in this instance, in short (no error text), if it is.
    pub failing: Option<String>,
}

/// An effect parked after [`SagaConfig::max_attempts`](super::SagaConfig::max_attempts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParkedEffect {
    /// Its idempotency key, `saga:seq:index`.
    pub key: String,
    /// The saga that asked for it.
    pub saga: String,
    /// The effect's name.
    pub effect: String,
    /// Its input.
    pub input: Value,
    /// Attempts made.
    pub attempts: u64,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

impl Store {
    /// Every saga of the database and every registered one, by name, with
    /// its position, lag, effects and timers (a few indexed counts each).
    pub async fn sagas(&self) -> Result<Vec<SagaInfo>, StoreError> {
        let db = self.shared().db();
        let dialect = db.dialect();
        let head = db.last_seq().await?;
        let columns = sql::columns(&[
            ("name", FieldType::Text),
            ("last_seq", FieldType::Integer),
            ("holder", FieldType::Text),
            ("lease_until", FieldType::Integer),
        ]);
        let columns: Vec<&_> = columns.iter().collect();
        let query = Sql::fixed(
            dialect,
            "SELECT name, last_seq, holder, lease_until FROM flux_sagas ORDER BY name",
        );
        let rows = db.fetch_rows(&query, &columns).await?;
        let registry = self.sagas_registry();
        let mut names: Vec<String> = rows
            .iter()
            .filter_map(|row| row.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        for saga in &registry.sagas {
            if !names.iter().any(|n| n == saga.name()) {
                names.push(saga.name().to_owned());
            }
        }
        names.sort();
        let counts = sql::columns(sql::COUNTS);
        let counts: Vec<&_> = counts.iter().collect();
        let now = now_ms();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let row = rows
                .iter()
                .find(|row| row.get("name").and_then(Value::as_str) == Some(name.as_str()));
            let position = row.and_then(|r| r.get("last_seq")).and_then(Value::as_u64).unwrap_or(0);
            let holder = row
                .filter(|r| r.get("lease_until").and_then(Value::as_i64).unwrap_or(0) >= now)
                .and_then(|r| r.get("holder"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let found = db.fetch_rows(&sql::counts(dialect, &name), &counts).await?;
            let count = |field: &str| {
                found
                    .first()
                    .and_then(|r| r.get(field))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            out.push(SagaInfo {
                registered: registry.sagas.iter().any(|s| s.name() == name),
                failing: registry.failing(&name),
                lag: head.saturating_sub(position),
                position,
                pending_effects: count("pending"),
                parked_effects: count("parked"),
                timers: count("timers"),
                holder,
                name,
            });
        }
        Ok(out)
    }

    /// The effects parked after their last attempt, by saga and key.
    pub async fn parked_effects(&self) -> Result<Vec<ParkedEffect>, StoreError> {
        let db = self.shared().db();
        let columns = sql::columns(sql::PARKED);
        let columns: Vec<&_> = columns.iter().collect();
        let rows = db.fetch_rows(&sql::parked_effects(db.dialect()), &columns).await?;
        let text = |row: &flux_capacitor::Row, field: &str| row.get(field).and_then(Value::as_str).map(str::to_owned);
        Ok(rows
            .iter()
            .map(|row| ParkedEffect {
                key: text(row, "effect_key").unwrap_or_default(),
                saga: text(row, "saga").unwrap_or_default(),
                effect: text(row, "effect").unwrap_or_default(),
                input: text(row, "input")
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null),
                attempts: row.get("attempts").and_then(Value::as_u64).unwrap_or(0),
                last_error: text(row, "last_error"),
            })
            .collect())
    }

    /// Queues the parked effect `key` again, due now, its attempts from 0;
    /// [`StoreError::NoSuchParkedEffect`] when no parked effect has that key.
    pub async fn retry_effect(&self, key: &str) -> Result<(), StoreError> {
        let db = self.shared().db();
        let changed = db.execute(&sql::retry_effect(db.dialect(), key, now_ms())).await?;
        if changed == 0 {
            return Err(StoreError::NoSuchParkedEffect { key: key.into() });
        }
        tracing::info!(key, "parked effect queued again");
        Ok(())
    }
}
