//! The extractors the handlers take, each carrying one rule of the service:
//!
//! * [`Caller`]: who is asking, from the `Authorization: Bearer` header — every
//!   route but `/events` and `/events/live`;
//! * [`QueryCaller`]: the same, or else from the `token` query parameter —
//!   `/events` and `/events/live` only (browsers cannot set headers on a WebSocket);
//! * [`Readable`]: the collection `{name}` of the path, which the caller may
//!   read: 401, then 403 ([`Access::may_read`](super::Access::may_read)), then
//!   404 for an unknown collection, in that order;
//! * [`ReadableRow`]: the same, plus the key of the row `{id}`;
//! * [`EventParams`]: `after`, `limit` and `type` of `/events` and `/events/live`
//!   (with [`number`], the reading of a numeric query parameter the
//!   collection routes share).
//!
//! They refuse with an [`ApiError`], except that a path axum cannot decode
//! keeps axum's own answer ([`PathRefusal`]). Handlers take them in the order
//! the checks run: the path before the credentials (`ReadableRow` before
//! `Caller`); on `/events` a bad parameter is a 400 before the token is
//! checked; `/events/live` refuses a request that is not a WebSocket upgrade
//! before anything else.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use flux_capacitor::{CollectionSchema, FieldType, Key};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::Context;

/// The caller of a route that takes credentials from the `Authorization:
/// Bearer` header only; 401 when the [`Authenticator`](super::Authenticator)
/// refuses them.
///
/// The authenticator runs once per request: the first `Caller` is kept in the
/// request's extensions, so a handler taking both a `Caller` and a
/// [`Readable`] (which needs one) authenticates once.
#[derive(Clone)]
pub(crate) struct Caller(pub Context);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = Caller(authenticate(app, &parts.headers, None).await?);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The caller of `/events` and `/events/live`: the bearer header as for
/// [`Caller`], else the `token` query parameter (the last one given).
pub(crate) struct QueryCaller(pub Context);

impl FromRequestParts<AppState> for QueryCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = query(parts)?
            .into_iter()
            .rev()
            .find_map(|(name, value)| (name == "token").then_some(value));
        Ok(QueryCaller(authenticate(app, &parts.headers, token.as_deref()).await?))
    }
}

/// The context of a request, or 401: the authenticator's, with the request id
/// of an `x-request-id` header unless the authenticator set one.
async fn authenticate(app: &AppState, headers: &HeaderMap, query_token: Option<&str>) -> Result<Context, ApiError> {
    let token = bearer(headers, query_token);
    let mut ctx = app.config.authenticator.authenticate(token, headers).await?;
    if ctx.request_id.is_none() {
        ctx.request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    Ok(ctx)
}

/// The bearer token of a request: the `Authorization: Bearer` header, else the
/// `token` query parameter where the route takes one.
fn bearer<'a>(headers: &'a HeaderMap, query_token: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .or(query_token)
}

/// A collection the caller may read: the `{name}` of the path and its schema.
pub(crate) struct Readable {
    pub name: String,
    pub schema: CollectionSchema,
}

#[derive(Deserialize)]
struct CollectionPath {
    name: String,
}

impl FromRequestParts<AppState> for Readable {
    type Rejection = PathRefusal;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, PathRefusal> {
        let Path(CollectionPath { name }) = Path::from_request_parts(parts, app).await?;
        Ok(Readable::check(parts, app, name).await?)
    }
}

impl Readable {
    /// Collection `name` if the caller may read it: 401, 403, then 404.
    async fn check(parts: &mut Parts, app: &AppState, name: String) -> Result<Self, ApiError> {
        let Caller(ctx) = Caller::from_request_parts(parts, app).await?;
        if !app.config.access.may_read(&ctx, &name) {
            return Err(ApiError::Forbidden(format!("may not read collection `{name}`")));
        }
        let mut schema = app.store.schema();
        // A table created since the schema was last read.
        if !schema.collections.contains_key(&name) {
            schema = app.store.refresh_schema().await?;
        }
        match schema.collections.remove(&name) {
            Some(schema) => Ok(Readable { name, schema }),
            None => Err(ApiError::NotFound(format!("unknown collection `{name}`"))),
        }
    }
}

/// A row of a collection the caller may read: the checks of [`Readable`],
/// then the key `{id}` names, as [`Store::parse_key`](crate::Store::parse_key)
/// reads it.
///
/// One rule more than `parse_key`: in a collection whose key is an integer
/// column, an `{id}` that is not an integer names no row, so 404 (rather
/// than a string compared with an integer column).
pub(crate) struct ReadableRow {
    pub name: String,
    /// `{id}` as written in the path.
    pub id: String,
    pub key: Key,
}

#[derive(Deserialize)]
struct RowPath {
    name: String,
    id: String,
}

impl FromRequestParts<AppState> for ReadableRow {
    type Rejection = PathRefusal;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, PathRefusal> {
        let Path(RowPath { name, id }) = Path::from_request_parts(parts, app).await?;
        let Readable { name, schema } = Readable::check(parts, app, name).await?;
        let key = app.store.parse_key(&name, &id);
        if matches!(key, Key::Str(_)) && schema.fields.get(&schema.key) == Some(&FieldType::Integer) {
            return Err(ApiError::NotFound(format!("no row `{id}` in `{name}`")).into());
        }
        Ok(ReadableRow { name, id, key })
    }
}

/// The refusal of [`Readable`] and [`ReadableRow`]: axum's own plain-text 400
/// for a path it cannot decode (percent-encoded bytes that are not UTF-8), as
/// it answered before these extractors took the path; else an [`ApiError`].
pub(crate) enum PathRefusal {
    Path(PathRejection),
    Api(ApiError),
}

impl From<PathRejection> for PathRefusal {
    fn from(rejection: PathRejection) -> Self {
        PathRefusal::Path(rejection)
    }
}

impl From<ApiError> for PathRefusal {
    fn from(error: ApiError) -> Self {
        PathRefusal::Api(error)
    }
}

impl IntoResponse for PathRefusal {
    fn into_response(self) -> Response {
        match self {
            PathRefusal::Path(rejection) => rejection.into_response(),
            PathRefusal::Api(error) => error.into_response(),
        }
    }
}

/// `after`, `limit` and `type`s of `/events` and `/events/live`; 400 for a
/// malformed value or an unknown parameter.
pub(crate) struct EventParams {
    pub after: u64,
    /// At most [`HttpConfig::max_page`](super::HttpConfig::max_page); the
    /// live feed has no pages and ignores it.
    pub limit: u64,
    pub types: Option<Vec<String>>,
    /// Whether `after` was given (the live feed starts at the head without it).
    pub after_given: bool,
}

impl FromRequestParts<AppState> for EventParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let max_page = app.config.max_page;
        let mut out = EventParams {
            after: 0,
            limit: max_page,
            types: None,
            after_given: false,
        };
        for (param, raw) in query(parts)? {
            match param.as_str() {
                "after" => {
                    out.after = number(&param, &raw)?;
                    out.after_given = true;
                }
                "limit" => out.limit = number::<u64>(&param, &raw)?.min(max_page),
                "type" => out.types.get_or_insert_with(Vec::new).push(raw),
                // Read by `QueryCaller`.
                "token" => {}
                other => {
                    return Err(ApiError::bad_request(
                        "unknown_parameter",
                        format!("unknown parameter `{other}` (expected after, limit, type)"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The query string's parameters, in order. (Decoding into strings is lossy,
/// so axum does not refuse a query string here.)
fn query(parts: &Parts) -> Result<Vec<(String, String)>, ApiError> {
    Query::try_from_uri(&parts.uri)
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::bad_request("invalid_parameter", rejection.body_text()))
}

/// Query parameter `name` as a non-negative integer, or 400.
pub(super) fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("`{name}` must be a non-negative integer, not `{value}`"),
        )
    })
}
