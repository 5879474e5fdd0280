//! Operational routes for load balancers and operators, without
//! authentication (they reveal counts and `seq`s, never data): liveness,
//! readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// `GET /health`: the process serves requests.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /ready`: 200 when the database answers and the writer runs, else
/// 503; the body is [`Health`](crate::Health) (with the feed's lag).
pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    let health = app.store.health().await;
    let status = if health.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health)).into_response()
}

/// `GET /metrics`: [`Store::metrics`](crate::Store::metrics) in Prometheus' text format.
pub(crate) async fn metrics(State(app): State<AppState>) -> Result<Response, ApiError> {
    let text = app.store.metrics().await?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}
