//! The service through its router (`tower::ServiceExt::oneshot`) and, for the
//! WebSocket, over a real loopback socket — on SQLite, PostgreSQL and MariaDB.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, Key, StoredEvent, aggregate_reducers, boxed, restore};
use flux_capacitor_server::http::{Access, ApiError, Authenticator, BearerTokens, HttpConfig, NEXT_AFTER, app};
use flux_capacitor_server::testing::{TestDb, execute, for_each_backend, test_config, tracker_schema};
use flux_capacitor_server::{Context, Store, command_fn};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

const COMMANDS: [&str; 5] = ["addIssue", "closeIssue", "renameIssue", "addUser", "closeAllBy"];

/// `guest` may not add users, close issues, read `users` or see `addUser` events.
struct GuestRules;

fn is_guest(ctx: &Context) -> bool {
    ctx.user.as_deref() == Some("guest")
}

impl Access for GuestRules {
    fn may_command(&self, ctx: &Context, command: &str) -> bool {
        !(is_guest(ctx) && command == "addUser")
    }
    fn may_dispatch(&self, ctx: &Context, event_type: &str) -> bool {
        !(is_guest(ctx) && event_type == "closeIssue")
    }
    fn may_read(&self, ctx: &Context, collection: &str) -> bool {
        !(is_guest(ctx) && collection == "users")
    }
    fn may_receive(&self, ctx: &Context, event: &StoredEvent) -> bool {
        !(is_guest(ctx) && event.event_type == "addUser")
    }
}

/// A tracker store whose commands dispatch the event of the same name.
async fn tracker(db: &TestDb) -> Store {
    let pool = db.pool_with_tables(&tracker_schema()).await;
    let reducer = aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]);
    let mut builder = Store::builder(reducer).config(test_config());
    for name in COMMANDS {
        builder = builder.command(
            name,
            command_fn(move |_store, payload, _ctx| async move { Ok(vec![Event::new(name, payload)]) }),
        );
    }
    builder.open(pool).await.expect("open store")
}

fn config() -> HttpConfig {
    HttpConfig {
        body_limit: 4096,
        max_page: 50,
        ..HttpConfig::default()
    }
    .authenticator(BearerTokens::new([("t-mary", "mary"), ("t-guest", "guest")]))
    .access(GuestRules)
}

/// Sends one request; answers the status and the JSON body (`null` if none).
async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .header("content-type", "application/json")
        .header("x-request-id", "req-1")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, body)
}

async fn post(router: &Router, command: &str, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        router,
        "POST",
        &format!("/dispatch/{command}"),
        Some(token),
        Some(&body.to_string()),
    )
    .await
}

fn assert_error(response: &(StatusCode, Value), status: StatusCode, code: &str, mentions: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["error"]["code"], code, "{}", response.1);
    let message = response.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(mentions), "`{message}` should mention `{mentions}`");
}

async fn log_len(store: &Store) -> usize {
    store.events(Default::default()).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_answers_the_stored_events_with_who_did_it() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let (status, body) = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "Leaks", "author": "mary" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let event = &body[0];
        assert_eq!(
            (event["seq"].clone(), event["type"].clone()),
            (json!(1), json!("addIssue"))
        );
        assert_eq!(event["meta"], json!({ "user": "mary", "request_id": "req-1" }));
        assert!(event["id"].as_str().unwrap().len() == 36 && event["timestamp"].as_str().unwrap().ends_with('Z'));

        let (status, rows) = call(&router, "GET", "/collections/issues", Some("t-mary"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            rows,
            json!([{ "id": "1", "title": "Leaks", "author": "mary", "closed": false }])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_errors_are_typed_json_and_write_nothing() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        assert_eq!(
            post(
                &router,
                "addIssue",
                "t-mary",
                json!({ "id": "1", "title": "A", "author": "mary" })
            )
            .await
            .0,
            StatusCode::OK
        );

        let unknown = post(&router, "launchRocket", "t-mary", json!({})).await;
        assert_error(&unknown, StatusCode::BAD_REQUEST, "unknown_command", "launchRocket");
        let bad_json = call(&router, "POST", "/dispatch/addIssue", Some("t-mary"), Some("{nope")).await;
        assert_error(&bad_json, StatusCode::BAD_REQUEST, "invalid_json", "invalid JSON");
        let anonymous = call(&router, "POST", "/dispatch/addIssue", None, Some("{}")).await;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized", "missing");
        let forged = post(&router, "addIssue", "t-nobody", json!({})).await;
        assert_error(&forged, StatusCode::UNAUTHORIZED, "unauthorized", "unknown");
        let huge = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "2", "title": "x".repeat(5000), "author": "mary" }),
        )
        .await;
        assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "4096");
        let duplicate = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "B", "author": "mary" }),
        )
        .await;
        assert_error(&duplicate, StatusCode::CONFLICT, "duplicate_key", "issues");
        let invalid = post(&router, "addIssue", "t-mary", json!({ "id": "3" })).await;
        assert_error(
            &invalid,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            "addIssue",
        );
        let not_object = post(&router, "addIssue", "t-mary", json!([1, 2])).await;
        assert_error(&not_object, StatusCode::BAD_REQUEST, "invalid_event", "payload");
        // Integer literals a double would round, beyond the 64-bit integers
        // (which the JSON parser would round silently) as well as within them.
        for (number, named) in [
            ("-9223372036854775809", "`-9223372036854775809` (byte 50)"),
            ("18446744073709551617", "`18446744073709551617`"),
            ("9007199254740993", "`addIssue` payload"),
        ] {
            let body = format!(r#"{{ "id": "4", "title": "T", "author": "mary", "n": {number} }}"#);
            let rounded = call(&router, "POST", "/dispatch/addIssue", Some("t-mary"), Some(&body)).await;
            assert_error(&rounded, StatusCode::UNPROCESSABLE_ENTITY, "unsupported_value", named);
        }

        assert_eq!(
            log_len(&store).await,
            1,
            "nothing of the refused dispatches was written"
        );
        let (_, rows) = call(&router, "GET", "/collections/issues", Some("t-mary"), None).await;
        assert_eq!(rows.as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_failures_are_500_without_internals() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        // A constraint the reducers do not know about: the database refuses the row.
        execute(
            store.pool(),
            "CREATE TABLE audit_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
        )
        .await;
        store.refresh_schema().await.unwrap();
        let router = app(store.clone(), config());
        let payload = json!({ "ops": [{ "op": "create", "collection": "audit_notes", "row": { "id": 1 } }] });
        let store2 = Store::builder(conformance::reducer())
            .command(
                "raw",
                command_fn(|_s, payload, _c| async move { Ok(vec![Event::new("conformance/apply", payload)]) }),
            )
            .open(store.pool().clone())
            .await
            .unwrap();
        let router2 = app(store2.clone(), config());
        let failed = post(&router2, "raw", "t-mary", payload).await;
        assert_error(&failed, StatusCode::INTERNAL_SERVER_ERROR, "database", "internal error");
        let message = failed.1["error"]["message"].as_str().unwrap().to_lowercase();
        for secret in ["null", "constraint", "body", "audit_notes", "sql"] {
            assert!(!message.contains(secret), "`{message}` leaks `{secret}`");
        }
        assert_eq!(log_len(&store).await, 0);
        // Both keep working.
        assert_eq!(
            post(
                &router,
                "addUser",
                "t-mary",
                json!({ "handle": "mary", "name": "Mary" })
            )
            .await
            .0,
            StatusCode::OK
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_allows_and_denies() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        // may_command
        let denied = post(&router, "addUser", "t-guest", json!({ "handle": "g", "name": "G" })).await;
        assert_error(&denied, StatusCode::FORBIDDEN, "forbidden", "addUser");
        assert_eq!(
            post(
                &router,
                "addUser",
                "t-mary",
                json!({ "handle": "mary", "name": "Mary" })
            )
            .await
            .0,
            StatusCode::OK
        );
        // may_dispatch: the command runs, its event type is refused, nothing is written.
        assert_eq!(
            post(
                &router,
                "addIssue",
                "t-guest",
                json!({ "id": "1", "title": "A", "author": "mary" })
            )
            .await
            .0,
            StatusCode::OK
        );
        let denied = post(&router, "closeIssue", "t-guest", json!({ "id": "1" })).await;
        assert_error(&denied, StatusCode::FORBIDDEN, "forbidden", "closeIssue");
        assert_eq!(store.find_by_id("issues", "1").await.unwrap().unwrap()["closed"], false);
        assert_eq!(
            post(&router, "closeIssue", "t-mary", json!({ "id": "1" })).await.0,
            StatusCode::OK
        );
        // may_read
        let denied = call(&router, "GET", "/collections/users", Some("t-guest"), None).await;
        assert_error(&denied, StatusCode::FORBIDDEN, "forbidden", "users");
        let denied = call(&router, "GET", "/collections/users/mary", Some("t-guest"), None).await;
        assert_error(&denied, StatusCode::FORBIDDEN, "forbidden", "users");
        assert_eq!(
            call(&router, "GET", "/collections/users/mary", Some("t-mary"), None)
                .await
                .1["name"],
            "Mary"
        );
        // may_receive
        let types = |body: Value| {
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let (_, mary) = call(&router, "GET", "/events", Some("t-mary"), None).await;
        assert_eq!(types(mary), ["addUser", "addIssue", "closeIssue"]);
        let (_, guest) = call(&router, "GET", "/events?limit=1", Some("t-guest"), None).await;
        assert_eq!(types(guest), ["addIssue"], "a page holds `limit` visible events");
    })
    .await;
}

/// `GET /events` as `token`: the `seq`s of its page and its `Flux-Next-After`.
async fn events_page(router: &Router, uri: &str, token: &str) -> (Vec<u64>, Option<u64>) {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let next = response
        .headers()
        .get(NEXT_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let page: Vec<StoredEvent> = serde_json::from_slice(&bytes).unwrap();
    (page.iter().map(|e| e.seq).collect(), next)
}

/// A page of `GET /events` reads at most `max_events_scanned` events of the
/// log: where an access rule withholds most of them, the page is cut short
/// with `Flux-Next-After`, and following it reaches every event the caller
/// may see, each once; a page without it ends the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_pages_read_a_bounded_part_of_the_log() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let config = HttpConfig {
            max_events_scanned: 10,
            ..config()
        };
        let router = app(store.clone(), config);
        // 25 events the guest may not receive, then 3 it may.
        for i in 0..25 {
            let body = json!({ "handle": format!("u{i}"), "name": "U" });
            assert_eq!(post(&router, "addUser", "t-mary", body).await.0, StatusCode::OK);
        }
        for id in ["a", "b", "c"] {
            let body = json!({ "id": id, "title": "T", "author": "mary" });
            assert_eq!(post(&router, "addIssue", "t-mary", body).await.0, StatusCode::OK);
        }
        let page = |uri: &'static str, token| events_page(&router, uri, token);
        assert_eq!(page("/events?limit=2", "t-guest").await, (vec![], Some(10)));
        assert_eq!(page("/events?limit=2&after=10", "t-guest").await, (vec![], Some(20)));
        assert_eq!(
            page("/events?limit=2&after=20", "t-guest").await,
            (vec![26, 27], Some(27))
        );
        assert_eq!(page("/events?limit=2&after=27", "t-guest").await, (vec![28], None));
        // Following the header from the start finds what one unbounded read would.
        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let uri = format!("/events?limit=1&after={after}");
            let (seqs, next) = events_page(&router, &uri, "t-guest").await;
            seen.extend(seqs);
            match next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, [26, 27, 28]);
        // Every event visible: a full page says where the next starts.
        let all: Vec<u64> = (1..=28).collect();
        assert_eq!(page("/events?limit=28", "t-mary").await, (all.clone(), Some(28)));
        assert_eq!(page("/events?after=28", "t-mary").await, (vec![], None));
        assert_eq!(page("/events", "t-mary").await, (all, None));
        assert_eq!(page("/events?limit=0", "t-mary").await, (vec![], None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_page_order_and_filter() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        for (id, title, priority) in [("a", "Zed", 1), ("b", "Alpha", 2), ("c", "Mid", 2)] {
            let body = json!({ "id": id, "title": title, "author": "mary", "priority": priority });
            assert_eq!(post(&router, "addIssue", "t-mary", body).await.0, StatusCode::OK);
        }
        post(&router, "closeIssue", "t-mary", json!({ "id": "c" })).await;
        let ids = |body: Value| {
            body.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let get = |uri: &'static str| call(&router, "GET", uri, Some("t-mary"), None);
        assert_eq!(ids(get("/collections/issues").await.1), ["a", "b", "c"]);
        assert_eq!(ids(get("/collections/issues?order=title").await.1), ["b", "c", "a"]);
        assert_eq!(
            ids(get("/collections/issues?order=-priority,title").await.1),
            ["b", "c", "a"]
        );
        assert_eq!(
            ids(get("/collections/issues?order=title&limit=1&offset=1").await.1),
            ["c"]
        );
        assert_eq!(ids(get("/collections/issues?priority=2").await.1), ["b", "c"]);
        assert_eq!(ids(get("/collections/issues?priority=2&closed=false").await.1), ["b"]);
        assert_eq!(get("/collections/issues/c").await.1["closed"], true);

        for (uri, status, code, mentions) in [
            (
                "/collections/issues?colour=red",
                StatusCode::BAD_REQUEST,
                "unknown_field",
                "colour",
            ),
            (
                "/collections/issues?priority=high",
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "priority",
            ),
            (
                "/collections/issues?limit=-1",
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "limit",
            ),
            (
                "/collections/issues?order=nope",
                StatusCode::BAD_REQUEST,
                "unknown_field",
                "nope",
            ),
            (
                "/collections/issues?as_of=yesterday",
                StatusCode::BAD_REQUEST,
                "invalid_point",
                "yesterday",
            ),
            (
                "/collections/spaceships",
                StatusCode::NOT_FOUND,
                "not_found",
                "spaceships",
            ),
            ("/collections/issues/zz", StatusCode::NOT_FOUND, "not_found", "zz"),
            (
                "/collections/flux_events",
                StatusCode::NOT_FOUND,
                "not_found",
                "flux_events",
            ),
            (
                "/collections/flux_snapshots",
                StatusCode::NOT_FOUND,
                "not_found",
                "flux_snapshots",
            ),
            (
                "/collections/flux_versions_issues",
                StatusCode::NOT_FOUND,
                "not_found",
                "flux_versions_issues",
            ),
        ] {
            assert_error(&get(uri).await, status, code, mentions);
        }
        assert_error(
            &call(
                &router,
                "GET",
                "/collections/issues%22%3B%20DROP%20TABLE%20issues%3B--",
                Some("t-mary"),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
            "DROP TABLE",
        );
        assert_error(
            &call(&router, "GET", "/collections/issues", None, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "token",
        );
        assert_eq!(ids(get("/collections/issues").await.1).len(), 3, "still there");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_page_through_the_log() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        post(
            &router,
            "addUser",
            "t-mary",
            json!({ "handle": "mary", "name": "Mary" }),
        )
        .await;
        for i in 0..60 {
            post(
                &router,
                "addIssue",
                "t-mary",
                json!({ "id": format!("{i:02}"), "title": "T", "author": "mary" }),
            )
            .await;
        }
        let seqs = |body: &Value| {
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        let router = &router;
        let get = |uri: String| async move { call(router, "GET", &uri, Some("t-mary"), None).await };
        let (status, all) = get("/events".into()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            seqs(&all),
            (1..=50).collect::<Vec<_>>(),
            "the page is capped at max_page"
        );
        assert_eq!(seqs(&get("/events?after=58".into()).await.1), [59, 60, 61]);
        assert_eq!(seqs(&get("/events?after=10&limit=2".into()).await.1), [11, 12]);
        assert_eq!(seqs(&get("/events?type=addUser&type=nothing".into()).await.1), [1]);
        assert_error(
            &get("/events?after=x".into()).await,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "after",
        );
        assert_error(
            &get("/events?since=3".into()).await,
            StatusCode::BAD_REQUEST,
            "unknown_parameter",
            "since",
        );
        assert_error(
            &get("/nowhere".into()).await,
            StatusCode::NOT_FOUND,
            "not_found",
            "route",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_history_and_restore_routes() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "Leaks", "author": "mary" }),
        )
        .await;
        post(&router, "closeIssue", "t-mary", json!({ "id": "1" })).await;
        let get = |uri: &'static str| call(&router, "GET", uri, Some("t-mary"), None);
        store
            .dispatch(Event::new("removeIssue", json!({ "id": "1" })))
            .await
            .unwrap();
        assert_eq!(
            get("/collections/issues?as_of=1").await.1,
            json!([{ "id": "1", "title": "Leaks", "author": "mary", "closed": false }])
        );
        assert_eq!(
            get("/collections/issues?as_of=2&closed=true")
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(get("/collections/issues?as_of=3").await.1, json!([]));
        // Past the head (3): refused, not the head's rows.
        for uri in [
            "/collections/issues?as_of=4",
            "/collections/issues?as_of=18446744073709551615",
        ] {
            assert_error(
                &get(uri).await,
                StatusCode::BAD_REQUEST,
                "invalid_point",
                "past the log's head (3)",
            );
        }
        let (status, history) = get("/collections/issues/1/history").await;
        assert_eq!(status, StatusCode::OK);
        let seqs: Vec<_> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["event"]["seq"].clone())
            .collect();
        assert_eq!(seqs, [json!(1), json!(2), json!(3)]);
        assert_eq!(history[2]["after"], Value::Null);

        let (status, restored) = call(&router, "POST", "/collections/issues/1/restore", Some("t-guest"), None).await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(
            (restored["type"].clone(), restored["meta"]["user"].clone()),
            (json!("flux/restore"), json!("guest"))
        );
        assert_eq!(get("/collections/issues/1").await.1["closed"], true);
        let again = call(&router, "POST", "/collections/issues/1/restore", Some("t-mary"), None).await;
        assert_error(&again, StatusCode::CONFLICT, "not_restorable", "exists");
        let never = call(&router, "POST", "/collections/issues/9/restore", Some("t-mary"), None).await;
        assert_error(&never, StatusCode::CONFLICT, "not_restorable", "never existed");
        let hidden = call(
            &router,
            "POST",
            "/collections/users/mary/restore",
            Some("t-guest"),
            None,
        )
        .await;
        assert_error(&hidden, StatusCode::FORBIDDEN, "forbidden", "users");

        // Without the restore reducer, a restore is refused rather than logged as a no-op.
        let plain = Store::builder(conformance::reducer())
            .open(store.pool().clone())
            .await
            .unwrap();
        plain
            .dispatch(Event::new("removeIssue", json!({ "id": "1" })))
            .await
            .unwrap();
        let refused = plain.restore("issues", "1", &Context::default()).await.unwrap_err();
        assert!(refused.to_string().contains("flux/restore"), "{refused}");
    })
    .await;
}

/// A restore with a client-chosen id: its resend is answered from the log,
/// also once the row was destroyed again (never restored twice); another
/// user or another row under the id is a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_with_an_id_is_safe_to_resend() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        for id in ["r", "s"] {
            let body = json!({ "id": id, "title": "T", "author": "mary" });
            assert_eq!(post(&router, "addIssue", "t-mary", body).await.0, StatusCode::OK);
            store
                .dispatch(Event::new("removeIssue", json!({ "id": id })))
                .await
                .unwrap();
        }
        let id = uuid::Uuid::now_v7();
        let uri = format!("/collections/issues/r/restore?id={id}");
        let first = call(&router, "POST", &uri, Some("t-mary"), None).await;
        assert_eq!(first.0, StatusCode::OK, "{}", first.1);
        assert_eq!(first.1["id"], json!(id.to_string()));
        assert_eq!(call(&router, "POST", &uri, Some("t-mary"), None).await, first);
        // Destroyed again: the resend does not bring it back a second time.
        store
            .dispatch(Event::new("removeIssue", json!({ "id": "r" })))
            .await
            .unwrap();
        let logged = log_len(&store).await;
        assert_eq!(call(&router, "POST", &uri, Some("t-mary"), None).await, first);
        assert_eq!(log_len(&store).await, logged);
        let gone = call(&router, "GET", "/collections/issues/r", Some("t-mary"), None).await;
        assert_eq!(gone.0, StatusCode::NOT_FOUND);
        // Another user, or another row, under the id.
        let guest = call(&router, "POST", &uri, Some("t-guest"), None).await;
        assert_error(&guest, StatusCode::CONFLICT, "id_conflict", "another user");
        let other = format!("/collections/issues/s/restore?id={id}");
        let other = call(&router, "POST", &other, Some("t-mary"), None).await;
        assert_error(&other, StatusCode::CONFLICT, "id_conflict", "another request");
        let bad = call(
            &router,
            "POST",
            "/collections/issues/s/restore?id=nope",
            Some("t-mary"),
            None,
        )
        .await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_event", "`id` must");
        assert_eq!(log_len(&store).await, logged, "nothing written by the refusals");
    })
    .await;
}

/// Only an issue's author renames or restores it: a rule on the event and
/// the stored row ([`Access::authorize_event`]).
struct AuthorsOnly;

#[async_trait::async_trait]
impl Access for AuthorsOnly {
    async fn authorize_event(&self, ctx: &Context, event: &Event, store: &Store) -> Result<(), ApiError> {
        let author = match event.event_type.as_str() {
            "renameIssue" => {
                let id = event.payload["id"].as_str().unwrap_or_default();
                let issue = store.find_by_id("issues", id).await?;
                issue.and_then(|row| row.get("author").cloned())
            }
            flux_capacitor::RESTORE_EVENT => event.payload["row"].get("author").cloned(),
            _ => None,
        };
        match author {
            Some(author) if Some(author.as_str().unwrap_or_default()) != ctx.user.as_deref() => {
                Err(ApiError::Forbidden(format!("only {author} may change it")))
            }
            _ => Ok(()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_event_reads_the_store_and_refuses_with_nothing_written() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config().access(AuthorsOnly));
        let issue = json!({ "id": "1", "title": "Leaks", "author": "mary" });
        assert_eq!(post(&router, "addIssue", "t-mary", issue).await.0, StatusCode::OK);
        let rename = json!({ "id": "1", "title": "Guest's" });
        let denied = post(&router, "renameIssue", "t-guest", rename.clone()).await;
        assert_error(
            &denied,
            StatusCode::FORBIDDEN,
            "forbidden",
            "only \"mary\" may change it",
        );
        assert_eq!(log_len(&store).await, 1, "nothing written");
        assert_eq!(
            store.find_by_id("issues", "1").await.unwrap().unwrap()["title"],
            "Leaks"
        );
        assert_eq!(post(&router, "renameIssue", "t-mary", rename).await.0, StatusCode::OK);

        // The restore route: its `flux/restore` event carries the row it brings back.
        store
            .dispatch(Event::new("removeIssue", json!({ "id": "1" })))
            .await
            .unwrap();
        let denied = call(&router, "POST", "/collections/issues/1/restore", Some("t-guest"), None).await;
        assert_error(&denied, StatusCode::FORBIDDEN, "forbidden", "only \"mary\"");
        assert_eq!(log_len(&store).await, 3, "nothing written");
        let restored = call(&router, "POST", "/collections/issues/1/restore", Some("t-mary"), None).await;
        assert_eq!(restored.0, StatusCode::OK, "{}", restored.1);
        assert_eq!(
            store.find_by_id("issues", "1").await.unwrap().unwrap()["title"],
            "Guest's"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_requires_application_json_and_no_body() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let issue = json!({ "id": "1", "title": "Leaks", "author": "mary" });
        assert_eq!(post(&router, "addIssue", "t-mary", issue).await.0, StatusCode::OK);
        store
            .dispatch(Event::new("removeIssue", json!({ "id": "1" })))
            .await
            .unwrap();
        let uri = "/collections/issues/1/restore";
        let auth = ("authorization", "Bearer t-mary");
        // What a cross-site form (or a `no-cors` fetch) can send: refused before anything is read.
        for content_type in [
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain"),
            None,
        ] {
            let headers: Vec<_> = [Some(auth), content_type.map(|c| ("content-type", c))]
                .into_iter()
                .flatten()
                .collect();
            let refused = call_with(&router, "POST", uri, &headers, "").await;
            assert_error(
                &refused,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "`POST /collections/{name}/{id}/restore` takes `Content-Type: application/json`",
            );
        }
        // Credentials first, as for dispatch.
        let stranger = call_with(&router, "POST", uri, &[("content-type", "text/plain")], "").await;
        assert_error(&stranger, StatusCode::UNAUTHORIZED, "unauthorized", "token");
        let json = [auth, ("content-type", "application/json")];
        let body = call_with(&router, "POST", uri, &json, r#"{"row": {"title": "Mine"}}"#).await;
        assert_error(&body, StatusCode::BAD_REQUEST, "invalid_body", "no body");
        assert_eq!(log_len(&store).await, 2, "nothing written");
        let restored = call_with(&router, "POST", uri, &json, " {} ").await;
        assert_eq!(restored.0, StatusCode::OK, "{}", restored.1);
        assert_eq!(
            store.find_by_id("issues", "1").await.unwrap().unwrap()["title"],
            "Leaks"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_token_only_on_the_websocket_and_after_its_parameters() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let added = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "A", "author": "mary" }),
        )
        .await;
        assert_eq!(added.0, StatusCode::OK, "{}", added.1);
        // `/events` takes the header only: a token in its URL is refused, with or without the header.
        let events = call(&router, "GET", "/events", Some("t-mary"), None).await;
        assert_eq!((events.0, events.1.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
        for (uri, header) in [
            ("/events?token=t-mary", None),
            ("/events?token=t-nobody", Some("t-mary")),
            ("/events?after=0&token=t-mary", Some("t-mary")),
        ] {
            let refused = call(&router, "GET", uri, header, None).await;
            assert_error(&refused, StatusCode::BAD_REQUEST, "unknown_parameter", "/events/live");
            assert!(
                refused.1["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Authorization")
            );
        }
        // Parameters are checked before credentials.
        let anyone = call(&router, "GET", "/events?since=3", None, None).await;
        assert_error(&anyone, StatusCode::BAD_REQUEST, "unknown_parameter", "since");
        // The live feed first refuses a request that is not a WebSocket upgrade.
        assert_eq!(
            call(&router, "GET", "/events/live?since=3&token=t-nobody", None, None).await,
            (
                StatusCode::BAD_REQUEST,
                json!("Connection header did not include 'upgrade'")
            )
        );
        // Every other route reads the header only.
        for (method, uri) in [
            ("GET", "/collections/issues?token=t-mary"),
            ("GET", "/collections/issues/1?token=t-mary"),
            ("GET", "/collections/issues/1/history?token=t-mary"),
            ("POST", "/collections/issues/1/restore?token=t-mary"),
            ("POST", "/dispatch/addIssue?token=t-mary"),
        ] {
            let refused = call(&router, method, uri, None, Some("{}")).await;
            assert_error(
                &refused,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token",
            );
        }
    })
    .await;
}

/// Counts the requests it authenticates.
struct Counting(Arc<AtomicUsize>, BearerTokens);

#[async_trait::async_trait]
impl Authenticator for Counting {
    async fn authenticate(&self, token: Option<&str>, headers: &HeaderMap) -> Result<Context, ApiError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.authenticate(token, headers).await
    }
}

/// Sends one request with exactly `headers`; answers the status and the JSON body.
async fn call_with(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    for_each_backend(|db| async move {
        let router = app(tracker(&db).await, config());
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let authorization = format!("{scheme} t-mary");
            let read = call_with(
                &router,
                "GET",
                "/collections/issues",
                &[("authorization", &authorization)],
                "",
            )
            .await;
            assert_eq!(read, (StatusCode::OK, json!([])), "{scheme}");
        }
        for refused in ["Basic t-mary", "Bearert-mary", "t-mary"] {
            let read = call_with(&router, "GET", "/collections/issues", &[("authorization", refused)], "").await;
            assert_error(&read, StatusCode::UNAUTHORIZED, "unauthorized", "missing bearer token");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_log_only_when_valid() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let too_long = "r".repeat(129);
        let longest = "r".repeat(128);
        for (n, (given, kept)) in [
            ("trace-1:span_2.a", true),
            (longest.as_str(), true),
            (too_long.as_str(), false),
            ("<script>alert(1)</script>", false),
            ("a b", false),
            ("x/../y", false),
        ]
        .into_iter()
        .enumerate()
        {
            let body = json!({ "id": format!("r{n}"), "title": "T", "author": "mary" }).to_string();
            let headers = [
                ("authorization", "Bearer t-mary"),
                ("content-type", "application/json"),
                ("x-request-id", given),
            ];
            let (status, events) = call_with(&router, "POST", "/dispatch/addIssue", &headers, &body).await;
            assert_eq!(status, StatusCode::OK, "{events}");
            let id = events[0]["meta"]["request_id"].as_str().unwrap().to_owned();
            if kept {
                assert_eq!(id, given);
            } else {
                let uuid = uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("`{given}` replaced by `{id}`"));
                assert_eq!(uuid.get_version_num(), 7, "{id}");
            }
            let logged = store.events(Default::default()).await.unwrap().pop().unwrap();
            assert_eq!(
                logged.meta.as_ref().unwrap()["request_id"],
                json!(id),
                "the log holds the answered id"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_requires_application_json() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let body = json!({ "id": "1", "title": "T", "author": "mary" }).to_string();
        let auth = ("authorization", "Bearer t-mary");
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("text/json"),
            None,
        ] {
            let headers: Vec<_> = [Some(auth), content_type.map(|c| ("content-type", c))]
                .into_iter()
                .flatten()
                .collect();
            let refused = call_with(&router, "POST", "/dispatch/addIssue", &headers, &body).await;
            assert_error(
                &refused,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "application/json",
            );
        }
        assert_eq!(log_len(&store).await, 0, "nothing written");
        // Credentials are checked first.
        let stranger = call_with(
            &router,
            "POST",
            "/dispatch/addIssue",
            &[("content-type", "text/plain")],
            &body,
        )
        .await;
        assert_error(&stranger, StatusCode::UNAUTHORIZED, "unauthorized", "token");
        for (n, content_type) in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ]
        .into_iter()
        .enumerate()
        {
            let body = json!({ "id": format!("ok{n}"), "title": "T", "author": "mary" }).to_string();
            let headers = [auth, ("content-type", content_type)];
            let accepted = call_with(&router, "POST", "/dispatch/addIssue", &headers, &body).await;
            assert_eq!(accepted.0, StatusCode::OK, "{content_type}: {}", accepted.1);
        }
        assert_eq!(log_len(&store).await, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_routes_check_in_order_and_authenticate_once() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let tokens = BearerTokens::new([("t-mary", "mary"), ("t-guest", "guest")]);
        let router = app(store.clone(), config().authenticator(Counting(calls.clone(), tokens)));
        let added = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "A", "author": "mary" }),
        )
        .await;
        assert_eq!(added.0, StatusCode::OK, "{}", added.1);
        // 401, then 403, then 404 for an unknown collection: a stranger learns nothing.
        let stranger = call(&router, "GET", "/collections/spaceships/1", Some("t-nobody"), None).await;
        assert_error(&stranger, StatusCode::UNAUTHORIZED, "unauthorized", "token");
        let guest = call(&router, "GET", "/collections/users/1/history", Some("t-guest"), None).await;
        assert_error(&guest, StatusCode::FORBIDDEN, "forbidden", "users");
        let unknown = call(&router, "GET", "/collections/spaceships/1", Some("t-mary"), None).await;
        assert_error(
            &unknown,
            StatusCode::NOT_FOUND,
            "not_found",
            "unknown collection `spaceships`",
        );
        calls.store(0, Ordering::SeqCst);
        let history = call(&router, "GET", "/collections/issues/1/history", Some("t-mary"), None).await;
        assert_eq!(history.0, StatusCode::OK, "{}", history.1);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one request, one authentication");
        // A path axum cannot decode keeps axum's plain-text answer.
        for (uri, name) in [("/collections/%FF", "name"), ("/collections/issues/%FF", "id")] {
            let (status, body) = call(&router, "GET", uri, Some("t-mary"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(body, json!(format!("Invalid URL: Invalid UTF-8 in `{name}`")));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_keys_in_paths() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        // Created after the store opened: the routes re-read the schema for it.
        let counters = serde_json::from_value(json!({ "counters": { "fields": { "id": "integer", "n": "integer" } } }));
        db.create_tables(store.pool(), &counters.unwrap()).await;
        let router = app(store.clone(), config());
        let get = |uri: &'static str| call(&router, "GET", uri, Some("t-mary"), None);
        assert_error(
            &get("/collections/counters/7").await,
            StatusCode::NOT_FOUND,
            "not_found",
            "`7`",
        );
        let ops = json!([{ "op": "create", "collection": "counters", "row": { "id": 7, "n": 1 } }]);
        store
            .dispatch(Event::new("conformance/apply", json!({ "ops": ops })))
            .await
            .unwrap();
        assert_eq!(get("/collections/counters/7").await.1, json!({ "id": 7, "n": 1 }));
        assert_eq!(
            get("/collections/counters/7/history").await.1.as_array().map(Vec::len),
            Some(1)
        );
        // The store reads a non-integer as a string key; the routes answer that no row has it.
        assert_eq!(store.parse_key("counters", "7"), Key::from(7));
        assert_eq!(store.parse_key("counters", "seven"), Key::from("seven"));
        for uri in ["/collections/counters/seven", "/collections/counters/seven/history"] {
            assert_error(
                &get(uri).await,
                StatusCode::NOT_FOUND,
                "not_found",
                "no row `seven` in `counters`",
            );
        }
        let restore = call(
            &router,
            "POST",
            "/collections/counters/seven/restore",
            Some("t-mary"),
            None,
        )
        .await;
        assert_error(
            &restore,
            StatusCode::NOT_FOUND,
            "not_found",
            "no row `seven` in `counters`",
        );
    })
    .await;
}

/// Sends `method uri` with an `Origin` (and `extra` headers) to `router`;
/// answers the status and the response headers.
async fn from_origin(
    router: &Router,
    method: &str,
    uri: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap) {
    let mut request = Request::builder().method(method).uri(uri).header("origin", origin);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    (response.status(), response.headers().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_allows_only_the_configured_origins() {
    let store = Store::connect("sqlite::memory:", conformance::reducer()).await.unwrap();
    let dev = "http://localhost:5173";
    let preflight = [
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "authorization,content-type"),
    ];
    let allowed = |headers: &HeaderMap| {
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Off by default: no CORS header on any answer, so a browser refuses them all.
    let router = app(store.clone(), HttpConfig::default());
    let (status, headers) = from_origin(&router, "OPTIONS", "/dispatch/addIssue", dev, &preflight).await;
    assert_ne!(status, StatusCode::OK);
    assert_eq!(allowed(&headers), None);
    let (status, headers) = from_origin(&router, "GET", "/events", dev, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.keys().all(|name| !name.as_str().starts_with("access-control-")),
        "{headers:?}"
    );

    // Configured: the listed origin's preflight is allowed, with the service's methods and headers.
    let cors = flux_capacitor_server::http::CorsConfig::origins([dev, "https://notes.example"]).unwrap();
    let router = app(store.clone(), HttpConfig::default().cors(cors.clone()));
    let (status, headers) = from_origin(&router, "OPTIONS", "/dispatch/addIssue", dev, &preflight).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(allowed(&headers).as_deref(), Some(dev));
    let list = |name: &str| headers[name].to_str().unwrap().to_ascii_lowercase();
    assert!(list("access-control-allow-methods").contains("post"), "{headers:?}");
    assert!(
        list("access-control-allow-headers").contains("authorization"),
        "{headers:?}"
    );
    assert!(
        list("access-control-allow-headers").contains("content-type"),
        "{headers:?}"
    );
    assert_eq!(headers["access-control-max-age"], "600");
    assert_eq!(headers.get("access-control-allow-credentials"), None);
    // ... and the answers themselves carry it, errors included (the page can read why).
    let (status, headers) = from_origin(&router, "POST", "/dispatch/nope", dev, &[]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no JSON content type");
    assert_eq!(allowed(&headers).as_deref(), Some(dev));
    assert!(
        headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
    );
    let (_, headers) = from_origin(&router, "GET", "/events", "https://notes.example", &[]).await;
    assert_eq!(allowed(&headers).as_deref(), Some("https://notes.example"));
    assert_eq!(
        headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase(),
        NEXT_AFTER,
        "the page can read where the next page of the log starts"
    );

    // Another origin (or the same host on another port or scheme) is refused.
    for stranger in ["http://evil.example", "http://localhost:8080", "https://localhost:5173"] {
        let (_, headers) = from_origin(&router, "OPTIONS", "/dispatch/addIssue", stranger, &preflight).await;
        assert_eq!(allowed(&headers), None, "{stranger}");
        let (_, headers) = from_origin(&router, "GET", "/events", stranger, &[]).await;
        assert_eq!(allowed(&headers), None, "{stranger}");
    }

    // Credentials only when asked for.
    let router = app(store, HttpConfig::default().cors(cors.credentials(true)));
    let (_, headers) = from_origin(&router, "OPTIONS", "/dispatch/addIssue", dev, &preflight).await;
    assert_eq!(allowed(&headers).as_deref(), Some(dev));
    assert_eq!(headers["access-control-allow-credentials"], "true");
}

/// Serves `router` on a loopback port; answers its `ws://` base.
async fn listen(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("ws://{address}")
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next batch pushed on `socket`.
async fn next_batch(socket: &mut Socket) -> Vec<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a batch within 10 s")
            .expect("socket open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            return serde_json::from_str::<Vec<Value>>(&text).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_after_past_the_head_is_refused_before_the_upgrade() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        let base = listen(router.clone()).await;
        for id in ["1", "2"] {
            post(
                &router,
                "addIssue",
                "t-mary",
                json!({ "id": id, "title": "T", "author": "mary" }),
            )
            .await;
        }
        for after in [3, 1000] {
            let refused =
                tokio_tungstenite::connect_async(format!("{base}/events/live?after={after}&token=t-mary")).await;
            let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
                panic!("after={after} was not refused: {refused:?}");
            };
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "invalid_point", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("`after` {after} is past the log's head (2)")),
                "{message}"
            );
        }
        // Credentials are checked first.
        let stranger = tokio_tungstenite::connect_async(format!("{base}/events/live?after=3&token=t-nobody")).await;
        assert!(matches!(
            stranger,
            Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == StatusCode::UNAUTHORIZED
        ));
        // At the head: accepted, and the next event arrives.
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("{base}/events/live?after=2&token=t-mary"))
            .await
            .unwrap();
        post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "3", "title": "T", "author": "mary" }),
        )
        .await;
        let batch = next_batch(&mut socket).await;
        assert_eq!(
            batch.iter().map(|e| e["seq"].clone()).collect::<Vec<_>>(),
            vec![json!(3)]
        );
        // 3 is in the log now.
        assert!(
            tokio_tungstenite::connect_async(format!("{base}/events/live?after=3&token=t-mary"))
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_filters_by_user_and_type_and_refuses_strangers() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let base = listen(app(store.clone(), config())).await;
        let refused = tokio_tungstenite::connect_async(format!("{base}/events/live?token=t-nobody")).await;
        assert!(matches!(
            refused,
            Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == StatusCode::UNAUTHORIZED
        ));
        let (mut mary, _) = tokio_tungstenite::connect_async(format!("{base}/events/live?after=0&token=t-mary"))
            .await
            .unwrap();
        let (mut guest, _) = tokio_tungstenite::connect_async(format!("{base}/events/live?after=0&token=t-guest"))
            .await
            .unwrap();
        let (mut closes, _) =
            tokio_tungstenite::connect_async(format!("{base}/events/live?after=0&type=closeIssue&token=t-mary"))
                .await
                .unwrap();
        let ctx = Context::user("mary");
        store
            .command("addUser", json!({ "handle": "mary", "name": "Mary" }), &ctx)
            .await
            .unwrap();
        store
            .command("addIssue", json!({ "id": "1", "title": "A", "author": "mary" }), &ctx)
            .await
            .unwrap();
        store.command("closeIssue", json!({ "id": "1" }), &ctx).await.unwrap();
        let types = |batch: Vec<Value>| {
            batch
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        // How events are grouped into messages depends on whether they came
        // while catching up from the log or live: read until all are in.
        let mut seen = Vec::new();
        while seen.len() < 3 {
            seen.extend(types(next_batch(&mut mary).await));
        }
        assert_eq!(seen, ["addUser", "addIssue", "closeIssue"]);
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.extend(types(next_batch(&mut guest).await));
        }
        assert_eq!(seen, ["addIssue", "closeIssue"], "addUser is withheld from guests");
        assert_eq!(types(next_batch(&mut closes).await), ["closeIssue"]);
        mary.close(None).await.ok();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_resume_after_reconnect_misses_nothing_while_events_race() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let base = listen(app(store.clone(), config())).await;
        const TOTAL: u64 = 120;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..TOTAL {
                    let ctx = Context::user("mary");
                    let payload = json!({ "id": format!("{i:03}"), "title": "T", "author": "mary" });
                    store.command("addIssue", payload, &ctx).await.unwrap();
                    if i % 10 == 0 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        };
        let mut received = Vec::new();
        let mut connections = 0;
        while received.last().copied().unwrap_or(0) < TOTAL {
            let after = received.last().copied().unwrap_or(0);
            let url = format!("{base}/events/live?after={after}&token=t-mary");
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            connections += 1;
            // Take a couple of batches, then drop the connection mid-stream.
            for _ in 0..2 {
                received.extend(next_batch(&mut socket).await.iter().map(|e| e["seq"].as_u64().unwrap()));
                if received.last() == Some(&TOTAL) {
                    break;
                }
            }
            drop(socket);
        }
        writer.await.unwrap();
        assert!(connections > 2, "the test reconnected ({connections} connections)");
        assert_eq!(
            received,
            (1..=TOTAL).collect::<Vec<_>>(),
            "every event once, in seq order"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_need_no_token() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        let router = app(store.clone(), config());
        assert_eq!(
            call(&router, "GET", "/health", None, None).await,
            (StatusCode::OK, json!({ "status": "ok" }))
        );
        let added = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "A", "author": "mary" }),
        )
        .await;
        assert_eq!(added.0, StatusCode::OK, "{}", added.1);
        let failed = post(
            &router,
            "addIssue",
            "t-mary",
            json!({ "id": "1", "title": "A", "author": "mary" }),
        )
        .await;
        assert_eq!(failed.0, StatusCode::CONFLICT, "{}", failed.1);
        let (status, ready) = call(&router, "GET", "/ready", None, None).await;
        assert_eq!(status, StatusCode::OK, "{ready}");
        assert_eq!(
            ready,
            json!({ "database": true, "writer": true, "log": true, "log_seq": 1, "published_seq": 1, "lag": 0 })
        );
        let (status, Value::String(text)) = call(&router, "GET", "/metrics", None, None).await else {
            panic!("metrics are text");
        };
        assert_eq!(status, StatusCode::OK);
        for line in [
            "flux_dispatches_committed_total 1",
            "flux_dispatches_failed_total 1",
            "flux_events_committed_total 1",
            "flux_published_seq 1",
            "flux_log_seq 1",
            "flux_feed_lag_events 0",
            "flux_commit_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        // The database gone: not ready, and says why.
        store.pool().close().await;
        let (status, ready) = call(&router, "GET", "/ready", None, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
        assert_eq!(ready["database"], json!(false));
        assert!(ready["error"].is_string(), "{ready}");
    })
    .await;
}

/// The status and error code of a refused WebSocket upgrade.
fn refusal(
    result: Result<(Socket, impl std::fmt::Debug), tokio_tungstenite::tungstenite::Error>,
) -> (StatusCode, Value) {
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = result else {
        panic!("the upgrade was not refused");
    };
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
    (response.status(), body["error"]["code"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_connections_are_capped_in_all_and_per_user() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let store = tracker(&db).await;
        let config = HttpConfig {
            max_live: 3,
            max_live_per_user: 2,
            ..config()
        };
        let base = listen(app(store, config)).await;
        let open = |token: &'static str| {
            let url = format!("{base}/events/live?token={token}");
            async move { tokio_tungstenite::connect_async(url).await }
        };
        let (mary, _) = open("t-mary").await.expect("mary's first");
        let (_mary2, _) = open("t-mary").await.expect("mary's second");
        assert_eq!(
            refusal(open("t-mary").await),
            (StatusCode::TOO_MANY_REQUESTS, json!("too_many_requests"))
        );
        let (_guest, _) = open("t-guest").await.expect("another user");
        assert_eq!(
            refusal(open("t-guest").await),
            (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable"))
        );
        // A closed connection frees its place.
        drop(mary);
        let mut reopened = None;
        for _ in 0..100 {
            if let Ok((socket, _)) = open("t-mary").await {
                reopened = Some(socket);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(reopened.is_some(), "mary connects again once one of hers is closed");
    })
    .await;
}

/// A tracker store with `addIssueOnce`: refused once the issue exists (so a
/// resend after the commit is refused by the command itself).
async fn tracker_once(db: &TestDb) -> Store {
    let pool = db.pool_with_tables(&tracker_schema()).await;
    Store::builder(conformance::reducer())
        .config(test_config())
        .command(
            "addIssueOnce",
            command_fn(|store, payload, _ctx| async move {
                let id = payload["id"].as_str().unwrap_or_default().to_owned();
                if store.find_by_id("issues", id.as_str()).await?.is_some() {
                    return Err(flux_capacitor_server::StoreError::rejected(
                        None,
                        format!("issue {id} exists"),
                    ));
                }
                Ok(vec![Event::new("addIssue", payload)])
            }),
        )
        .open(pool)
        .await
        .expect("open store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_with_an_id_commits_once_and_answers_a_resend_from_the_log() {
    for_each_backend(|db| async move {
        let store = tracker_once(&db).await;
        let router = app(store.clone(), config());
        let id = uuid::Uuid::now_v7();
        let issue = json!({ "id": "1", "title": "Leaks", "author": "mary" });
        let uri = format!("/dispatch/addIssueOnce?id={id}");
        let send = |body: Value, token: &'static str| {
            let (router, uri) = (router.clone(), uri.clone());
            async move { call(&router, "POST", &uri, Some(token), Some(&body.to_string())).await }
        };
        let first = send(issue.clone(), "t-mary").await;
        assert_eq!(first.0, StatusCode::OK, "{}", first.1);
        assert_eq!(first.1[0]["id"], json!(id.to_string()));
        // The command now refuses (the issue exists), but the id is committed:
        // the resend is answered with the stored event, 200 as for a new commit.
        let again = send(issue.clone(), "t-mary").await;
        assert_eq!(again, first);
        assert_eq!(log_len(&store).await, 1);
        // Its body spelled otherwise (key order, spacing, `3.0` for `3`) is the same request.
        let respelled = r#"{ "author": "mary", "title": "Leaks", "id": "1" }"#;
        assert_eq!(
            call(&router, "POST", &uri, Some("t-mary"), Some(respelled)).await,
            first
        );
        let hash = first.1[0]["meta"]["request_hash"].as_str().unwrap();
        assert!(
            hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        // Another request under the id that the command refuses (another body,
        // or another command, unknown here) is not told it was written.
        let unknown = format!("/dispatch/noSuchCommand?id={id}");
        for uri in [&uri, &unknown] {
            let body = r#"{ "id": "1", "bogus": 1 }"#;
            let refused = call(&router, "POST", uri, Some("t-mary"), Some(body)).await;
            assert_error(&refused, StatusCode::CONFLICT, "id_conflict", "another request");
        }
        assert_eq!(log_len(&store).await, 1);
        // Another user resending it: a conflict, not someone else's answer.
        let guest = send(issue.clone(), "t-guest").await;
        assert_error(&guest, StatusCode::CONFLICT, "id_conflict", &id.to_string());
        // Other content under the id, which the command accepts: a conflict too.
        let other = json!({ "id": "2", "title": "Other", "author": "mary" });
        let conflict = send(other.clone(), "t-mary").await;
        assert_error(&conflict, StatusCode::CONFLICT, "id_conflict", "payload differs");
        assert_eq!(log_len(&store).await, 1, "nothing written by a conflict");
        // An id that is not a UUID, or the nil UUID: 400, nothing written.
        for bad in ["nope", "00000000-0000-0000-0000-000000000000"] {
            let uri = format!("/dispatch/addIssueOnce?id={bad}");
            let refused = call(&router, "POST", &uri, Some("t-mary"), Some(&other.to_string())).await;
            assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_event", "`id` must");
        }
        // The log and the live feed carry the id.
        let (status, events) = call(&router, "GET", "/events", Some("t-mary"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(events, first.1);
        let base = listen(router.clone()).await;
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("{base}/events/live?after=0&token=t-mary"))
            .await
            .unwrap();
        assert_eq!(Value::Array(next_batch(&mut socket).await), first.1);
        assert_eq!(log_len(&store).await, 1);
    })
    .await;
}
