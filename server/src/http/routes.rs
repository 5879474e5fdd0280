//! The request/response routes: dispatch, collections, events.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use flux_capacitor::{Event, FieldType, Filter, Row, StoredEvent};
use serde_json::Value;
use uuid::Uuid;

use super::extract::{Caller, EventParams, JsonBody, Readable, ReadableRow, number};
use super::rate::DispatchPermit;
use super::{ApiError, AppState};
use crate::middleware::{REQUEST_HASH, write_meta};
use crate::{Change, Context, Direction, EventQuery, FindOptions, Point, StoreError};
use sha2::{Digest, Sha256};

/// `POST /dispatch/{command}[?id=<uuid>]`: credentials (401), the caller's
/// rate (429), then the content type (415 unless `application/json`), then
/// the body. With `id`, the command's events carry client-chosen ids
/// ([`event_ids`]) and a resend is answered from the log ([`resent`]).
pub(crate) async fn dispatch(
    State(app): State<AppState>,
    Path(command): Path<String>,
    Caller(ctx): Caller,
    _rate: DispatchPermit,
    _json: JsonBody,
    query: Result<Query<DispatchParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let id = client_event_id(query)?;
    let body = body.map_err(|rejection| body_error(&app, rejection))?;
    let payload: Value = if body.is_empty() {
        Value::Null
    } else {
        parse_body(&body)?
    };
    if !app.config.access.may_command(&ctx, &command) {
        return Err(ApiError::Forbidden(format!("may not run command `{command}`")));
    }
    let request = id.map(|id| Resendable {
        id,
        hash: request_hash(&command, &payload),
    });
    let checked = async {
        let events = app.store.command_events(&command, payload, &ctx).await?;
        let events = event_ids(events, request.as_ref())?;
        authorize(&app, &ctx, &events).await?;
        Ok::<_, ApiError>(events)
    };
    let events = match (checked.await, request) {
        (Ok(events), _) => events,
        (Err(refusal), Some(request)) => return resent(&app, &ctx, &request).await?.map(Json).ok_or(refusal),
        (Err(refusal), None) => return Err(refusal),
    };
    tracing::info!(
        command,
        user = ctx.user.as_deref(),
        events = events.len(),
        ?id,
        "dispatch"
    );
    Ok(Json(app.store.dispatch_all_with(events, &ctx).await?))
}

/// A dispatch's JSON body: 400 `invalid_json` unless it parses, 422
/// `unsupported_value` if it holds an integer literal beyond the 64-bit
/// integers that a double would round (the parser would round it silently;
/// [`flux_capacitor::domain`] refuses every such literal).
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))?;
    // Valid JSON is UTF-8.
    let text = std::str::from_utf8(body).unwrap_or_default();
    if let Some((at, literal)) = flux_capacitor::domain::inexact_big_integer(text) {
        return Err(ApiError::Unprocessable {
            code: "unsupported_value",
            message: format!(
                "the body's number `{literal}` (byte {at}): {}",
                flux_capacitor::domain::rule::INEXACT_NUMBER
            ),
        });
    }
    Ok(value)
}

/// The query of `POST /dispatch/{command}` and of a restore.
#[derive(serde::Deserialize)]
pub(crate) struct DispatchParams {
    /// The client-chosen id of the command's (first) event, or of the
    /// restore's.
    id: Option<String>,
}

/// The client-chosen event id of a write's query (`?id=<uuid>`), if any.
fn client_event_id(query: Result<Query<DispatchParams>, QueryRejection>) -> Result<Option<Uuid>, ApiError> {
    match query {
        Ok(Query(params)) => params.id.as_deref().map(parse_event_id).transpose(),
        Err(rejection) => Err(ApiError::bad_request("invalid_query", rejection.body_text())),
    }
}

/// Most events a command dispatched with an `id` may give.
pub(crate) const MAX_COMMAND_EVENTS: usize = 256;

fn parse_event_id(text: &str) -> Result<Uuid, ApiError> {
    match Uuid::try_parse(text) {
        Ok(id) if !id.is_nil() => Ok(id),
        Ok(_) => Err(ApiError::bad_request("invalid_event", "`id` must not be the nil UUID")),
        Err(e) => Err(ApiError::bad_request(
            "invalid_event",
            format!("`id` must be a UUID, got `{text}` ({e})"),
        )),
    }
}

/// The id of event `index` of a command dispatched with `id`: `id` itself
/// for the first, then `id` with its last bits exclusive-ored with `index`
/// (random bits in a version 4 or 7 UUID: the result is as unlikely to meet
/// another id as `id`, and the same on every resend).
pub(crate) fn command_event_id(id: Uuid, index: usize) -> Uuid {
    Uuid::from_u128(id.as_u128() ^ index as u128)
}

/// A dispatch with a client-chosen `id`: the id, and the request's
/// fingerprint ([`request_hash`]).
struct Resendable {
    id: Uuid,
    hash: String,
}

/// The fingerprint of a request, written into its first event's
/// `meta.request_hash`: SHA-256 (first 128 bits, hex) of the canonical JSON
/// of `[command, body]` — the same for a resend however its body is spaced,
/// its keys ordered or its numbers written (`3.0` is `3`). A resend the
/// command or the access rules now refuse is answered from the log only when
/// its fingerprint is the committed one ([`resent`]).
fn request_hash(command: &str, payload: &Value) -> String {
    let canonical = flux_capacitor::hash::canonical_json(&serde_json::json!([command, payload]));
    let digest = Sha256::digest(canonical.as_bytes());
    let mut first = [0; 16];
    first.copy_from_slice(&digest[..16]);
    format!("{:032x}", u128::from_be_bytes(first))
}

/// The command's events with their ids ([`command_event_id`]) when the
/// request gave one, its first event with the request's fingerprint in
/// `meta.request_hash`.
fn event_ids(mut events: Vec<Event>, request: Option<&Resendable>) -> Result<Vec<Event>, ApiError> {
    let Some(Resendable { id, hash }) = request else {
        return Ok(events);
    };
    let id = *id;
    if events.len() > MAX_COMMAND_EVENTS {
        return Err(ApiError::bad_request(
            "invalid_event",
            format!(
                "a command dispatched with an `id` may give at most {MAX_COMMAND_EVENTS} events, this one gave {}",
                events.len()
            ),
        ));
    }
    for (index, event) in events.iter_mut().enumerate() {
        event.id = Some(command_event_id(id, index));
    }
    if let Some(first) = events.first_mut() {
        write_meta(first, |meta| {
            meta.insert(REQUEST_HASH.into(), Value::String(hash.clone()));
        });
    }
    Ok(events)
}

/// The events `request.id` committed, as stored, when it is a resend of
/// the request that committed them: the same user and the same
/// `meta.request_hash` ([`request_hash`]: the same command and body);
/// `id_conflict` (409) when the id committed something else; `None` when
/// `request.id` is not in the log.
async fn resent(app: &AppState, ctx: &Context, request: &Resendable) -> Result<Option<Vec<StoredEvent>>, ApiError> {
    let id = request.id;
    let ids: Vec<Uuid> = (0..MAX_COMMAND_EVENTS).map(|i| command_event_id(id, i)).collect();
    let found = app.store.events_by_id(&ids).await?;
    let Some(first) = found.iter().find(|e| e.id == id) else {
        return Ok(None);
    };
    let meta = |field: &str| first.meta.as_ref().and_then(|m| m.get(field)).and_then(Value::as_str);
    let conflict = if meta("user") != ctx.user.as_deref() {
        Some("committed by another user")
    } else if meta(REQUEST_HASH) != Some(request.hash.as_str()) {
        // Events committed before the store kept fingerprints, or through
        // the `Store` API, have none: never taken for this request.
        Some("committed for another request (another command or body), which the command now refuses")
    } else {
        None
    };
    if let Some(reason) = conflict {
        return Err(StoreError::IdConflict {
            index: 0,
            id,
            seq: first.seq,
            reason: reason.into(),
        }
        .into());
    }
    // The dispatch's events: consecutive from the first, each with its id.
    let events = found
        .iter()
        .filter(|e| e.seq >= first.seq)
        .zip(0..)
        .take_while(|(e, i)| e.seq == first.seq + *i as u64 && e.id == command_event_id(id, *i))
        .map(|(e, _)| e.clone())
        .collect();
    tracing::info!(%id, seq = first.seq, "resend answered from the log");
    Ok(Some(events))
}

/// A body that could not be read: 413 over the limit, else 400.
fn body_error(app: &AppState, rejection: BytesRejection) -> ApiError {
    match rejection {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge {
            limit: app.config.body_limit,
        },
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// The [`Access`](super::Access) checks of events about to be dispatched:
/// every event's type ([`may_dispatch`](super::Access::may_dispatch)), then
/// every event itself ([`authorize_event`](super::Access::authorize_event)),
/// in order; the first refusal is the answer and nothing is written.
async fn authorize(app: &AppState, ctx: &Context, events: &[Event]) -> Result<(), ApiError> {
    let access = &app.config.access;
    for event in events {
        may_dispatch(app, ctx, &event.event_type)?;
    }
    for event in events {
        access.authorize_event(ctx, event, &app.store).await?;
    }
    Ok(())
}

/// [`Access::may_dispatch`](super::Access::may_dispatch) of `event_type`, or 403.
fn may_dispatch(app: &AppState, ctx: &Context, event_type: &str) -> Result<(), ApiError> {
    if app.config.access.may_dispatch(ctx, event_type) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "may not dispatch events of type `{event_type}`"
        )))
    }
}

/// A query-string value as the JSON value of a column of type `ty`, as
/// Rust's `FromStr` reads it: an `integer` is an optional sign and decimal
/// digits (`05` and `+5` are 5), a `real` any float Rust reads that is
/// finite (`-0` is 0, `1e3`, `.5`; not `inf` or `NaN`), a `boolean` exactly
/// `true` or `false` (`1` is refused), `text` the value as it is; else 400
/// `invalid_parameter`.
fn typed(collection: &str, field: &str, ty: FieldType, raw: &str) -> Result<Value, ApiError> {
    let value = match ty {
        FieldType::Text => Some(Value::String(raw.to_owned())),
        FieldType::Integer => raw.parse::<i64>().ok().map(Value::from),
        FieldType::Real => raw
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        FieldType::Boolean => raw.parse::<bool>().ok().map(Value::Bool),
        FieldType::Json => None,
    };
    value.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            format!(
                "`{raw}` is not a {} value for field `{field}` of `{collection}`",
                ty.name()
            ),
        )
    })
}

/// `GET /collections/{name}`.
pub(crate) async fn find_all(
    State(app): State<AppState>,
    Readable { name, schema }: Readable,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<Row>>, ApiError> {
    let mut options = FindOptions {
        limit: Some(app.config.max_page),
        ..FindOptions::default()
    };
    let mut filters = Vec::new();
    let mut as_of = None;
    for (param, raw) in &params {
        match param.as_str() {
            "as_of" => as_of = Some(Point::from(raw.as_str())),
            "limit" => options.limit = Some(number::<u64>(param, raw)?.min(app.config.max_page)),
            "offset" => options.offset = number(param, raw)?,
            "order" => {
                for field in raw.split(',').filter(|f| !f.is_empty()) {
                    let (field, direction) = match field.strip_prefix('-') {
                        Some(field) => (field, Direction::Desc),
                        None => (field, Direction::Asc),
                    };
                    options.order.push((field.to_owned(), direction));
                }
            }
            field => {
                // An unknown or `json` field is left to the store's one
                // validation of a read, so its error is the same on every path.
                let value = match schema.fields.get(field) {
                    Some(&ty) if ty != FieldType::Json => typed(&name, field, ty, raw)?,
                    _ => Value::String(raw.clone()),
                };
                filters.push(Filter::eq(field, value));
            }
        }
    }
    if !filters.is_empty() {
        options.filter = Some(Filter::and(filters));
    }
    match as_of {
        Some(point) => Ok(Json(app.store.as_of(point).await?.find_all(&name, &options).await?)),
        None => Ok(Json(app.store.find_all(&name, options).await?)),
    }
}

/// `GET /collections/{name}/{id}`.
pub(crate) async fn find_by_id(
    State(app): State<AppState>,
    ReadableRow { name, id, key }: ReadableRow,
) -> Result<Json<Row>, ApiError> {
    app.store
        .find_by_id(&name, key)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no row `{id}` in `{name}`")))
}

/// `GET /collections/{name}/{id}/history`.
pub(crate) async fn history(
    State(app): State<AppState>,
    ReadableRow { name, key, .. }: ReadableRow,
    Caller(ctx): Caller,
) -> Result<Json<Vec<Change>>, ApiError> {
    let mut changes = app.store.history(&name, key).await?;
    changes.retain(|c| app.config.access.may_receive(&ctx, &c.event));
    Ok(Json(changes))
}

/// `POST /collections/{name}/{id}/restore[?id=<uuid>]`: the row's checks
/// (401, 403, 404), then the content type (415 unless `application/json`,
/// like dispatch: a cross-site form cannot send it), then the body (none,
/// or `{}`), then [`Access`](super::Access) on the `flux/restore` event.
/// With `id` the event carries it, and a resend of the same restore (same
/// user, collection and key) is answered from the log, as a dispatch's.
pub(crate) async fn restore(
    State(app): State<AppState>,
    ReadableRow { name, id, key }: ReadableRow,
    Caller(ctx): Caller,
    _json: JsonBody,
    query: Result<Query<DispatchParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StoredEvent>, ApiError> {
    let event_id = client_event_id(query)?;
    let body = body.map_err(|rejection| body_error(&app, rejection))?;
    let empty = body.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()));
    if !empty {
        return Err(ApiError::bad_request(
            "invalid_body",
            "restore takes no body (or `{}`): the row comes back as it was",
        ));
    }
    may_dispatch(&app, &ctx, flux_capacitor::RESTORE_EVENT)?;
    let request = event_id.map(|id| Resendable {
        id,
        hash: request_hash(
            flux_capacitor::RESTORE_EVENT,
            &serde_json::json!({ "collection": name, "key": key }),
        ),
    });
    // A resend is answered from the log before the row is looked at: by
    // then the row exists (409), or was destroyed again and would come back
    // twice.
    if let Some(request) = &request
        && let Some(mut events) = resent(&app, &ctx, request).await?
    {
        return events.pop().map(Json).ok_or(ApiError::Store(StoreError::Closed));
    }
    let event = app.store.restore_event(&name, key).await?;
    let events = event_ids(vec![event], request.as_ref())?;
    authorize(&app, &ctx, &events).await?;
    tracing::info!(collection = name, id, user = ctx.user.as_deref(), event_id = ?event_id, "restore");
    let mut stored = app.store.dispatch_all_with(events, &ctx).await?;
    stored.pop().map(Json).ok_or(ApiError::Store(StoreError::Closed))
}

/// The response header of `GET /events` naming the `after` of the next
/// page (`Flux-Next-After: 1234`), present when the answer may not have
/// reached the log's end: on a full page (`limit` events), and on a page
/// cut short after reading [`HttpConfig::max_events_scanned`](super::HttpConfig::max_events_scanned)
/// events of the log, most of them withheld by
/// [`Access::may_receive`](super::Access::may_receive). A page without it
/// ends the log as it was when read. Exposed to cross-origin pages.
pub const NEXT_AFTER: &str = "flux-next-after";

/// `GET /events`: pages through the log until `limit` events the caller may
/// receive are found, the log ends, or [`HttpConfig::max_events_scanned`](super::HttpConfig::max_events_scanned)
/// events were read; [`NEXT_AFTER`] says where the next page starts.
pub(crate) async fn events(
    State(app): State<AppState>,
    params: EventParams,
    Caller(ctx): Caller,
) -> Result<Response, ApiError> {
    let (events, next) = visible_events(&app, &ctx, params).await?;
    let mut response = Json(events).into_response();
    if let Some(seq) = next {
        response
            .headers_mut()
            .insert(HeaderName::from_static(NEXT_AFTER), HeaderValue::from(seq));
    }
    Ok(response)
}

/// The page of `GET /events`, and the `after` of the next one unless the
/// log ended.
async fn visible_events(
    app: &AppState,
    ctx: &Context,
    params: EventParams,
) -> Result<(Vec<StoredEvent>, Option<u64>), ApiError> {
    let limit = params.limit;
    let mut out = Vec::new();
    let mut after = params.after;
    let mut scanned = 0u64;
    // The first read asks for `limit`, enough when every event is visible;
    // the later ones (events were withheld) for a full page, or a caller
    // asking for one event at a time would cost a query per event.
    let mut read = limit;
    // Reading a page of `limit` is never cut short.
    let max_scanned = app.config.max_events_scanned.max(limit);
    while (out.len() as u64) < limit {
        let budget = max_scanned.saturating_sub(scanned);
        if budget == 0 {
            return Ok((out, Some(after)));
        }
        let asked = read.min(budget);
        let page = app
            .store
            .events(EventQuery {
                after_seq: after,
                limit: asked,
                types: params.types.clone(),
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        scanned += page.len() as u64;
        let full = page.len() as u64 == asked;
        out.extend(page.into_iter().filter(|e| app.config.access.may_receive(ctx, e)));
        if !full {
            break;
        }
        read = app.config.max_page.max(limit);
    }
    if limit > 0 && out.len() as u64 >= limit {
        out.truncate(limit as usize);
        let last = out.last().map(|e| e.seq);
        return Ok((out, last));
    }
    Ok((out, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_s_events_get_distinct_ids_the_same_on_every_resend() {
        let id = Uuid::now_v7();
        let request = Resendable {
            id,
            hash: request_hash("add", &Value::Null),
        };
        let events = |n: usize| vec![Event::new("e", Value::Null); n];
        let ids = |events: Vec<Event>| events.into_iter().map(|e| e.id.unwrap()).collect::<Vec<_>>();
        let first = ids(event_ids(events(MAX_COMMAND_EVENTS), Some(&request)).unwrap());
        assert_eq!(first[0], id);
        assert_eq!(
            first.iter().collect::<std::collections::HashSet<_>>().len(),
            MAX_COMMAND_EVENTS
        );
        assert!(
            first
                .iter()
                .all(|i| i.get_version() == id.get_version() && i.get_variant() == id.get_variant())
        );
        assert_eq!(
            ids(event_ids(events(MAX_COMMAND_EVENTS), Some(&request)).unwrap()),
            first
        );
        assert!(event_ids(events(MAX_COMMAND_EVENTS + 1), Some(&request)).is_err());
        assert!(event_ids(events(3), None).unwrap().iter().all(|e| e.id.is_none()));
    }

    #[test]
    fn the_first_event_carries_the_request_s_fingerprint() {
        let request = Resendable {
            id: Uuid::now_v7(),
            hash: request_hash("add", &Value::Null),
        };
        let events = vec![
            Event::new("e", Value::Null).with_meta(serde_json::json!({ "kept": 1 })),
            Event::new("e", Value::Null),
        ];
        let events = event_ids(events, Some(&request)).unwrap();
        assert_eq!(
            events[0].meta,
            Some(serde_json::json!({ "kept": 1, REQUEST_HASH: request.hash }))
        );
        assert_eq!(events[1].meta, None);
    }

    #[test]
    fn a_request_s_fingerprint_is_of_its_meaning_not_its_spelling() {
        let hash = |command: &str, body: &str| request_hash(command, &serde_json::from_str(body).unwrap());
        let first = hash("addNote", r#"{"id":"n1","n":3,"tags":["a"]}"#);
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(hash("addNote", r#"{ "tags": ["a"], "n": 3.0, "id": "n1" }"#), first);
        for (command, body) in [
            ("editNote", r#"{"id":"n1","n":3,"tags":["a"]}"#),
            ("addNote", r#"{"id":"n1","n":4,"tags":["a"]}"#),
            ("addNote", r#"{"id":"n1","n":3,"tags":["a"],"x":null}"#),
            ("addNote", r#"{"id":"n1","n":3,"tags":["a","a"]}"#),
            ("addNote", "null"),
        ] {
            assert_ne!(hash(command, body), first, "{command} {body}");
        }
    }
}
