//! Who is asking ([`Authenticator`]) and what they may do ([`Access`]).

use std::collections::HashMap;

use async_trait::async_trait;
use axum::http::HeaderMap;
use flux_capacitor::{Event, StoredEvent};

use super::ApiError;
use crate::{Context, Store};

/// Turns a request's credentials into the [`Context`] its dispatches carry
/// (the store writes its user into the events' `meta`: [`Context::stamp`]).
///
/// `token` is the bearer token of the `Authorization: Bearer ...` header or,
/// on `/events` and `/events/live` (browsers cannot set headers on a
/// WebSocket), the `token` query parameter. Return [`ApiError::Unauthorized`]
/// to refuse the request.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The context of a request.
    async fn authenticate(&self, token: Option<&str>, headers: &HeaderMap) -> Result<Context, ApiError>;
}

/// Lets every request in, anonymously (an empty [`Context`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

#[async_trait]
impl Authenticator for Anonymous {
    async fn authenticate(&self, _token: Option<&str>, _headers: &HeaderMap) -> Result<Context, ApiError> {
        Ok(Context::default())
    }
}

/// A fixed table of bearer tokens and their users; anything else is 401.
#[derive(Debug, Clone, Default)]
pub struct BearerTokens {
    users: HashMap<String, String>,
}

impl BearerTokens {
    /// Tokens mapped to user names.
    pub fn new<T: Into<String>, U: Into<String>>(tokens: impl IntoIterator<Item = (T, U)>) -> Self {
        BearerTokens {
            users: tokens.into_iter().map(|(t, u)| (t.into(), u.into())).collect(),
        }
    }
}

#[async_trait]
impl Authenticator for BearerTokens {
    async fn authenticate(&self, token: Option<&str>, _headers: &HeaderMap) -> Result<Context, ApiError> {
        let token = token.ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
        let user = self
            .users
            .get(token)
            .ok_or_else(|| ApiError::Unauthorized("unknown bearer token".into()))?;
        Ok(Context::user(user.clone()))
    }
}

/// What an authenticated user may do. Every method defaults to allowing;
/// override the ones your app restricts.
///
/// * [`may_command`](Access::may_command): checked before the command handler runs;
/// * [`may_dispatch`](Access::may_dispatch): checked for every event a command
///   produced, before anything is written (a refusal writes nothing);
/// * [`authorize_event`](Access::authorize_event): then, for each of those
///   events, a check that may look at its payload and read the store
///   (authorization by event: "only a note's author edits it");
/// * [`may_read`](Access::may_read): `GET /collections/{name}[/{id}]`;
/// * [`may_receive`](Access::may_receive): every event of `GET /events` and of
///   the WebSocket feed; events a user may not receive are left out (the
///   feed stays in `seq` order, with gaps where events were withheld).
///
/// The restore route (`POST /collections/{name}/{id}/restore`) goes through
/// the same two checks as a dispatch, with its [`RESTORE_EVENT`](flux_capacitor::RESTORE_EVENT)
/// (payload `{ "collection", "key", "row" }`, `row` the state it brings back).
///
/// Access is the HTTP service's policy: code that calls the [`Store`]
/// directly (a CLI, a job) is trusted and not checked.
///
/// ```
/// use async_trait::async_trait;
/// use flux_capacitor::Event;
/// use flux_capacitor_server::http::{Access, ApiError};
/// use flux_capacitor_server::{Context, Store};
///
/// /// Only a document's owner changes it; everyone reads everything.
/// struct OwnersOnly;
///
/// #[async_trait]
/// impl Access for OwnersOnly {
///     async fn authorize_event(&self, ctx: &Context, event: &Event, store: &Store) -> Result<(), ApiError> {
///         if event.event_type != "editDoc" {
///             return Ok(());
///         }
///         let id = event.payload["id"].as_str().unwrap_or_default();
///         let doc = store.find_by_id("docs", id).await?;
///         let owner = doc.and_then(|doc| doc.get("owner")?.as_str().map(str::to_owned));
///         match owner {
///             Some(owner) if ctx.user.as_deref() != Some(owner.as_str()) => {
///                 Err(ApiError::Forbidden(format!("only {owner} may edit doc `{id}`")))
///             }
///             _ => Ok(()),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait Access: Send + Sync + 'static {
    /// May `ctx` run command `command`?
    fn may_command(&self, _ctx: &Context, _command: &str) -> bool {
        true
    }
    /// May `ctx` dispatch an event of type `event_type`?
    fn may_dispatch(&self, _ctx: &Context, _event_type: &str) -> bool {
        true
    }
    /// May `ctx` dispatch `event`, given what `store` holds now? Runs after
    /// [`may_dispatch`](Access::may_dispatch) allowed its type, for every
    /// event of the dispatch in order, before anything is written. Return
    /// [`ApiError::Forbidden`] with a message saying why to refuse (403,
    /// nothing written); a failed read (`?` on a [`StoreError`](crate::StoreError))
    /// is answered as the store's error.
    ///
    /// The check reads before the write transaction, as a command handler
    /// does: it is exact for facts that do not change under it (who created
    /// a row, when the row's key is never reused), while a rule on state
    /// that concurrent dispatches change also needs a database constraint
    /// or a reducer to back it.
    async fn authorize_event(&self, _ctx: &Context, _event: &Event, _store: &Store) -> Result<(), ApiError> {
        Ok(())
    }
    /// May `ctx` read collection `collection`?
    fn may_read(&self, _ctx: &Context, _collection: &str) -> bool {
        true
    }
    /// May `ctx` receive `event`?
    fn may_receive(&self, _ctx: &Context, _event: &StoredEvent) -> bool {
        true
    }
}

/// Allows everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Access for AllowAll {}
