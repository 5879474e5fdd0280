//! [`Store::run_sagas`] and one saga's loop: its lease, its steps, the
//! position flushes. Effects and timers run beside it ([`super::worker`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use flux_capacitor::{Event, StoredEvent};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Saga, SagaAction, now_ms, sql};
use crate::writer::Extras;
use crate::{EventQuery, Store, StoreError};

/// The running sagas of a store ([`Store::run_sagas`]). [`SagaRunner::stop`]
/// lets each finish its step, write its position and give its lease up;
/// dropping it aborts them (as a crash would: nothing is lost, the lease
/// expires).
pub struct SagaRunner {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    holder: String,
}

impl std::fmt::Debug for SagaRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaRunner")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl SagaRunner {
    /// This instance's lease holder id (a new UUID per runner).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Stops every saga after its current step, writing its position and
    /// releasing its lease.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for SagaRunner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Store {
    /// Starts the registered sagas ([`StoreBuilder::saga`](crate::StoreBuilder::saga)):
    /// each takes its lease when free (or expired), follows the log from
    /// its position, and runs its effects and timers; see [`crate::saga`].
    /// Run it in the serving process only, and keep the runner: dropping it
    /// stops the sagas.
    #[must_use = "dropping the runner stops the sagas"]
    pub fn run_sagas(&self) -> SagaRunner {
        let holder = uuid::Uuid::new_v4().to_string();
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for saga in &self.sagas_registry().sagas {
            let lease = Arc::new(AtomicBool::new(false));
            let runner = Runner {
                store: self.clone(),
                saga: saga.clone(),
                holder: holder.clone(),
                lease: lease.clone(),
                held: false,
                renew_at: 0,
                position: 0,
                persisted: 0,
                state: Value::Null,
                last_flush: Instant::now(),
            };
            tasks.push(tokio::spawn(runner.run(stopped.clone())));
            let worker = super::worker::Worker::new(self.clone(), saga.name().to_owned(), lease);
            tasks.push(tokio::spawn(worker.run(stopped.clone())));
        }
        tracing::info!(sagas = self.sagas_registry().sagas.len(), %holder, "sagas started");
        SagaRunner { stop, tasks, holder }
    }
}

/// One saga's loop.
struct Runner {
    store: Store,
    saga: Arc<dyn Saga>,
    holder: String,
    /// Whether this instance holds the lease, for the worker.
    lease: Arc<AtomicBool>,
    held: bool,
    /// When to renew the lease (ms since the epoch).
    renew_at: i64,
    /// The last `seq` handled, and the last one written.
    position: u64,
    persisted: u64,
    state: Value,
    last_flush: Instant,
}

impl Runner {
    fn name(&self) -> &str {
        self.saga.name()
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let config = self.store.sagas_registry().config.clone();
        let mut failures = 0u32;
        while !*stop.borrow() {
            let wait = match self.tick().await {
                Ok(true) => continue,
                Ok(false) => {
                    failures = 0;
                    config.poll_interval
                }
                Err(err) => {
                    failures += 1;
                    if matches!(err, StoreError::Stale { .. }) {
                        tracing::info!(saga = self.name(), error = %err, "the saga moved under this instance; reading it again");
                        self.lose_lease();
                        config.poll_interval
                    } else {
                        tracing::warn!(saga = self.name(), error = %err, failures, "saga step failed; trying again");
                        config.backoff(failures).max(config.poll_interval)
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        if self.held {
            if let Err(err) = self.flush().await {
                tracing::warn!(saga = self.name(), error = %err, "writing the saga's position on stop failed");
            }
            let db = self.store.shared().db();
            let release = sql::release_lease(db.dialect(), self.name(), &self.holder);
            if let Err(err) = db.execute(&release).await {
                tracing::warn!(saga = self.name(), error = %err, "releasing the saga's lease failed");
            }
        }
        self.lease.store(false, Ordering::SeqCst);
        tracing::info!(saga = self.name(), position = self.position, "saga stopped");
    }

    fn lose_lease(&mut self) {
        self.held = false;
        self.lease.store(false, Ordering::SeqCst);
    }

    /// One look: the lease, new events, a flush. `Ok(true)`: more to do now.
    async fn tick(&mut self) -> Result<bool, StoreError> {
        self.keep_lease().await?;
        if !self.held {
            return Ok(false);
        }
        let registry = self.store.sagas_registry().clone();
        let mut more = false;
        if self.store.head() > self.position {
            let query = EventQuery::after(self.position, registry.config.page);
            let events = self.store.events(query).await?;
            more = events.len() as u64 >= registry.config.page;
            for event in &events {
                if let Err(err) = self.step(event).await {
                    let reason = match &err {
                        StoreError::Stale { .. } => None,
                        StoreError::NoSuchEffect { effect } => {
                            Some(format!("no effect `{effect}` at seq {}", event.seq))
                        }
                        _ => Some(format!("step failed at seq {}", event.seq)),
                    };
                    registry.set_failing(self.name(), "steps", reason);
                    return Err(err);
                }
            }
            registry.set_failing(self.name(), "steps", None);
        }
        if self.position > self.persisted && self.last_flush.elapsed() >= registry.config.flush_interval {
            self.flush().await?;
        }
        Ok(more)
    }

    /// Takes the lease when free, renews it when due; on taking it, reads
    /// the saga's position and state.
    async fn keep_lease(&mut self) -> Result<(), StoreError> {
        let now = now_ms();
        if self.held && now < self.renew_at {
            return Ok(());
        }
        let db = self.store.shared().db();
        let dialect = db.dialect();
        let ttl = self.store.sagas_registry().config.lease_ttl.as_millis() as i64;
        if !self.held {
            self.ensure_row().await?;
        }
        let took = db
            .execute(&sql::take_lease(dialect, self.name(), &self.holder, now, now + ttl))
            .await?;
        if took != 1 {
            if self.held {
                tracing::warn!(saga = self.name(), "lost the saga's lease to another instance");
            }
            self.lose_lease();
            return Ok(());
        }
        self.renew_at = now + ttl / 3;
        if !self.held {
            let columns = sql::columns(sql::SAGA_ROW);
            let columns: Vec<&_> = columns.iter().collect();
            let rows = db.fetch_rows(&sql::saga_row(dialect, self.name()), &columns).await?;
            let row = rows.first().ok_or_else(|| StoreError::Stale {
                what: format!("saga `{}` has no row", self.name()),
            })?;
            self.position = row.get("last_seq").and_then(Value::as_u64).unwrap_or(0);
            self.persisted = self.position;
            let state = row.get("state").and_then(Value::as_str).unwrap_or("null");
            self.state = serde_json::from_str(state).map_err(|e| {
                StoreError::rejected(
                    None,
                    format!("saga `{}`: its stored state is not JSON: {e}", self.name()),
                )
            })?;
            self.last_flush = Instant::now();
            self.held = true;
            self.lease.store(true, Ordering::SeqCst);
            tracing::info!(saga = self.name(), position = self.position, holder = %self.holder, "took the saga's lease");
        }
        Ok(())
    }

    /// Creates the saga's row when missing, under the writers' lock: at
    /// the log's head when it [starts there](Saga::starts_at_head), else at 0.
    async fn ensure_row(&self) -> Result<(), StoreError> {
        let db = self.store.shared().db();
        let dialect = db.dialect();
        let mut tx = db.begin_write().await?;
        if tx.execute(&sql::touch_saga(dialect, self.name())).await? == 0 {
            let start = if self.saga.starts_at_head() {
                tx.last_event().await?.map_or(0, |(seq, _)| seq)
            } else {
                0
            };
            let state = serde_json::to_string(&self.saga.initial_state())
                .map_err(|e| StoreError::rejected(None, e.to_string()))?;
            tx.execute(&sql::insert_saga(dialect, self.name(), start, &state))
                .await?;
            tracing::info!(saga = self.name(), start, "new saga");
        }
        tx.commit().await?;
        Ok(())
    }

    fn guard(&self, to: u64, state: &Value) -> Result<Extras, StoreError> {
        let state = serde_json::to_string(state).map_err(|e| StoreError::rejected(None, e.to_string()))?;
        let dialect = self.store.shared().db().dialect();
        Ok(Extras {
            guard: sql::advance(dialect, self.name(), &self.holder, self.persisted, to, &state),
            what: format!(
                "saga `{}` expected at seq {} under this instance's lease",
                self.name(),
                self.persisted
            ),
            statements: Vec::new(),
        })
    }

    /// Writes the position and state of steps that did nothing else.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.position > self.persisted {
            let extras = self.guard(self.position, &self.state)?;
            self.store.write_with(Vec::new(), extras).await?;
            self.persisted = self.position;
            tracing::debug!(saga = self.name(), position = self.position, "saga position written");
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Handles one event: with actions, writes them with the position and
    /// state in one transaction; without, moves on in memory.
    async fn step(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        let name = self.name().to_owned();
        // A panicking handler fails the step, as an error does (the task lives on).
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.saga.handle(self.state.clone(), event)
        }))
        .unwrap_or_else(|_| Err("the saga's handler panicked".into()));
        let (state, actions) = handled.map_err(|e| {
            tracing::warn!(saga = %name, seq = event.seq, error = %e, "saga handler failed");
            StoreError::rejected(Some(&event.event_type), format!("saga `{name}`: {e}"))
        })?;
        if actions.is_empty() {
            self.state = state;
            self.position = event.seq;
            return Ok(());
        }
        let registry = self.store.sagas_registry();
        let dialect = self.store.shared().db().dialect();
        let mut extras = self.guard(event.seq, &state)?;
        let mut events = Vec::new();
        let now = now_ms();
        for (index, action) in actions.into_iter().enumerate() {
            let key = format!("{name}:{}:{index}", event.seq);
            match action {
                SagaAction::Dispatch(event) => events.push(marked(event, &name)),
                SagaAction::Schedule { at, event } => {
                    let event = serde_json::to_string(&marked(event, &name))
                        .map_err(|e| StoreError::rejected(None, e.to_string()))?;
                    extras
                        .statements
                        .push(sql::insert_timer(dialect, &key, &name, at.timestamp_millis(), &event));
                }
                SagaAction::Effect { name: effect, input } => {
                    if !registry.effects.contains_key(&effect) {
                        return Err(StoreError::NoSuchEffect { effect });
                    }
                    let input = serde_json::to_string(&input).map_err(|e| StoreError::rejected(None, e.to_string()))?;
                    extras
                        .statements
                        .push(sql::insert_effect(dialect, &key, &name, &effect, &input, now));
                }
            }
        }
        let dispatched = self.store.write_with(events, extras).await?;
        tracing::debug!(saga = %name, seq = event.seq, dispatched = dispatched.len(), "saga step written");
        self.state = state;
        self.position = event.seq;
        self.persisted = event.seq;
        self.last_flush = Instant::now();
        Ok(())
    }
}

/// `event` with `meta.saga` set to the saga's name.
pub(crate) fn marked(mut event: Event, saga: &str) -> Event {
    match &mut event.meta {
        Some(Value::Object(meta)) => {
            meta.insert("saga".into(), Value::from(saga));
        }
        _ => event.meta = Some(serde_json::json!({ "saga": saga })),
    }
    event
}
