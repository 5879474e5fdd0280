//! The HTTP + WebSocket service over a [`Store`]: `app(store, config)` is an
//! [`axum::Router`] to serve as it is or to nest into your own.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /dispatch/{command}[?id=<uuid>]` | runs command handler `command` on the JSON body (`Content-Type: application/json` required, else 415), dispatches its events in one transaction, answers the stored events (`id`, `seq`, `timestamp` added); with a client-chosen `id` a resend is answered from the log, 200 as a new commit, and other content under the id is 409 `id_conflict` ([`Store::dispatch_all_with`]) |
//! | `GET /collections/{name}` | rows, in key order; `limit` (default and maximum [`HttpConfig::max_page`]), `offset`, `order=field,-other` (`-` descending; the key breaks ties), and `field=value` equality filters typed by the column (`done=true`, `priority=2`) |
//! | `GET /collections/{name}/{id}` | one row, or 404; `{id}` is percent-decoded, and the row whose key is the empty string is `GET /collections/{name}/` (likewise `/collections/{name}//history` and `//restore`) |
//! | `GET /collections/{name}?as_of=` | the rows as they were right after a `seq` (a number) or an RFC 3339 time ([`Store::as_of`]; a time after the last event is now, a `seq` past the head is 400 `invalid_point`); the other parameters apply as above |
//! | `GET /collections/{name}/{id}/history` | every event that changed the row: `[{ "event", "before", "after" }]` ([`Store::history`]) |
//! | `POST /collections/{name}/{id}/restore[?id=<uuid>]` | brings a destroyed row back with a logged `flux/restore` event ([`Store::restore`]; `Content-Type: application/json` required, else 415, with no body or `{}`); answers the stored event; 409 when it exists or never existed; with a client-chosen `id`, a resend of the same restore is answered from the log (the row is never restored twice) |
//! | `GET /events?after=&limit=&type=` | the log after `seq` `after` (default 0), at most `limit` (default and maximum [`HttpConfig::max_page`]) events the caller may receive, optionally only of the given `type`s (repeatable); an answer that may not be the log's end carries [`NEXT_AFTER`] (`Flux-Next-After: <seq>`), the `after` of the next page |
//! | `GET /health` | liveness: `{"status":"ok"}` while the process serves (no authentication) |
//! | `GET /ready` | readiness: 200 when the database answers and the writer runs, else 503; the body is [`Health`](crate::Health): `database`, `writer`, `log_seq`, `published_seq`, `lag` (no authentication) |
//! | `GET /metrics` | Prometheus metrics ([`Store::metrics`]): dispatches, events, commit latency and group sizes, subscribers, the feed's lag (no authentication: they hold counts, never data; keep them on an internal network if counts are sensitive) |
//! | `GET /sagas` | each saga ([`Store::sagas`]): `name`, `position`, `lag`, `pending_effects`, `parked_effects`, `timers`, `leased` (an instance runs it), `failing` and a short `reason` naming the effect (never error text; no authentication, like `/metrics`) |
//! | `GET /events/live?after=&type=&token=` (WebSocket) | committed batches as they commit, as text messages each holding a JSON array of stored events in `seq` order (at most [`HttpConfig::live_frame_bytes`]: a bigger batch comes as several messages); with `after`, first every stored event after that `seq`: a client that reconnects with its last `seq` misses nothing and sees nothing twice; an `after` past the log's head is refused with 400 `invalid_point` before the upgrade; a subscriber that falls behind is closed with [`CLOSE_BEHIND`] (4001): reconnect with the last `seq` |
//!
//! Errors are `{"error": {"code", "message"}}` ([`ApiError`]) with the
//! matching status: 400 for malformed requests and unknown commands or
//! fields, 401/403 for authentication and authorization, 404 for unknown
//! collections, rows and routes, 405 for a method the route does not take
//! (with `Allow`), 409 for a duplicate key, 413 for a body over
//! [`HttpConfig::body_limit`], 415 for a dispatch or restore whose body is not
//! `application/json`, 422 for events the reducers or the schema
//! refuse, 429 for a user over [`HttpConfig::max_live_per_user`] live
//! connections or over [`HttpConfig::dispatch_rate`] (with `Retry-After`),
//! 503 when the server has [`HttpConfig::max_live`] open, 500
//! (with no database detail) for failures of the database.
//!
//! **Limits.** Serve it with [`serve`] (not `axum::serve`) for the
//! connection limits: a header-read timeout against clients that never
//! finish a request, an idle timeout and a cap on open connections. Each
//! `/events/live` subscriber holds a bounded amount of memory whatever the
//! events' sizes and its speed, and one that falls behind is closed with
//! [`CLOSE_BEHIND`] (see [`HttpConfig::live_frame_bytes`]). `SECURITY.md`
//! lists every limit and its default.
//!
//! **Authentication** ([`Authenticator`]) turns the bearer token (the
//! `Authorization: Bearer` header; only on the
//! WebSocket `/events/live` also the `token` query parameter, as browsers
//! cannot set headers there — anywhere else a token in the URL would end up in
//! access logs, so `/events?token=` is a 400) into a
//! [`Context`]; the store writes its user and request id (from an
//! `x-request-id` header) into every dispatched event's `meta`
//! ([`Context::stamp`]), so the log says who did what.
//! **Authorization** ([`Access`]) decides which commands and event types a
//! user may dispatch, which collections they may read, and which events
//! each reader of `/events` and `/events/live` may receive.
//! **Cross-origin** calls from a page on another origin are refused by the
//! browser unless [`HttpConfig::cors`] allows that origin (off by default;
//! [`CorsConfig`] compares it with serving the page from the same origin or
//! through a dev proxy, and says what it trades).
//!
//! ```
//! use flux_capacitor::testing::conformance;
//! use flux_capacitor_server::Store;
//! use flux_capacitor_server::http::{app, serve, BearerTokens, HttpConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect("sqlite::memory:", conformance::reducer()).await?;
//! let config = HttpConfig::default().authenticator(BearerTokens::new([("secret", "doc")]));
//! let router = app(store, config.clone());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // Until Ctrl-C: serve(listener, router, &config, async { tokio::signal::ctrl_c().await.unwrap() }).await?;
//! serve(listener, router, &config, async {}).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`Context`]: crate::Context
//! [`Context::stamp`]: crate::Context::stamp

mod access;
mod connections;
mod cors;
mod error;
mod extract;
mod files;
mod live;
mod ops;
mod rate;
mod routes;
mod sagas;
mod slots;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

pub use access::{Access, AllowAll, Anonymous, Authenticator, BearerTokens};
pub use connections::serve;
pub use cors::{CorsConfig, InvalidOrigin};
pub use error::ApiError;
pub use live::CLOSE_BEHIND;
pub use rate::RateLimit;
pub use routes::NEXT_AFTER;

use crate::Store;

/// The answer to a method a route does not take: the usual error body
/// (axum adds the `Allow` header on a route's own).
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("`{}` does not take {method}", uri.path()))
}

/// Settings of the service: authentication, authorization, limits and an
/// optional directory of static files.
#[derive(Clone)]
pub struct HttpConfig {
    /// Who is asking (default: [`Anonymous`]).
    pub authenticator: Arc<dyn Authenticator>,
    /// What they may do (default: [`AllowAll`]).
    pub access: Arc<dyn Access>,
    /// Largest accepted request body in bytes (default 1 MiB).
    pub body_limit: usize,
    /// Default and largest page of `/collections` and `/events` (default 1000).
    pub max_page: u64,
    /// Most events of the log one `GET /events` reads to find a page of
    /// events the caller may receive (default 100,000; never fewer than the
    /// page's `limit`). Under an
    /// [`Access::may_receive`] that withholds most events, a page could
    /// otherwise read the whole log, a cost growing with its length; a page
    /// cut short here carries [`NEXT_AFTER`] saying where to go on.
    pub max_events_scanned: u64,
    /// Files served for every other path (`index.html` for directories),
    /// e.g. a frontend (default: none). Never anything outside it: a
    /// symbolic link leading out of the directory is answered 404, like `..`
    /// (see [`static_dir`](Self::static_dir)).
    pub static_dir: Option<PathBuf>,
    /// Cross-origin requests allowed (default: none; see [`HttpConfig::cors`]).
    pub cors: Option<CorsConfig>,
    /// Most `/events/live` WebSockets open at once in all (default 10,000);
    /// one more is answered 503 `unavailable` before the upgrade.
    pub max_live: usize,
    /// Most `/events/live` WebSockets one authenticated user keeps open
    /// (default 16); one more is answered 429 `too_many_requests`.
    /// Anonymous subscribers count towards [`HttpConfig::max_live`] only.
    pub max_live_per_user: usize,
    /// Largest `/events/live` message, in bytes of JSON (default 1 MiB): a
    /// batch of events longer than that is sent as several messages, each a
    /// JSON array of whole events in `seq` order (an event longer than this
    /// alone is one message of its own).
    ///
    /// With [`Config::replay_page_bytes`](crate::Config::replay_page_bytes),
    /// this bounds what one subscriber holds, however big the log, its events
    /// or its lag: one page of the log read while it catches up (held as
    /// parsed JSON, which may take a few times its text) plus one message
    /// being sent (held twice for a moment: the text and the socket's copy).
    pub live_frame_bytes: usize,
    /// How long a subscriber's socket may take no message (default 30 s):
    /// then it is closed with [`CLOSE_BEHIND`] and a reason naming the last
    /// `seq` sent, and the client resumes from its last `seq` (the JS
    /// `connectLive` does so at once). Meanwhile it waits, holding the bound
    /// [`HttpConfig::live_frame_bytes`] describes, and reads no further: the
    /// shared live feed keeps at most
    /// [`Config::subscriber_buffer`](crate::Config::subscriber_buffer)
    /// batches for it, then it lags and later catches up from the log.
    pub live_send_timeout: Duration,
    /// How often an idle subscriber is pinged (default 30 s; `None`: never).
    /// One that answers nothing for two intervals is closed: a dead peer
    /// would otherwise keep its place under [`HttpConfig::max_live`] for ever.
    pub live_ping_interval: Option<Duration>,
    /// [`serve`]: how long a client has to send a request's headers, from
    /// the connection's start or the previous response (default 10 s);
    /// then its connection is closed. So it is also how long an idle
    /// keep-alive connection waits for its next request.
    pub header_read_timeout: Duration,
    /// [`serve`]: a connection that reads and writes nothing for this long
    /// is closed once its request in progress, if any, is answered, and
    /// dropped if still silent as long again (default 60 s: a stalled
    /// upload, or a client that stopped reading). Upgraded WebSockets are
    /// not subject to it ([`HttpConfig::live_ping_interval`] is theirs).
    pub idle_timeout: Duration,
    /// [`serve`]: most connections open at once, WebSockets included
    /// (default 16,384; keep it above [`HttpConfig::max_live`] and under the
    /// process's open-files limit). More wait in the system's listen queue
    /// until one closes.
    pub max_connections: usize,
    /// `POST /dispatch` requests each caller may make (default 100 a second,
    /// bursts of 200; `None`: no limit). Over it a request is answered 429
    /// `too_many_requests` with `Retry-After` (whole seconds) and does
    /// nothing. Every authenticated request counts, whatever its answer
    /// (a 403 or 400 too; a 429 does not). Authenticated users are
    /// counted by user id; anonymous callers by IP address under [`serve`]
    /// (behind a proxy, that is the proxy's), else all together. The default
    /// is generous on purpose: no person clicks that fast, while a runaway
    /// script or a stolen token cannot flood the log; set what fits your app.
    pub dispatch_rate: Option<RateLimit>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            authenticator: Arc::new(Anonymous),
            access: Arc::new(AllowAll),
            body_limit: 1024 * 1024,
            max_page: 1000,
            max_events_scanned: 100_000,
            static_dir: None,
            cors: None,
            max_live: 10_000,
            max_live_per_user: 16,
            live_frame_bytes: 1024 * 1024,
            live_send_timeout: Duration::from_secs(30),
            live_ping_interval: Some(Duration::from_secs(30)),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 16_384,
            dispatch_rate: Some(RateLimit::new(100, 200)),
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("body_limit", &self.body_limit)
            .field("max_page", &self.max_page)
            .field("max_events_scanned", &self.max_events_scanned)
            .field("static_dir", &self.static_dir)
            .field("cors", &self.cors)
            .field("max_live", &self.max_live)
            .field("max_live_per_user", &self.max_live_per_user)
            .field("live_frame_bytes", &self.live_frame_bytes)
            .field("live_send_timeout", &self.live_send_timeout)
            .field("live_ping_interval", &self.live_ping_interval)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("dispatch_rate", &self.dispatch_rate)
            .finish_non_exhaustive()
    }
}

impl HttpConfig {
    /// Sets the authenticator.
    #[must_use]
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Arc::new(authenticator);
        self
    }

    /// Sets the access policy.
    #[must_use]
    pub fn access(mut self, access: impl Access) -> Self {
        self.access = Arc::new(access);
        self
    }

    /// Serves the files of `dir` for every path no route takes, without
    /// authentication.
    ///
    /// Only what is inside `dir` is served: `..`, absolute paths (also
    /// percent-encoded) and symbolic links whose target is outside `dir` are
    /// answered 404, like a missing file; links that stay inside work. Point
    /// it at a directory holding only what the app ships (a build output),
    /// not at sources: every file in it is public.
    #[must_use]
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub config: HttpConfig,
    pub live: Arc<slots::LiveSlots>,
    pub dispatch_rate: Arc<rate::DispatchLimiter>,
}

/// The service's router over `store`.
pub fn app(store: Store, config: HttpConfig) -> Router {
    let static_dir = config.static_dir.clone();
    let body_limit = config.body_limit;
    let cors = config.cors.clone();
    let dispatch_rate = Arc::new(rate::DispatchLimiter::new(config.dispatch_rate));
    let router = Router::new()
        .route("/dispatch/{command}", post(routes::dispatch))
        .route("/collections/{name}", get(routes::find_all))
        .route("/collections/{name}/{id}", get(routes::find_by_id))
        .route("/collections/{name}/{id}/history", get(routes::history))
        .route("/collections/{name}/{id}/restore", post(routes::restore))
        // The row whose key is "": its `{id}` segment is empty, which a
        // route parameter never matches (`extract::ReadableRow` reads "").
        .route("/collections/{name}/", get(routes::find_by_id))
        .route("/collections/{name}//history", get(routes::history))
        .route("/collections/{name}//restore", post(routes::restore))
        .route("/events", get(routes::events))
        .route("/events/live", get(live::live))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/sagas", get(sagas::sagas))
        // After every route: it applies to those registered before it.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(AppState {
            store,
            config,
            live: Arc::default(),
            dispatch_rate,
        });
    let router = match static_dir {
        Some(dir) => {
            let files = files::StaticFiles::new(dir);
            router.fallback(move |request: axum::extract::Request| {
                let files = files.clone();
                async move {
                    if matches!(*request.method(), Method::GET | Method::HEAD) {
                        files.serve(request).await
                    } else {
                        let allow = [(header::ALLOW, "GET,HEAD")];
                        (
                            allow,
                            method_not_allowed(request.method().clone(), request.uri().clone()).await,
                        )
                            .into_response()
                    }
                }
            })
        }
        None => router.fallback(|| async { ApiError::NotFound("no such route".into()) }),
    };
    cors::layer(router, cors.as_ref()).layer(TraceLayer::new_for_http())
}
