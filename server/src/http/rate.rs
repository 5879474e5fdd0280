//! The dispatch rate limit ([`HttpConfig::dispatch_rate`](super::HttpConfig::dispatch_rate)):
//! a token bucket per caller (`governor`'s GCRA), checked after
//! authentication and before anything else of a `POST /dispatch`, so a
//! refused request runs no command and writes nothing.
//!
//! Callers are counted apart: an authenticated user by their user id (every
//! connection of theirs shares one bucket); an anonymous caller by the peer's
//! IP address when the service runs under [`serve`](super::serve) (behind a
//! proxy that is the proxy's address: authenticate users there), else all
//! anonymous callers share one bucket.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::extract::Caller;
use super::{ApiError, AppState};

/// A rate: `per_second` requests sustained, up to `burst` at once (a caller
/// that was quiet may send `burst` at once, then one every `1/per_second`
/// seconds). Zeros count as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests at once.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained, `burst` at once.
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }

    fn quota(self) -> Quota {
        let one = NonZeroU32::MIN;
        Quota::per_second(NonZeroU32::new(self.per_second).unwrap_or(one))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(one))
    }
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
    Anonymous,
}

/// The buckets of every caller; none when the limit is off.
pub(crate) struct DispatchLimiter {
    limiter: Option<DefaultKeyedRateLimiter<Key>>,
    checks: AtomicU64,
}

impl std::fmt::Debug for DispatchLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchLimiter")
            .field("on", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl DispatchLimiter {
    /// How often (in checks) buckets that are full again are forgotten, so
    /// that many one-time callers do not grow the map for ever.
    const FORGET_EVERY: u64 = 1024;

    pub fn new(rate: Option<RateLimit>) -> DispatchLimiter {
        DispatchLimiter {
            limiter: rate.map(|rate| RateLimiter::keyed(rate.quota())),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    fn check(&self, key: &Key) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % Self::FORGET_EVERY == Self::FORGET_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// A dispatch the caller's rate allows (else 429 `too_many_requests` with
/// `Retry-After`).
pub(crate) struct DispatchPermit;

impl FromRequestParts<AppState> for DispatchPermit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Caller(ctx) = Caller::from_request_parts(parts, app).await?;
        let key = match (&ctx.user, parts.extensions.get::<ConnectInfo<SocketAddr>>()) {
            (Some(user), _) => Key::User(user.clone()),
            (None, Some(ConnectInfo(peer))) => Key::Address(peer.ip()),
            (None, None) => Key::Anonymous,
        };
        app.dispatch_rate.check(&key).map_err(|wait| {
            // Whole seconds, rounded up: a client that waits that long finds a token.
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(
                user = ctx.user.as_deref(),
                ?key,
                retry_after,
                "dispatch refused: over the rate limit"
            );
            ApiError::RateLimited {
                retry_after: retry_after.max(1),
            }
        })?;
        Ok(DispatchPermit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_per_caller_and_none_when_off() {
        let limiter = DispatchLimiter::new(Some(RateLimit::new(1, 2)));
        let mary = Key::User("mary".into());
        assert!(limiter.check(&mary).is_ok());
        assert!(limiter.check(&mary).is_ok());
        let wait = limiter.check(&mary).expect_err("the burst is spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(&Key::User("tony".into())).is_ok(), "tony has his own");
        assert!(limiter.check(&Key::Anonymous).is_ok());
        let off = DispatchLimiter::new(None);
        assert!((0..10_000).all(|_| off.check(&mary).is_ok()));
    }
}
