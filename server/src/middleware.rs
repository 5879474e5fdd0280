//! Middleware around dispatch, in the spirit of Redux middleware, and the
//! [`Context`] a dispatch carries.

use std::sync::Arc;

use async_trait::async_trait;
use flux_capacitor::{Event, StoredEvent};
use serde_json::{Map, Value};

use crate::{Store, StoreError};

/// The `meta` field of the request id ([`Context::request_id`]).
pub(crate) const REQUEST_ID: &str = "request_id";

/// The `meta` field the HTTP service writes into the first event of a
/// command dispatched with an `id`: a fingerprint of the request (see
/// `http::routes`). Like [`REQUEST_ID`], a resend's events are compared
/// with the committed ones without it.
pub(crate) const REQUEST_HASH: &str = "request_hash";

/// Calls `write` on `event.meta` as an object: made one (empty) if it is
/// none or not an object.
pub(crate) fn write_meta(event: &mut Event, write: impl FnOnce(&mut Map<String, Value>)) {
    let mut meta = match event.meta.take() {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    write(&mut meta);
    event.meta = Some(Value::Object(meta));
}

/// Who dispatches and why: passed to middleware and command handlers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The acting user, if known.
    pub user: Option<String>,
    /// The request id, if any.
    pub request_id: Option<String>,
    /// Anything else (tenant, roles...).
    pub attributes: Map<String, Value>,
}

impl Context {
    /// Writes `user` and `request_id`, when set, into `event.meta` (made an
    /// object if it is not one). The store does this for every dispatch
    /// before the middleware runs, so the log says who did what.
    pub fn stamp(&self, event: &mut Event) {
        if self.user.is_none() && self.request_id.is_none() {
            return;
        }
        write_meta(event, |meta| {
            for (name, value) in [("user", &self.user), (REQUEST_ID, &self.request_id)] {
                if let Some(value) = value {
                    meta.insert(name.into(), Value::String(value.clone()));
                }
            }
        });
    }

    /// A context for `user`.
    pub fn user(user: impl Into<String>) -> Self {
        Context {
            user: Some(user.into()),
            ..Context::default()
        }
    }
}

/// Middleware wraps every dispatch: it receives the events and calls
/// [`Next::run`] to go on (to the next middleware, and finally the writer),
/// or returns an error to reject the dispatch — then nothing is written. It
/// can enrich the events (`meta`), validate, authorize by event type, log or
/// time the dispatch. Middleware runs in the order it was added.
///
/// ```
/// use async_trait::async_trait;
/// use flux_capacitor::{Event, StoredEvent};
/// use flux_capacitor_server::{Context, Middleware, Next, StoreError};
/// use serde_json::json;
///
/// /// Adds the acting user to every event's meta.
/// struct Stamp;
///
/// #[async_trait]
/// impl Middleware for Stamp {
///     async fn dispatch(&self, mut events: Vec<Event>, ctx: &Context, next: Next<'_>)
///         -> Result<Vec<StoredEvent>, StoreError> {
///         for event in &mut events {
///             event.meta = Some(json!({ "user": ctx.user }));
///         }
///         next.run(events, ctx).await
///     }
/// }
/// ```
#[async_trait]
pub trait Middleware: Send + Sync + 'static {
    /// Handles a dispatch of `events`; call `next.run(events, ctx)` to go on.
    async fn dispatch(&self, events: Vec<Event>, ctx: &Context, next: Next<'_>)
    -> Result<Vec<StoredEvent>, StoreError>;
}

/// The rest of the middleware chain, ending in the store's writer.
pub struct Next<'a> {
    pub(crate) store: &'a Store,
    pub(crate) chain: &'a [Arc<dyn Middleware>],
}

impl Next<'_> {
    /// Passes `events` on; returns the stored events once committed.
    pub async fn run(self, events: Vec<Event>, ctx: &Context) -> Result<Vec<StoredEvent>, StoreError> {
        match self.chain.split_first() {
            Some((first, rest)) => {
                let next = Next {
                    store: self.store,
                    chain: rest,
                };
                first.dispatch(events, ctx, next).await
            }
            None => self.store.write(events).await,
        }
    }

    /// The store being dispatched to (e.g. to read the read model).
    pub fn store(&self) -> &Store {
        self.store
    }
}
