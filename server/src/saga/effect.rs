//! [`Effect`]: a side effect outside the database, run at least once.

use std::future::Future;

use async_trait::async_trait;
use serde_json::Value;

/// Why an effect's attempt failed (its text is kept with the outbox row,
/// for operators; the HTTP service does not show it).
pub type EffectError = Box<dyn std::error::Error + Send + Sync>;

/// A side effect (an HTTP call, an e-mail), registered by name with
/// [`StoreBuilder::effect`](crate::StoreBuilder::effect). It may run more
/// than once for one request (after a crash, or a lease taken over), always
/// with the same `key`: pass it on as an idempotency key where the other
/// side takes one. Its output comes back as an event `<name>/done`.
#[async_trait]
pub trait Effect: Send + Sync + 'static {
    /// Runs once; `Err` is retried with back-off.
    async fn run(&self, key: &str, input: Value) -> Result<Value, EffectError>;
}

/// An effect from an async function of owned arguments:
/// `effect_fn(|key, input| async move { ... })`.
pub fn effect_fn<F, Fut>(f: F) -> impl Effect
where
    F: Fn(String, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, EffectError>> + Send + 'static,
{
    FnEffect(f)
}

struct FnEffect<F>(F);

#[async_trait]
impl<F, Fut> Effect for FnEffect<F>
where
    F: Fn(String, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, EffectError>> + Send + 'static,
{
    async fn run(&self, key: &str, input: Value) -> Result<Value, EffectError> {
        (self.0)(key.to_owned(), input).await
    }
}
