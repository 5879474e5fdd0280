//! A saga's effects and timers, run while this instance holds its lease.
//! Effects of one saga run one after another, in the order they are due.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flux_capacitor::Event;
use futures::FutureExt;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{now_ms, sql};
use crate::writer::Extras;
use crate::{Store, StoreError};

/// Most characters of an effect's error kept in its outbox row.
const MAX_ERROR_CHARS: usize = 1000;

pub(crate) struct Worker {
    store: Store,
    saga: String,
    lease: Arc<AtomicBool>,
}

impl Worker {
    pub fn new(store: Store, saga: String, lease: Arc<AtomicBool>) -> Worker {
        Worker { store, saga, lease }
    }

    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = self.store.sagas_registry().config.poll_interval;
        while !*stop.borrow() {
            if self.lease.load(Ordering::SeqCst) {
                if let Err(err) = self.effects().await {
                    tracing::warn!(saga = %self.saga, error = %err, "running the saga's effects failed");
                }
                if let Err(err) = self.timers().await {
                    tracing::warn!(saga = %self.saga, error = %err, "firing the saga's timers failed");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Runs the due effects once each.
    async fn effects(&self) -> Result<(), StoreError> {
        let registry = self.store.sagas_registry();
        let db = self.store.shared().db();
        let dialect = db.dialect();
        let columns = sql::columns(sql::DUE_EFFECT);
        let columns: Vec<&_> = columns.iter().collect();
        let due = sql::due_effects(dialect, &self.saga, now_ms(), registry.config.batch);
        for row in db.fetch_rows(&due, &columns).await? {
            if !self.lease.load(Ordering::SeqCst) {
                break;
            }
            let key = row.get("effect_key").and_then(Value::as_str).unwrap_or_default();
            let effect = row.get("effect").and_then(Value::as_str).unwrap_or_default();
            let attempts = row.get("attempts").and_then(Value::as_u64).unwrap_or(0) as u32 + 1;
            let input = row.get("input").and_then(Value::as_str).unwrap_or("null");
            let outcome = match (registry.effects.get(effect), serde_json::from_str::<Value>(input)) {
                (None, _) => Err(StoreError::NoSuchEffect { effect: effect.into() }.to_string()),
                (Some(_), Err(e)) => Err(format!("its input is not JSON: {e}")),
                (Some(handler), Ok(input)) => {
                    tracing::debug!(saga = %self.saga, key, effect, attempts, "running effect");
                    match std::panic::AssertUnwindSafe(handler.run(key, input))
                        .catch_unwind()
                        .await
                    {
                        Ok(Ok(output)) => Ok(output),
                        Ok(Err(err)) => Err(err.to_string()),
                        Err(_) => Err("the effect panicked".to_owned()),
                    }
                }
            };
            let outcome = match outcome {
                Ok(output) => self.done(key, effect, output).await.map_err(|e| e.to_string()),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => registry.set_failing(&self.saga, "effects", None),
                Err(err) => self.failed(key, effect, attempts, &err).await?,
            }
        }
        Ok(())
    }

    /// Dispatches `<effect>/done` with the deletion of the outbox row.
    async fn done(&self, key: &str, effect: &str, output: Value) -> Result<(), StoreError> {
        let dialect = self.store.shared().db().dialect();
        let event = Event::new(
            format!("{effect}/done"),
            json!({ "key": key, "saga": self.saga, "output": output }),
        );
        let extras = Extras {
            guard: sql::delete_effect(dialect, key),
            what: format!("effect `{key}` still queued"),
            statements: Vec::new(),
        };
        match self
            .store
            .write_with(vec![super::runner::marked(event, &self.saga)], extras)
            .await
        {
            Ok(_) => {
                tracing::info!(saga = %self.saga, key, effect, "effect done");
                Ok(())
            }
            // Completed by another instance (a lease taken over meanwhile).
            Err(StoreError::Stale { .. }) => {
                tracing::info!(saga = %self.saga, key, "effect completed elsewhere");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Records a failed attempt: retried after a back-off, or parked.
    async fn failed(&self, key: &str, effect: &str, attempts: u32, error: &str) -> Result<(), StoreError> {
        let config = &self.store.sagas_registry().config;
        let parked = attempts >= config.max_attempts;
        let next = now_ms() + config.backoff(attempts).as_millis() as i64;
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        if parked {
            tracing::warn!(saga = %self.saga, key, effect, attempts, error, "effect parked after its last attempt");
        } else {
            tracing::warn!(saga = %self.saga, key, effect, attempts, error, "effect failed; retrying later");
        }
        let reason = if parked {
            format!("effect `{effect}` parked")
        } else {
            format!("effect `{effect}` failing")
        };
        self.store
            .sagas_registry()
            .set_failing(&self.saga, "effects", Some(reason));
        let db = self.store.shared().db();
        db.execute(&sql::effect_failed(db.dialect(), key, attempts, next, &error, parked))
            .await?;
        Ok(())
    }

    /// Dispatches the due timers' events, each with its timer's deletion.
    async fn timers(&self) -> Result<(), StoreError> {
        let registry = self.store.sagas_registry();
        let db = self.store.shared().db();
        let dialect = db.dialect();
        let columns = sql::columns(sql::DUE_TIMER);
        let columns: Vec<&_> = columns.iter().collect();
        let due = sql::due_timers(dialect, &self.saga, now_ms(), registry.config.batch);
        for row in db.fetch_rows(&due, &columns).await? {
            if !self.lease.load(Ordering::SeqCst) {
                break;
            }
            let key = row.get("timer_key").and_then(Value::as_str).unwrap_or_default();
            let text = row.get("event").and_then(Value::as_str).unwrap_or("null");
            let fired = async {
                let value: Value = serde_json::from_str(text)
                    .map_err(|e| StoreError::rejected(None, format!("timer `{key}`: not JSON: {e}")))?;
                let event = crate::event_from_json(0, value)?;
                let extras = Extras {
                    guard: sql::delete_timer(dialect, key),
                    what: format!("timer `{key}` still set"),
                    statements: Vec::new(),
                };
                self.store.write_with(vec![event], extras).await
            };
            match fired.await {
                Ok(_) => {
                    tracing::info!(saga = %self.saga, key, "timer fired");
                    registry.set_failing(&self.saga, "timers", None);
                }
                Err(StoreError::Stale { .. }) => tracing::info!(saga = %self.saga, key, "timer fired elsewhere"),
                Err(err) => {
                    tracing::warn!(saga = %self.saga, key, error = %err, "firing a timer failed; trying again");
                    registry.set_failing(&self.saga, "timers", Some(format!("timer `{key}` failing")));
                }
            }
        }
        Ok(())
    }
}
