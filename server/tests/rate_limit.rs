//! The dispatch rate limit per caller, through the router, on SQLite,
//! PostgreSQL and MariaDB: a burst over the limit is answered 429 with
//! `Retry-After` and dispatches nothing; another user is unaffected;
//! after waiting the user may dispatch again; anonymous callers are counted
//! by address.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use flux_capacitor::Event;
use flux_capacitor::testing::conformance;
use flux_capacitor_server::http::{BearerTokens, HttpConfig, RateLimit, app};
use flux_capacitor_server::testing::{TestDb, for_each_backend, test_config};
use flux_capacitor_server::{Store, command_fn};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn store(db: &TestDb) -> Store {
    Store::builder(conformance::reducer())
        .config(test_config())
        .command(
            "note",
            command_fn(|_store, payload, _ctx| async move { Ok(vec![Event::new("note", payload)]) }),
        )
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// `POST /dispatch/note` as `token` (or anonymous from `peer`): the status,
/// the `Retry-After` header and the body.
async fn dispatch(router: &Router, token: Option<&str>, peer: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::post("/dispatch/note").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::from(json!({ "text": "hi" }).to_string())).unwrap();
    if let Some(peer) = peer {
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    }
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

async fn log_len(store: &Store) -> usize {
    store.events(Default::default()).await.unwrap().len()
}

#[test]
fn on_and_generous_by_default() {
    assert_eq!(HttpConfig::default().dispatch_rate, Some(RateLimit::new(100, 200)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_rate_is_refused_with_retry_after_and_writes_nothing() {
    for_each_backend(|db| async move {
        let store = store(&db).await;
        let config = HttpConfig {
            dispatch_rate: Some(RateLimit::new(1, 3)),
            ..HttpConfig::default()
        }
        .authenticator(BearerTokens::new([("t-mary", "mary"), ("t-tony", "tony")]));
        let router = app(store.clone(), config);
        for _ in 0..3 {
            assert_eq!(dispatch(&router, Some("t-mary"), None).await.0, StatusCode::OK);
        }
        for _ in 0..3 {
            let (status, retry_after, body) = dispatch(&router, Some("t-mary"), None).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            assert_eq!(body["error"]["code"], "too_many_requests");
            assert_eq!(retry_after.as_deref(), Some("1"), "whole seconds, rounded up");
        }
        assert_eq!(log_len(&store).await, 3, "nothing dispatched for a refused request");
        // Another user has a bucket of their own.
        assert_eq!(dispatch(&router, Some("t-tony"), None).await.0, StatusCode::OK);
        // Unknown credentials are 401 before any rate.
        assert_eq!(
            dispatch(&router, Some("nobody"), None).await.0,
            StatusCode::UNAUTHORIZED
        );
        // After Retry-After, Mary may dispatch again (one token a second).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(dispatch(&router, Some("t-mary"), None).await.0, StatusCode::OK);
        assert_eq!(
            dispatch(&router, Some("t-mary"), None).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(log_len(&store).await, 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_are_counted_by_address_and_no_limit_is_no_limit() {
    for_each_backend(|db| async move {
        let store = store(&db).await;
        let limited = HttpConfig {
            dispatch_rate: Some(RateLimit::new(1, 2)),
            ..HttpConfig::default()
        };
        let router = app(store.clone(), limited);
        let (a, b) = (Some("10.0.0.1:5000"), Some("10.0.0.2:5000"));
        assert_eq!(dispatch(&router, None, a).await.0, StatusCode::OK);
        assert_eq!(
            dispatch(&router, None, Some("10.0.0.1:6000")).await.0,
            StatusCode::OK,
            "by address, not port"
        );
        assert_eq!(dispatch(&router, None, a).await.0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(dispatch(&router, None, b).await.0, StatusCode::OK);
        // Without an address (not served by `http::serve`): one bucket for all.
        assert_eq!(dispatch(&router, None, None).await.0, StatusCode::OK);
        assert_eq!(dispatch(&router, None, None).await.0, StatusCode::OK);
        assert_eq!(dispatch(&router, None, None).await.0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(log_len(&store).await, 5);

        let unlimited = app(
            store.clone(),
            HttpConfig {
                dispatch_rate: None,
                ..HttpConfig::default()
            },
        );
        for _ in 0..20 {
            assert_eq!(dispatch(&unlimited, None, None).await.0, StatusCode::OK);
        }
    })
    .await;
}
