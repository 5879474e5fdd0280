//! Sagas: process managers that react to committed events and cause more.
//!
//! A [`Saga`] is a function `(state, event) -> (state, actions)` over the
//! log, with a name and plain JSON state, registered with
//! [`StoreBuilder::saga`](crate::StoreBuilder::saga) and run by
//! [`Store::run_sagas`](crate::Store::run_sagas) (the `serve` command of an
//! app runs them; other commands do not). Its actions ([`SagaAction`]):
//! dispatch events, schedule an event for later (a timer), run a side effect
//! outside the database (an [`Effect`], registered by name with
//! [`StoreBuilder::effect`](crate::StoreBuilder::effect)).
//!
//! ```
//! use std::time::Duration;
//! use flux_capacitor::{Event, testing::conformance};
//! use flux_capacitor_server::{EventQuery, SagaAction, Store, effect_fn, saga_fn};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("shop.db").display());
//! // On each order: confirm it (an event) and charge it (an effect).
//! let orders = saga_fn("orders", |state, event| {
//!     Ok(match event.event_type.as_str() {
//!         "order/placed" => (state, vec![
//!             SagaAction::Dispatch(Event::new("order/confirmed", event.payload.clone())),
//!             SagaAction::Effect { name: "charge".into(), input: event.payload.clone() },
//!         ]),
//!         _ => (state, vec![]),
//!     })
//! });
//! // `key` is the idempotency key: the same on every attempt.
//! let charge = effect_fn(|key, input| async move { Ok(json!({ "key": key, "order": input["id"] })) });
//! let store = Store::builder(conformance::reducer())
//!     .saga(orders)
//!     .effect("charge", charge)
//!     .connect(&url)
//!     .await?;
//! let sagas = store.run_sagas();
//! store.dispatch(Event::new("order/placed", json!({ "id": 7 }))).await?;
//! let done = loop {
//!     let query = EventQuery { types: Some(vec!["charge/done".into()]), ..EventQuery::after(0, 10) };
//!     if let Some(done) = store.events(query).await?.pop() { break done; }
//!     tokio::time::sleep(Duration::from_millis(50)).await;
//! };
//! assert_eq!(done.payload["key"], "orders:1:1"); // saga:seq:index
//! assert_eq!(done.payload["output"]["order"], 7);
//! sagas.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! **Exactly once inside the store.** A step's new position (the `seq` it
//! handled) and state, the events it dispatches, its outbox rows and its
//! timers are written in one transaction, guarded by a compare-and-set on the
//! saga's position and lease (a stale runner gets
//! [`StoreError::Stale`](crate::StoreError::Stale) and writes nothing). A
//! crash therefore neither loses nor repeats a step's writes. Steps with no
//! action only move the position and state: those are kept in memory and
//! written at most every [`SagaConfig::flush_interval`] (and with the next
//! step that acts); after a crash they are handled again, from the state
//! written with them, which gives the same result because `handle` is pure.
//!
//! **Effects at least once.** An effect is a row of the outbox
//! (`flux_saga_effects`) keyed `saga:seq:index` — its idempotency key,
//! passed to the effect. A worker runs due rows, retries failures with
//! exponential back-off, and parks a row after [`SagaConfig::max_attempts`]
//! (visible in [`Store::parked_effects`](crate::Store::parked_effects),
//! re-queued by [`Store::retry_effect`](crate::Store::retry_effect)). The
//! result comes back as an event `<effect>/done` with payload
//! `{ "key", "saga", "output" }`, dispatched in the transaction that deletes
//! the outbox row: an effect whose process dies after running it but
//! before that commit runs again, with the same key.
//!
//! **Timers** (`flux_saga_timers`): the event is dispatched in the
//! transaction that deletes the timer, so it fires once, also across
//! restarts; late when no instance runs the saga at its time.
//!
//! **Several instances** on one database: each saga has a lease (holder id
//! and expiry in `flux_sagas`), renewed while it runs and taken over once
//! expired, so a saga (its steps, effects and timers) runs on one instance
//! at a time. Times are milliseconds since the epoch by each instance's
//! clock: clocks must agree to well within [`SagaConfig::lease_ttl`].
//!
//! Events a saga dispatches skip the middleware (they are no request's) and
//! carry `meta.saga`, the saga's name.

mod config;
mod effect;
mod registry;
mod runner;
mod sql;
mod status;
mod worker;

pub mod cli;

use flux_capacitor::{Event, StoredEvent};
use serde_json::Value;

pub use config::SagaConfig;
pub use effect::{Effect, EffectError, effect_fn};
pub(crate) use registry::Registry;
pub use runner::SagaRunner;
pub use status::{ParkedEffect, SagaInfo};

/// The sagas' positions, states and leases.
pub const SAGAS_TABLE: &str = "flux_sagas";
/// The sagas' outbox of side effects.
pub const EFFECTS_TABLE: &str = "flux_saga_effects";
/// The sagas' timers.
pub const TIMERS_TABLE: &str = "flux_saga_timers";

/// Most characters of a saga's or an effect's name.
pub const MAX_NAME_CHARS: usize = 100;

/// An error of a saga's [`Saga::handle`].
pub type SagaError = Box<dyn std::error::Error + Send + Sync>;

/// What a saga's step asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum SagaAction {
    /// Dispatch this event (with the step, in its transaction).
    Dispatch(Event),
    /// Dispatch this event at time `at` (or as soon after as the saga runs).
    Schedule {
        /// When.
        at: chrono::DateTime<chrono::Utc>,
        /// What.
        event: Event,
    },
    /// Run the effect registered as `name` on `input`, at least once.
    Effect {
        /// The effect's registered name.
        name: String,
        /// Its input.
        input: Value,
    },
}

/// A process manager over the log; see the [module docs](self).
///
/// `handle` must be pure, as reducers are: the same state and event give the
/// same result (take times from the event's `timestamp`, not the clock),
/// because a step whose position was not yet written is handled again.
/// Keep the state small: it is written whole with every step that acts.
pub trait Saga: Send + Sync + 'static {
    /// Its name, unique in the store (at most [`MAX_NAME_CHARS`] characters).
    fn name(&self) -> &str;

    /// The state before its first event (default `null`).
    fn initial_state(&self) -> Value {
        Value::Null
    }

    /// Whether a saga new to the database starts at the log's head (only
    /// events committed from then on) rather than at its beginning (the
    /// default: every event of the log).
    fn starts_at_head(&self) -> bool {
        false
    }

    /// The state after `event`, and what to do. An error stops the saga at
    /// this event (nothing is written; it is tried again after a back-off
    /// and shows as failing in [`Store::sagas`](crate::Store::sagas)).
    fn handle(&self, state: Value, event: &StoredEvent) -> Result<(Value, Vec<SagaAction>), SagaError>;
}

/// A saga from a name and a function: `saga_fn("welcome", |state, event| ...)`.
pub fn saga_fn<F>(name: impl Into<String>, handle: F) -> FnSaga<F>
where
    F: Fn(Value, &StoredEvent) -> Result<(Value, Vec<SagaAction>), SagaError> + Send + Sync + 'static,
{
    FnSaga {
        name: name.into(),
        handle,
        at_head: false,
    }
}

/// A [`Saga`] made by [`saga_fn`].
pub struct FnSaga<F> {
    name: String,
    handle: F,
    at_head: bool,
}

impl<F> FnSaga<F> {
    /// Starts at the log's head when new ([`Saga::starts_at_head`]).
    #[must_use]
    pub fn starts_at_head(mut self) -> Self {
        self.at_head = true;
        self
    }
}

impl<F> Saga for FnSaga<F>
where
    F: Fn(Value, &StoredEvent) -> Result<(Value, Vec<SagaAction>), SagaError> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn starts_at_head(&self) -> bool {
        self.at_head
    }

    fn handle(&self, state: Value, event: &StoredEvent) -> Result<(Value, Vec<SagaAction>), SagaError> {
        (self.handle)(state, event)
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
