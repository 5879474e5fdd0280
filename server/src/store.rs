//! [`Store`]: dispatch, subscribe, read.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use flux_capacitor::{Event, Key, Reducer, Schema, StoredEvent};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::StoreError;
use crate::command::CommandHandler;
use crate::db::DbPool;
use crate::icelog::IceLog;
use crate::input::{self, check_event};
use crate::live_feed::LiveFeed;
use crate::log_guard::LogGuard;
use crate::metrics::Metrics;
use crate::middleware::{Context, Middleware, Next};
use crate::read::EventQuery;
use crate::schema::DbSchema;
use crate::sql::backend::Backend;
use crate::subscribe::{self, Subscription};
use crate::versions;
use crate::writer::{self, Batch, Request};

/// Settings of a [`Store`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest accepted event: serialized `payload` plus `meta`, in bytes (default 1 MiB).
    pub max_event_bytes: usize,
    /// Pool size when the store connects by URL (default 10; SQLite in memory uses 1).
    pub max_connections: u32,
    /// Committed batches buffered per subscriber before it lags (default 1024).
    pub subscriber_buffer: usize,
    /// Most dispatches written in one transaction by the writer (default 256).
    pub max_group: usize,
    /// Dispatches waiting for the writer before `dispatch` waits to enqueue (default 4096).
    pub queue: usize,
    /// How often, at most, the writer looks for events committed by other
    /// processes on the same database while none come, to publish them to
    /// this store's subscribers (default 1 s; `None`: never look, and do not
    /// listen — one instance alone). On PostgreSQL other instances' commits
    /// arrive at once by `NOTIFY`, and this is only a safety net.
    pub poll_interval: Option<Duration>,
    /// How often the writer looks while events flow (default 5 ms): for
    /// 500 ms after a commit here or events found from elsewhere it looks
    /// this often, then doubles the wait on each look that finds nothing, up
    /// to [`Config::poll_interval`]. Each look is one indexed query.
    pub poll_min_interval: Duration,
    /// Events read per query when a subscription replays the log (default 500).
    pub replay_page: usize,
    /// About the most bytes (events as JSON text) a subscription holds from
    /// one read of the log while it catches up (default 1 MiB; a page holds
    /// at least one event, however big). See [`Subscription`].
    pub replay_page_bytes: usize,
    /// Keep row versions for the time machine (default `true`): each
    /// dispatch also writes the versions of the rows it changes, so that
    /// [`Store::as_of`] and [`Store::history`] (and so [`Store::restore`]) are indexed queries (see
    /// [`AsOf`](crate::AsOf)). Off, writes are cheaper and `as_of` and
    /// `history` are [`StoreError::InvalidPoint`]; versions kept before are
    /// neither read nor brought up to date (turning it on again builds
    /// missing versions tables only: drop the `flux_versions_*` tables to
    /// have them built again from the log).
    pub row_versions: bool,
    /// Where [`Store::freeze`] puts frozen events ([`crate::icelog`]): a
    /// directory, a `file://` URL, or `s3://bucket/prefix` (the `s3`
    /// feature). `None` (default): `<database file>.icelog` beside an SQLite
    /// file, none elsewhere (freezing is then an error). Reading frozen
    /// events needs no setting: each segment's location is in the manifest.
    pub icelog: Option<String>,
    /// Most events in one icelog segment (default 100,000).
    pub icelog_segment_events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_event_bytes: 1024 * 1024,
            max_connections: 10,
            subscriber_buffer: 1024,
            max_group: 256,
            queue: 4096,
            poll_interval: Some(Duration::from_secs(1)),
            poll_min_interval: Duration::from_millis(5),
            replay_page: 500,
            replay_page_bytes: 1024 * 1024,
            row_versions: true,
            icelog: None,
            icelog_segment_events: 100_000,
        }
    }
}

/// What the writer task shares with the store handles.
pub(crate) struct Shared {
    pub pool: DbPool,
    reducer: RwLock<Arc<dyn Reducer>>,
    pub config: Config,
    pub live: LiveFeed,
    /// The last `seq` published to the live feed.
    pub head: AtomicU64,
    pub metrics: Metrics,
    /// Held by the writer around each group, and by a rebuild's switch to pause writes.
    pub write_gate: tokio::sync::Mutex<()>,
    schema: RwLock<Arc<DbSchema>>,
    /// Whether the log is still the one this store follows.
    pub log: LogGuard,
    /// Frozen events: where they go, and what readers have cached.
    pub icelog: Arc<IceLog>,
}

impl Shared {
    /// The database, through its dialect's backend.
    pub fn db(&self) -> &dyn Backend {
        self.pool.backend()
    }

    /// The reducers in use (replaced by [`Store::rebuild`]).
    pub fn reducer(&self) -> Arc<dyn Reducer> {
        self.reducer.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_reducer(&self, reducer: Arc<dyn Reducer>) {
        *self.reducer.write().unwrap_or_else(|e| e.into_inner()) = reducer;
    }

    pub fn schema(&self) -> Arc<DbSchema> {
        self.schema.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_schema(&self, schema: Arc<DbSchema>) {
        *self.schema.write().unwrap_or_else(|e| e.into_inner()) = schema;
    }
}

struct Inner {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Request>,
    middleware: Vec<Arc<dyn Middleware>>,
    commands: HashMap<String, Arc<dyn CommandHandler>>,
    sagas: crate::saga::Registry,
}

/// The store: dispatches events in one transaction each, tells subscribers,
/// and reads the read model. Cheap to clone (all clones share one writer);
/// the writer stops when the last clone is dropped. Needs a Tokio runtime.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.inner.shared.pool.dialect())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Store`]: the reducer, then middleware, commands and settings.
pub struct StoreBuilder {
    reducer: Arc<dyn Reducer>,
    config: Config,
    middleware: Vec<Arc<dyn Middleware>>,
    commands: HashMap<String, Arc<dyn CommandHandler>>,
    pub(crate) sagas: crate::saga::Registry,
}

impl StoreBuilder {
    /// Replaces the settings.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a middleware; middleware runs in the order added.
    #[must_use]
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Registers the handler of command `name`.
    #[must_use]
    pub fn command(mut self, name: impl Into<String>, handler: impl CommandHandler) -> Self {
        self.commands.insert(name.into(), Arc::new(handler));
        self
    }

    /// Connects by URL (see [`DbPool::connect`]) and opens the store.
    pub async fn connect(self, url: &str) -> Result<Store, StoreError> {
        let pool = DbPool::connect(url, self.config.max_connections).await?;
        self.open(pool).await
    }

    /// Opens the store on an existing pool: creates the store's own tables if
    /// missing (`flux_events`, and `flux_store_lock` on MySQL — idempotent,
    /// safe to run from several processes), reads the read model's schema and
    /// starts the writer task.
    pub async fn open(self, pool: impl Into<DbPool>) -> Result<Store, StoreError> {
        let pool = pool.into();
        let db = pool.backend();
        db.migrate().await?;
        let icelog = Arc::new(IceLog::new(
            self.config
                .icelog
                .clone()
                .or_else(|| crate::icelog::objects::default_location(&pool)),
            self.config.icelog_segment_events,
        ));
        let schema = if self.config.row_versions {
            // Under a lock: instances starting at once must not race on the
            // versions tables' DDL, nor drop each other's half-built ones.
            let _file_lock = versions::startup_file_lock(&pool).await?;
            db.serialized_startup(Box::pin(versions::ensure_on_open(
                db,
                &icelog,
                &self.reducer,
                self.config.replay_page as u64,
            )))
            .await?
        } else {
            db.introspect().await?
        };
        for table in schema.tables.values() {
            let key = table.key_column();
            if let Some(fix) = db.dialect().syntax().key_order_fix(key) {
                tracing::warn!(
                    table = %table.name,
                    key = %key.name,
                    sql_type = %key.sql_type,
                    "the key's collation does not order by code point: every page in key order sorts the whole table ({fix})"
                );
            }
        }
        let head = db.last_seq().await?;
        let live = LiveFeed::new(self.config.subscriber_buffer);
        let shared = Arc::new(Shared {
            pool,
            reducer: RwLock::new(self.reducer),
            config: self.config,
            live,
            head: AtomicU64::new(head),
            metrics: Metrics::default(),
            write_gate: tokio::sync::Mutex::new(()),
            schema: RwLock::new(Arc::new(schema)),
            log: LogGuard::default(),
            icelog,
        });
        let (requests, receiver) = mpsc::channel(shared.config.queue.max(1));
        tokio::spawn(writer::run(shared.clone(), receiver));
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                requests,
                middleware: self.middleware,
                commands: self.commands,
                sagas: self.sagas,
            }),
        })
    }
}

impl Store {
    /// Starts building a store that runs `reducer` on every event.
    pub fn builder(reducer: impl Reducer + 'static) -> StoreBuilder {
        StoreBuilder {
            reducer: Arc::new(reducer),
            config: Config::default(),
            middleware: Vec::new(),
            commands: HashMap::new(),
            sagas: crate::saga::Registry::default(),
        }
    }

    /// Shorthand for `Store::builder(reducer).connect(url)`.
    pub async fn connect(url: &str, reducer: impl Reducer + 'static) -> Result<Store, StoreError> {
        Store::builder(reducer).connect(url).await
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The registered sagas and effects.
    pub(crate) fn sagas_registry(&self) -> &crate::saga::Registry {
        &self.inner.sagas
    }

    /// Writes `events` (checked, without middleware) with `extras` in their
    /// transaction ([`writer::Extras`]); with no events, the extras alone in
    /// a transaction of their own.
    pub(crate) async fn write_with(
        &self,
        events: Vec<Event>,
        extras: writer::Extras,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.shared.log.check()?;
        if events.is_empty() {
            extras.run_alone(self.inner.shared.db()).await?;
            return Ok(Vec::new());
        }
        let limit = self.inner.shared.config.max_event_bytes;
        for (index, event) in events.iter().enumerate() {
            check_event(index, event, limit)?;
        }
        self.send_with(Batch::New(events), Some(extras)).await
    }

    /// Whether the writer task still takes dispatches.
    pub(crate) fn writer_running(&self) -> bool {
        !self.inner.requests.is_closed()
    }

    /// `raw` as a key of `collection`: an integer when its key field is an
    /// integer column (and `raw` parses as one), else a string.
    pub fn parse_key(&self, collection: &str, raw: &str) -> Key {
        let schema = self.inner.shared.schema();
        let integer = schema
            .schema
            .collections
            .get(collection)
            .and_then(|c| c.fields.get(&c.key))
            .is_some_and(|ty| *ty == flux_capacitor::FieldType::Integer);
        match raw.parse::<i64>() {
            Ok(n) if integer => Key::from(n),
            _ => Key::from(raw),
        }
    }

    /// The database pool, to query the read model with sqlx directly.
    pub fn pool(&self) -> &DbPool {
        &self.inner.shared.pool
    }

    /// The read model's schema, as last read from the database.
    pub fn schema(&self) -> Schema {
        self.inner.shared.schema().schema.clone()
    }

    /// Re-reads the read model's schema (after a migration). The store also
    /// does this by itself when an operation names an unknown table or column.
    pub async fn refresh_schema(&self) -> Result<Schema, StoreError> {
        let db = self.inner.shared.db();
        let mut schema = db.introspect().await?;
        if self.inner.shared.config.row_versions {
            schema = versions::ensure_runtime(db, schema).await?;
        }
        let schema = Arc::new(schema);
        self.inner.shared.set_schema(schema.clone());
        Ok(schema.schema.clone())
    }

    /// Dispatches one event with an empty [`Context`]; see [`Store::dispatch_all_with`].
    pub async fn dispatch(&self, event: Event) -> Result<StoredEvent, StoreError> {
        let mut stored = self.dispatch_all_with(vec![event], &Context::default()).await?;
        stored.pop().ok_or(StoreError::Closed)
    }

    /// Dispatches events given in their wire form (checked by
    /// [`event_from_json`](crate::event_from_json)), all in one transaction.
    pub async fn dispatch_json(&self, events: Vec<Value>, ctx: &Context) -> Result<Vec<StoredEvent>, StoreError> {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(index, value)| input::event_from_json(index, value))
            .collect::<Result<Vec<_>, _>>()?;
        self.dispatch_all_with(events, ctx).await
    }

    /// Dispatches events with an empty [`Context`]; see [`Store::dispatch_all_with`].
    pub async fn dispatch_all(&self, events: Vec<Event>) -> Result<Vec<StoredEvent>, StoreError> {
        self.dispatch_all_with(events, &Context::default()).await
    }

    /// Dispatches `events` through the middleware (after writing `ctx`'s user
    /// and request id into their `meta`: [`Context::stamp`]), then writes them in **one
    /// transaction**: each gets an `id`, `seq` and `timestamp`, the reducer
    /// runs on it, and its changeset and log row are written. Returns the
    /// stored events once committed (and published to subscribers). On any
    /// error nothing is written and no subscriber hears of it.
    ///
    /// **Client-chosen ids** ([`Event::id`], [`Event::with_id`]): an id is
    /// committed at most once, on every database, across restarts and
    /// processes (checked under the writers' lock, with the log's unique
    /// index as the backstop). An event whose id is already in the log is
    /// answered with the stored event (same `id`, `seq`, `timestamp`,
    /// payload), is written and published no more, and the other events of
    /// the dispatch are committed as usual: the answer holds one stored event
    /// per event sent, in the order sent. Resending is therefore always
    /// safe. The same id with another `type`, `payload`, `error` or `meta`
    /// (compared in canonical form, without `meta.request_id` and `meta.request_hash`) is
    /// [`StoreError::IdConflict`] and nothing of the dispatch is written; an
    /// id twice in one dispatch, or the nil UUID, is
    /// [`StoreError::InvalidEvent`]. The check reads the log through its
    /// unique index on `id` (there since the first release: no migration).
    pub async fn dispatch_all_with(
        &self,
        mut events: Vec<Event>,
        ctx: &Context,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        for event in &mut events {
            ctx.stamp(event);
        }
        let span = tracing::info_span!(
            "dispatch",
            events = events.len(),
            first_type = events.first().map(|e| e.event_type.as_str()).unwrap_or(""),
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let next = Next {
            store: self,
            chain: &self.inner.middleware,
        };
        let result = next.run(events, ctx).instrument(span.clone()).await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(err) => span.record("outcome", err.kind()),
        };
        result
    }

    /// The end of the middleware chain: checks the events and queues them
    /// (none once the log was found replaced: see [`StoreError::LogReplaced`]).
    pub(crate) async fn write(&self, events: Vec<Event>) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.shared.log.check()?;
        let limit = self.inner.shared.config.max_event_bytes;
        let mut ids = HashMap::new();
        for (index, event) in events.iter().enumerate() {
            check_event(index, event, limit)?;
            if let Some(id) = event.id
                && let Some(first) = ids.insert(id, index)
            {
                return Err(StoreError::InvalidEvent {
                    index,
                    reason: format!("id {id} is also the id of event #{first} of this dispatch"),
                });
            }
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.send(Batch::New(events)).await
    }

    async fn send(&self, batch: Batch) -> Result<Vec<StoredEvent>, StoreError> {
        self.send_with(batch, None).await
    }

    /// Hands `batch` (and statements to write with it) to the writer task and waits for its answer.
    async fn send_with(&self, batch: Batch, extras: Option<writer::Extras>) -> Result<Vec<StoredEvent>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let mut request = Request::new(batch, reply, tracing::Span::current());
        request.extras = extras;
        self.inner
            .requests
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Appends already stored events verbatim — their `id`, `seq` and
    /// `timestamp` kept — running the reducer on each, in one transaction.
    /// Their `seq`s must continue this store's log (1, 2, ... on an empty
    /// one). This is how a log is replayed into fresh tables (restore, time
    /// travel, replay instead of migration). Middleware does not run.
    /// Events outside the value domain ([`flux_capacitor::domain`]) are
    /// refused (`unsupported_value`) before anything is written.
    pub async fn replay(&self, events: Vec<StoredEvent>) -> Result<Vec<StoredEvent>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        for (index, stored) in events.iter().enumerate() {
            input::check_domain(index, &stored.event)?;
        }
        self.send(Batch::Stored(events)).await
    }

    /// Runs the command handler `name` on `payload`, then dispatches the
    /// events it returns, together, with `ctx`.
    pub async fn command(&self, name: &str, payload: Value, ctx: &Context) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self.command_events(name, payload, ctx).await?;
        self.dispatch_all_with(events, ctx).await
    }

    /// Runs the command handler `name` on `payload` and returns its events
    /// without dispatching them (e.g. to authorize each event type first,
    /// as the HTTP service does).
    pub async fn command_events(&self, name: &str, payload: Value, ctx: &Context) -> Result<Vec<Event>, StoreError> {
        let handler = self
            .inner
            .commands
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::UnknownCommand { command: name.into() })?;
        handler.handle(self, payload, ctx).await
    }

    /// Committed events from now on, as a stream of batches in `seq` order.
    /// Dropping the stream unsubscribes.
    pub fn subscribe(&self) -> Subscription {
        subscribe::subscribe(&self.inner.shared, None)
    }

    /// Every stored event after `seq` (from the log), then the live events,
    /// without a gap or a duplicate at the seam.
    pub fn subscribe_from(&self, seq: u64) -> Subscription {
        subscribe::subscribe(&self.inner.shared, Some(seq))
    }

    /// Events of the log, in `seq` order.
    pub async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let shared = &self.inner.shared;
        crate::icelog::read::events(shared.db(), &shared.icelog, &query, None)
            .await
            .map_err(|err| match err {
                StoreError::Database { source, .. } => shared.log.read_error(shared.db(), *source),
                other => other,
            })
    }

    /// The log's events whose [`id`](StoredEvent::id) is one of `ids` (those
    /// that are there, frozen into the icelog or not), in `seq` order: e.g. to
    /// find out whether a dispatch whose answer was lost was committed. Each
    /// id is found by the log's unique index, or by `flux_icelog_ids`'.
    pub async fn events_by_id(&self, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        let shared = &self.inner.shared;
        let mut found = shared
            .db()
            .events_by_id(ids)
            .await
            .map_err(|err| shared.log.read_error(shared.db(), err))?;
        let missing: Vec<uuid::Uuid> = ids
            .iter()
            .filter(|id| !found.iter().any(|e| e.id == **id))
            .copied()
            .collect();
        if !missing.is_empty() {
            found.extend(crate::icelog::read::frozen_events_by_id(shared.db(), &shared.icelog, &missing).await?);
            found.sort_by_key(|e| e.seq);
        }
        Ok(found)
    }

    /// The `seq` of the last event this store has seen committed.
    pub fn head(&self) -> u64 {
        self.inner.shared.head.load(std::sync::atomic::Ordering::SeqCst)
    }
}
