//! The request/response routes: dispatch, collections, events.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use flux_capacitor::{CollectionSchema, FieldType, Filter, Key, Row, StoredEvent};
use serde_json::Value;

use super::{ApiError, AppState};
use crate::{Change, Context, Direction, EventQuery, FindOptions, Point};

type Params = Query<Vec<(String, String)>>;

/// `POST /dispatch/{command}`.
pub(crate) async fn dispatch(
    State(app): State<AppState>,
    Path(command): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let ctx = app.context(&headers, None).await?;
    let body = body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge {
            limit: app.config.body_limit,
        },
        other => ApiError::bad_request("invalid_body", other.body_text()),
    })?;
    let payload: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))?
    };
    if !app.config.access.may_command(&ctx, &command) {
        return Err(ApiError::Forbidden(format!("may not run command `{command}`")));
    }
    let events = app.store.command_events(&command, payload, &ctx).await?;
    for event in &events {
        if !app.config.access.may_dispatch(&ctx, &event.event_type) {
            return Err(ApiError::Forbidden(format!(
                "may not dispatch events of type `{}`",
                event.event_type
            )));
        }
    }
    tracing::info!(command, user = ctx.user.as_deref(), events = events.len(), "dispatch");
    Ok(Json(app.store.dispatch_all_with(events, &ctx).await?))
}

/// The schema of a collection the user may read, or 403/404.
async fn readable(app: &AppState, ctx: &Context, name: &str) -> Result<CollectionSchema, ApiError> {
    if !app.config.access.may_read(ctx, name) {
        return Err(ApiError::Forbidden(format!("may not read collection `{name}`")));
    }
    let mut schema = app.store.schema();
    if !schema.collections.contains_key(name) {
        schema = app.store.refresh_schema().await?;
    }
    schema
        .collections
        .remove(name)
        .ok_or_else(|| ApiError::NotFound(format!("unknown collection `{name}`")))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("`{name}` must be a non-negative integer, not `{value}`"),
        )
    })
}

/// A query-string value as the JSON value of a column of type `ty`.
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
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Json<Vec<Row>>, ApiError> {
    let ctx = app.context(&headers, None).await?;
    let schema = readable(&app, &ctx, &name).await?;
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
                let ty = *schema.fields.get(field).ok_or_else(|| {
                    ApiError::bad_request("unknown_field", format!("collection `{name}` has no field `{field}`"))
                })?;
                filters.push(Filter::eq(field, typed(&name, field, ty, raw)?));
            }
        }
    }
    if !filters.is_empty() {
        options.filter = Some(Filter::and(filters));
    }
    match as_of {
        Some(point) => Ok(Json(app.store.as_of(point).await?.find_all(&name, &options)?)),
        None => Ok(Json(app.store.find_all(&name, options).await?)),
    }
}

/// `GET /collections/{name}/{id}`.
pub(crate) async fn find_by_id(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Row>, ApiError> {
    let ctx = app.context(&headers, None).await?;
    let schema = readable(&app, &ctx, &name).await?;
    let key = key_of(&schema, &name, &id)?;
    app.store
        .find_by_id(&name, key)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no row `{id}` in `{name}`")))
}

/// The key of `id` in a collection, or 404 when it cannot be one.
fn key_of(schema: &CollectionSchema, name: &str, id: &str) -> Result<Key, ApiError> {
    match schema.fields.get(&schema.key) {
        // An integer key never equals a non-integer id.
        Some(FieldType::Integer) if id.parse::<i64>().is_err() => {
            Err(ApiError::NotFound(format!("no row `{id}` in `{name}`")))
        }
        Some(FieldType::Integer) => Ok(Key::from(id.parse::<i64>().unwrap_or_default())),
        _ => Ok(Key::from(id)),
    }
}

/// `GET /collections/{name}/{id}/history`.
pub(crate) async fn history(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<Change>>, ApiError> {
    let ctx = app.context(&headers, None).await?;
    let schema = readable(&app, &ctx, &name).await?;
    let key = key_of(&schema, &name, &id)?;
    let mut changes = app.store.history(&name, key).await?;
    changes.retain(|c| app.config.access.may_receive(&ctx, &c.event));
    Ok(Json(changes))
}

/// `POST /collections/{name}/{id}/restore`.
pub(crate) async fn restore(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<StoredEvent>, ApiError> {
    let ctx = app.context(&headers, None).await?;
    let schema = readable(&app, &ctx, &name).await?;
    let key = key_of(&schema, &name, &id)?;
    if !app.config.access.may_dispatch(&ctx, flux_capacitor::RESTORE_EVENT) {
        return Err(ApiError::Forbidden(format!(
            "may not dispatch events of type `{}`",
            flux_capacitor::RESTORE_EVENT
        )));
    }
    let event = app.store.restore_event(&name, key).await?;
    tracing::info!(collection = name, id, user = ctx.user.as_deref(), "restore");
    let mut stored = app.store.dispatch_all_with(vec![event], &ctx).await?;
    stored.pop().map(Json).ok_or(ApiError::Store(crate::StoreError::Closed))
}

/// `after`, `limit` and `type`s of `/events` and `/events/live`.
pub(crate) struct EventParams {
    pub after: u64,
    pub limit: u64,
    pub types: Option<Vec<String>>,
    pub token: Option<String>,
    /// Whether `after` was given (the live feed starts at the head without it).
    pub after_given: bool,
}

impl EventParams {
    pub fn parse(params: &[(String, String)], max_page: u64) -> Result<Self, ApiError> {
        let mut out = EventParams {
            after: 0,
            limit: max_page,
            types: None,
            token: None,
            after_given: false,
        };
        for (param, raw) in params {
            match param.as_str() {
                "after" => {
                    out.after = number(param, raw)?;
                    out.after_given = true;
                }
                "limit" => out.limit = number::<u64>(param, raw)?.min(max_page),
                "type" => out.types.get_or_insert_with(Vec::new).push(raw.clone()),
                "token" => out.token = Some(raw.clone()),
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

/// `GET /events`: pages through the log until `limit` events the user may
/// receive are found (or the log ends), so a short page always means the end.
pub(crate) async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let params = EventParams::parse(&params, app.config.max_page)?;
    let ctx = app.context(&headers, params.token.as_deref()).await?;
    let mut out = Vec::new();
    let mut after = params.after;
    while (out.len() as u64) < params.limit {
        let page = app
            .store
            .events(EventQuery {
                after_seq: after,
                limit: params.limit,
                types: params.types.clone(),
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() as u64 == params.limit;
        out.extend(page.into_iter().filter(|e| app.config.access.may_receive(&ctx, e)));
        if !full {
            break;
        }
    }
    out.truncate(params.limit as usize);
    Ok(Json(out))
}
