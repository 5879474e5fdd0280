//! Command handlers: `command + payload + context -> events`.

use std::future::Future;

use async_trait::async_trait;
use flux_capacitor::Event;
use serde_json::Value;

use crate::{Context, Store, StoreError};

/// Turns a command into the events to dispatch. Handlers are async and may
/// read the read model (through the [`Store`] or its pool) to check business
/// rules first; returning an error (e.g. [`StoreError::rejected`]) dispatches
/// nothing. The returned events are dispatched together, in one transaction,
/// through the middleware.
///
/// The check runs before the write transaction: a rule that must hold under
/// concurrent commands also needs a database constraint (or a reducer
/// rejection) to back it.
#[async_trait]
pub trait CommandHandler: Send + Sync + 'static {
    /// The events `payload` stands for.
    async fn handle(&self, store: &Store, payload: Value, ctx: &Context) -> Result<Vec<Event>, StoreError>;
}

/// A command handler from an async function of owned arguments:
/// `command_fn(|store, payload, ctx| async move { ... })`.
pub fn command_fn<F, Fut>(f: F) -> impl CommandHandler
where
    F: Fn(Store, Value, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Event>, StoreError>> + Send + 'static,
{
    FnCommand(f)
}

struct FnCommand<F>(F);

#[async_trait]
impl<F, Fut> CommandHandler for FnCommand<F>
where
    F: Fn(Store, Value, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Event>, StoreError>> + Send + 'static,
{
    async fn handle(&self, store: &Store, payload: Value, ctx: &Context) -> Result<Vec<Event>, StoreError> {
        (self.0)(store.clone(), payload, ctx.clone()).await
    }
}
