//! The extractors the handlers take, each carrying one rule of the service:
//!
//! * [`Caller`]: who is asking, from the `Authorization: Bearer` header — every
//!   route but `/events/live`;
//! * [`QueryCaller`]: the same, or else from the `token` query parameter —
//!   `/events/live` only: browsers cannot set headers on a WebSocket, and
//!   elsewhere a token in the URL would only end up in access logs;
//! * [`Readable`]: the collection `{name}` of the path, which the caller may
//!   read: 401, then 403 ([`Access::may_read`](super::Access::may_read)), then
//!   404 for an unknown collection, in that order;
//! * [`ReadableRow`]: the same, plus the key of the row `{id}`;
//! * [`JsonBody`]: a `Content-Type: application/json` request — dispatch and
//!   restore, so that an HTML form on another site (which can only send form
//!   or text types without a CORS preflight) cannot change anything for a user;
//! * [`EventParams`]: `after`, `limit` and `type` of `/events`, and
//!   [`LiveParams`] those of `/events/live` (with `token`), (with [`number`],
//!   the reading of a numeric query parameter the collection routes share).
//!
//! They refuse with an [`ApiError`], except that a path axum cannot decode
//! keeps axum's own answer ([`PathRefusal`]). Handlers take them in the order
//! the checks run: the path before the credentials (`ReadableRow` before
//! `Caller`); on `/events` a bad parameter is a 400 before the token is
//! checked; `/events/live` refuses a request that is not a WebSocket upgrade
//! before anything else.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, MatchedPath, Path, Query};
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

/// The caller of `/events/live`: the bearer header as for [`Caller`], else
/// the `token` query parameter (the last one given). Only the WebSocket takes
/// a token in its URL, because browsers cannot set its headers; `/events` and
/// every other route refuse it ([`EventParams`]) or ignore it.
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
/// of an `x-request-id` header unless the authenticator set one
/// ([`request_id`]).
async fn authenticate(app: &AppState, headers: &HeaderMap, query_token: Option<&str>) -> Result<Context, ApiError> {
    let token = bearer(headers, query_token);
    let mut ctx = app.config.authenticator.authenticate(token, headers).await?;
    if ctx.request_id.is_none() {
        ctx.request_id = request_id(headers);
    }
    Ok(ctx)
}

/// The longest `x-request-id` taken as it is.
pub(crate) const MAX_REQUEST_ID: usize = 128;

/// The request id of an `x-request-id` header, which goes into the `meta` of
/// every event the request dispatches: kept when it is 1 to
/// [`MAX_REQUEST_ID`] characters of `[A-Za-z0-9._:-]` (UUIDs, ULIDs, trace ids
/// and the like), else replaced by a fresh UUID v7, so the log never holds
/// what a client wrote unchecked (control characters, markup, megabytes);
/// `None` without the header.
fn request_id(headers: &HeaderMap) -> Option<String> {
    let given = headers.get("x-request-id")?;
    let valid = |id: &[u8]| {
        (1..=MAX_REQUEST_ID).contains(&id.len())
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    };
    if valid(given.as_bytes()) {
        // Only ASCII bytes passed.
        given.to_str().ok().map(str::to_owned)
    } else {
        let fresh = uuid::Uuid::now_v7().to_string();
        tracing::debug!(request_id = %fresh, "x-request-id refused (length or characters): replaced");
        Some(fresh)
    }
}

/// The bearer token of a request: the `Authorization` header's, its scheme
/// `Bearer` in any case (RFC 9110: schemes are case-insensitive), else the
/// `token` query parameter where the route takes one.
fn bearer<'a>(headers: &'a HeaderMap, query_token: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim_start().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .or(query_token)
}

/// A request whose `Content-Type` is `application/json` (any case, with
/// parameters such as `; charset=utf-8`); else 415. The routes that change
/// something take it (`POST /dispatch/{command}`, and `POST
/// /collections/{name}/{id}/restore` although it takes no body): browsers
/// send a cross-site form (`application/x-www-form-urlencoded`,
/// `multipart/form-data`, `text/plain`) without asking the server first, but
/// not `application/json`, so requiring it means a page on another site
/// cannot dispatch or restore with a visitor's cookies or through an
/// anonymous authenticator.
pub(crate) struct JsonBody;

impl FromRequestParts<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _app: &AppState) -> Result<Self, ApiError> {
        // The route's pattern (never what the client wrote in the path).
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("this route", MatchedPath::as_str);
        let given = parts.headers.get(axum::http::header::CONTENT_TYPE);
        let media_type = given
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim());
        match media_type {
            Some(media_type) if media_type.eq_ignore_ascii_case("application/json") => Ok(JsonBody),
            Some(media_type) => Err(ApiError::UnsupportedMediaType(format!(
                "`POST {route}` takes `Content-Type: application/json`, not `{media_type}`"
            ))),
            None => Err(ApiError::UnsupportedMediaType(format!(
                "`POST {route}` takes `Content-Type: application/json` (no content type given)"
            ))),
        }
    }
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
    /// Absent on the routes of the row whose key is "" (`/collections/{name}/`).
    #[serde(default)]
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

/// `after`, `limit` and `type`s of `/events`; 400 for a malformed value or an
/// unknown parameter, `token` included: tokens go in the `Authorization`
/// header, except on the WebSocket ([`LiveParams`]).
pub(crate) struct EventParams {
    pub after: u64,
    /// At most [`HttpConfig::max_page`](super::HttpConfig::max_page); the
    /// live feed has no pages and ignores it.
    pub limit: u64,
    pub types: Option<Vec<String>>,
    /// Whether `after` was given (the live feed starts at the head without it).
    pub after_given: bool,
}

/// The parameters of `/events/live`: those of [`EventParams`], and `token`
/// (read by [`QueryCaller`]).
pub(crate) struct LiveParams(pub EventParams);

impl FromRequestParts<AppState> for EventParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        EventParams::parse(parts, app, false)
    }
}

impl FromRequestParts<AppState> for LiveParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        EventParams::parse(parts, app, true).map(LiveParams)
    }
}

impl EventParams {
    /// The parameters; `token` is one only on the WebSocket (`live`).
    fn parse(parts: &Parts, app: &AppState, live: bool) -> Result<Self, ApiError> {
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
                "token" if live => {}
                "token" => {
                    return Err(ApiError::bad_request(
                        "unknown_parameter",
                        "`token` is accepted in the query of `/events/live` (the WebSocket) only: \
                         send `Authorization: Bearer <token>`",
                    ));
                }
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

#[cfg(test)]
mod tests {
    use super::{MAX_REQUEST_ID, bearer, request_id};
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(name: &'static str, value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t", "bearer t", "BEARER t", "bEaReR   t  "] {
            assert_eq!(
                bearer(&headers("authorization", value.as_bytes()), None),
                Some("t"),
                "{value}"
            );
        }
        for value in ["Basic t", "Bearert", "Bearer", "Token t"] {
            assert_eq!(
                bearer(&headers("authorization", value.as_bytes()), None),
                None,
                "{value}"
            );
        }
        assert_eq!(bearer(&headers("authorization", b"Basic t"), Some("q")), Some("q"));
    }

    #[test]
    fn request_ids_are_kept_when_valid_else_replaced() {
        assert_eq!(request_id(&HeaderMap::new()), None);
        let long = "a".repeat(MAX_REQUEST_ID);
        for kept in [
            "req-1",
            "0190b7e2-5c3a-7d1e-8f00-1234567890ab",
            "trace:span.1_x",
            long.as_str(),
        ] {
            assert_eq!(
                request_id(&headers("x-request-id", kept.as_bytes())).as_deref(),
                Some(kept)
            );
        }
        let too_long = "a".repeat(MAX_REQUEST_ID + 1);
        for refused in [
            too_long.as_bytes(),
            b"",
            b"a b",
            b"<script>",
            b"id\tx",
            b"caf\xc3\xa9",
            b"a/b",
            b"a\"b",
        ] {
            let replaced = request_id(&headers("x-request-id", refused)).unwrap();
            let uuid = uuid::Uuid::parse_str(&replaced).unwrap();
            assert_eq!(uuid.get_version_num(), 7, "{replaced}");
        }
    }
}
