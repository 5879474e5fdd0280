//! The store's operational figures: Prometheus metrics ([`Store::metrics`])
//! and health ([`Store::health`]) for load balancers and operators.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::{Store, StoreError};

/// What the writer counts as it goes.
pub(crate) struct Metrics {
    registry: Registry,
    committed: Counter,
    failed: Counter,
    events: Counter,
    external: Counter,
    serialized: Counter,
    commit_seconds: Histogram,
    group_dispatches: Histogram,
    subscribers: Gauge,
    head: Gauge,
    log_head: Gauge,
    lag: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let (committed, failed, events, external, serialized) = Default::default();
        let commit_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 14));
        let group_dispatches = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let (subscribers, head, log_head, lag) = Default::default();
        let mut registry = Registry::with_prefix("flux");
        let r = &mut registry;
        r.register(
            "dispatches_committed",
            "Dispatches committed by this instance",
            Counter::clone(&committed),
        );
        r.register(
            "dispatches_failed",
            "Dispatches that failed (nothing written)",
            Counter::clone(&failed),
        );
        r.register(
            "events_committed",
            "Events committed by this instance",
            Counter::clone(&events),
        );
        r.register(
            "events_external",
            "Events of other instances published here",
            Counter::clone(&external),
        );
        r.register(
            "events_serialized",
            "Events serialized to JSON for live subscribers: once a published batch, whatever the number of subscribers, plus the pages of the log read by subscribers catching up",
            Counter::clone(&serialized),
        );
        r.register(
            "commit_seconds",
            "Time to write and commit one group",
            commit_seconds.clone(),
        );
        r.register(
            "group_dispatches",
            "Dispatches per commit group",
            group_dispatches.clone(),
        );
        r.register(
            "subscribers",
            "Live subscribers of this instance",
            Gauge::clone(&subscribers),
        );
        r.register(
            "published_seq",
            "The last seq published to this instance's subscribers",
            Gauge::clone(&head),
        );
        r.register("log_seq", "The last seq in the log", Gauge::clone(&log_head));
        r.register(
            "feed_lag_events",
            "Events in the log not yet published here",
            Gauge::clone(&lag),
        );
        Metrics {
            registry,
            committed,
            failed,
            events,
            external,
            serialized,
            commit_seconds,
            group_dispatches,
            subscribers,
            head,
            log_head,
            lag,
        }
    }
}

impl Metrics {
    /// One group written: its dispatches' outcomes, events and duration.
    pub(crate) fn group(&self, committed: usize, failed: usize, events: usize, took: Duration) {
        self.committed.inc_by(committed as u64);
        self.failed.inc_by(failed as u64);
        self.events.inc_by(events as u64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.group_dispatches.observe((committed + failed) as f64);
    }

    /// Other instances' events published here.
    pub(crate) fn external(&self, events: usize) {
        self.external.inc_by(events as u64);
    }

    /// `events` serialized to JSON for live subscribers.
    pub(crate) fn serialized(&self, events: usize) {
        self.serialized.inc_by(events as u64);
    }

    /// Events serialized to JSON for live subscribers so far.
    #[cfg(test)]
    pub(crate) fn serialized_total(&self) -> u64 {
        self.serialized.get()
    }
}

/// The store's health: see [`Store::health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Whether the database answered, and its event log is there.
    pub database: bool,
    /// Whether the writer task is running.
    pub writer: bool,
    /// Whether the event log is the one this store has been following:
    /// false once it was found ending before the last `seq` published here
    /// (the database replaced under the running store, see
    /// [`StoreError::LogReplaced`]), until the service restarts.
    pub log: bool,
    /// The last `seq` in the log (0 when the database did not answer).
    pub log_seq: u64,
    /// The last `seq` published to this instance's subscribers.
    pub published_seq: u64,
    /// Events in the log this instance has not published yet.
    pub lag: u64,
    /// Why the store is not ready: the database did not answer, the log
    /// is missing ([`StoreError::LogMissing`]) or was replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Health {
    /// Ready to serve: the database answers with the log this store
    /// follows, and the writer runs.
    pub fn ready(&self) -> bool {
        self.database && self.writer && self.log
    }
}

impl Store {
    /// Whether the database answers with the log this store follows, the
    /// writer runs, and how far this instance's live feed is behind the log
    /// (one indexed query). A log found ending before what this store has
    /// published makes the store refuse dispatches until restarted
    /// ([`StoreError::LogReplaced`]).
    pub async fn health(&self) -> Health {
        let shared = self.shared();
        let published_seq = shared.head.load(Ordering::SeqCst);
        let (database, log_seq, error) = match shared.db().last_seq().await {
            Ok(seq) => (
                true,
                seq,
                shared.log.found(published_seq, seq).err().map(|e| e.to_string()),
            ),
            Err(err) => {
                let reason = match shared.log.read_error(shared.db(), err) {
                    missing @ StoreError::LogMissing => missing.to_string(),
                    StoreError::Database { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                (false, 0, Some(reason))
            }
        };
        Health {
            database,
            writer: self.writer_running(),
            log: shared.log.check().is_ok(),
            log_seq,
            published_seq,
            lag: log_seq.saturating_sub(published_seq),
            error,
        }
    }

    /// The store's metrics in Prometheus' text format: dispatches committed
    /// and failed, events, commit latency and group sizes (histograms),
    /// subscribers, and the feed's `seq` and lag behind the log.
    pub async fn metrics(&self) -> Result<String, StoreError> {
        let health = self.health().await;
        let metrics = &self.shared().metrics;
        metrics.subscribers.set(self.shared().live.receiver_count() as i64);
        metrics.head.set(health.published_seq as i64);
        metrics.log_head.set(health.log_seq as i64);
        metrics.lag.set(health.lag as i64);
        let mut text = String::new();
        encode(&mut text, &metrics.registry).map_err(|e| StoreError::rejected(None, format!("metrics: {e}")))?;
        Ok(text)
    }
}
