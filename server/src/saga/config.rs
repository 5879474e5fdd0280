//! [`SagaConfig`]: how sagas run.

use std::time::Duration;

/// How sagas run ([`StoreBuilder::saga_config`](crate::StoreBuilder::saga_config)).
#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// How often a saga looks for new events, due effects and due timers
    /// (default 200 ms). New events are seen through the store's head, so an
    /// idle look costs no query; effects and timers cost one indexed query each.
    pub poll_interval: Duration,
    /// How long a lease lasts without renewal (default 10 s): how long a
    /// saga waits after its instance died before another takes it over. It
    /// is renewed every `lease_ttl / 3`.
    pub lease_ttl: Duration,
    /// The first retry's delay after an effect fails (default 1 s); it
    /// doubles with each attempt, up to [`SagaConfig::retry_max`].
    pub retry_base: Duration,
    /// The longest delay between attempts (default 5 min).
    pub retry_max: Duration,
    /// Attempts before an effect is parked (default 8).
    pub max_attempts: u32,
    /// How often, at most, the position and state of steps without actions
    /// are written (default 1 s).
    pub flush_interval: Duration,
    /// Events read from the log per query (default 200).
    pub page: u64,
    /// Effects and timers run per look (default 50).
    pub batch: u64,
}

impl Default for SagaConfig {
    fn default() -> Self {
        SagaConfig {
            poll_interval: Duration::from_millis(200),
            lease_ttl: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            max_attempts: 8,
            flush_interval: Duration::from_secs(1),
            page: 200,
            batch: 50,
        }
    }
}

impl SagaConfig {
    /// The delay before attempt `attempts + 1`, after `attempts` failures.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let config = SagaConfig::default();
        assert_eq!(config.backoff(1), Duration::from_secs(1));
        assert_eq!(config.backoff(2), Duration::from_secs(2));
        assert_eq!(config.backoff(4), Duration::from_secs(8));
        assert_eq!(config.backoff(40), Duration::from_secs(300));
    }
}
