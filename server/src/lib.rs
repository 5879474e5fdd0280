//! The store of Flux Capacitor (Redux for the backend): events go in, the
//! reducers turn each into a changeset, and the store applies the changesets
//! and appends the events to its log in **one transaction** on SQLite,
//! PostgreSQL or MySQL/MariaDB, then tells its subscribers.
//!
//! ```
//! use flux_capacitor::{Event, FieldType, Filter};
//! use flux_capacitor::testing::conformance;
//! use flux_capacitor_server::{DbPool, FindOptions, Store, SubscriptionItem};
//! use futures::StreamExt;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("tracker.db").display());
//!
//! // The read model is the user's own tables, made by the user's migrations
//! // (e.g. `sqlx::migrate!()`); the store creates only its event log.
//! let pool = DbPool::connect(&url, 5).await?;
//! let DbPool::Sqlite(sqlite) = pool.clone() else { unreachable!() };
//! sqlx::query(
//!     "CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL,
//!                           priority INTEGER, closed BOOLEAN NOT NULL)",
//! )
//! .execute(&sqlite)
//! .await?;
//!
//! // The store runs the reducers (here the issue tracker of the conformance suite).
//! let store = Store::builder(conformance::reducer()).open(pool).await?;
//! assert_eq!(store.schema().collection("issues")?.fields["closed"], FieldType::Boolean);
//!
//! let mut feed = store.subscribe();
//! let added = store
//!     .dispatch(Event::new("addIssue", json!({ "id": "1", "title": "Leaks", "author": "doc" })))
//!     .await?;
//! assert_eq!(added.seq, 1);
//! store.dispatch(Event::new("closeIssue", json!({ "id": "1" }))).await?;
//!
//! // Subscribers get the committed events, with id, seq and timestamp, in order.
//! let Some(SubscriptionItem::Events(batch)) = feed.next().await else { panic!() };
//! assert_eq!((batch[0].seq, batch[0].event_type.as_str()), (1, "addIssue"));
//!
//! // Read back through the store (or with sqlx directly: they are plain tables).
//! let closed = store.find_all("issues", FindOptions::filter(Filter::eq("closed", true))).await?;
//! assert_eq!(
//!     serde_json::Value::Object(closed[0].clone()),
//!     json!({ "id": "1", "title": "Leaks", "author": "doc", "closed": true })
//! );
//! let (title,): (String,) = sqlx::query_as("SELECT title FROM issues WHERE id = '1'").fetch_one(&sqlite).await?;
//! assert_eq!(title, "Leaks");
//! # Ok(())
//! # }
//! ```
//!
//! # What it guarantees
//!
//! * **One dispatch, one transaction**: [`Store::dispatch_all`] writes every
//!   event, every changeset and every log row, or nothing — on a reducer
//!   error (or panic), an invalid operation, a constraint violation or a lost
//!   connection — and the [`StoreError`] names the event (index and type), the
//!   operation and the collection at fault. The store keeps working.
//! * **`MemoryDatabase` semantics**: changesets become SQL with exactly the
//!   meaning [`flux_capacitor::MemoryDatabase`] defines; the conformance suite
//!   in `tests/` runs on every backend. Each operation is validated with
//!   [`Operation::validate`](flux_capacitor::Operation::validate) against the
//!   schema read from the database, so unknown tables and columns, type
//!   mismatches and key changes are the core crate's errors; only
//!   `duplicate_key` comes from the database (its unique violation).
//!   Identifiers are used only once found in that schema, and quoted; values
//!   are always bound parameters.
//! * **Ordering**: `seq` is gap-free and in commit order, also across
//!   processes sharing the database (below).
//! * **Subscriptions** ([`Store::subscribe`], [`Store::subscribe_from`]) see
//!   committed events once each, in `seq` order, and catch up from the log
//!   after lagging ([`Subscription`]). A slow subscriber never blocks dispatch.
//! * **No lock-in**: the read model is the user's plain tables; query them
//!   with sqlx through [`Store::pool`], or with [`Store::find_all`],
//!   [`Store::find_by_id`] and [`Store::events`].
//!
//! # Ordering: one writer, group commit, a lock held until commit
//!
//! Every dispatch of a store goes through one writer task. It takes the first
//! queued dispatch plus every other one already waiting (up to
//! [`Config::max_group`]) and writes them in **one transaction**:
//!
//! 1. begin and take the writers' lock: `BEGIN IMMEDIATE` on SQLite,
//!    `pg_advisory_xact_lock` on PostgreSQL, `SELECT ... FOR UPDATE` of the one
//!    row of `flux_store_lock` on MySQL/MariaDB. The lock is held until commit,
//!    so writers of other processes on the same database wait too;
//! 2. read the log's last `seq` (and timestamp) *under the lock*;
//! 3. for each dispatch: `SAVEPOINT`; for each event assign `seq` (last + 1),
//!    an `id` and a UTC millisecond `timestamp` (never before the previous
//!    one), run the reducer, validate and apply each operation, insert the log
//!    row. On failure `ROLLBACK TO SAVEPOINT`: that dispatch gets its error and
//!    gives its `seq`s back, the others carry on;
//! 4. commit, then publish the committed dispatches to subscribers in `seq`
//!    order and answer each caller.
//!
//! Why: `seq` read under a lock held until commit is gap-free and commit order
//! is `seq` order, whatever the number of tasks or processes. One writer per
//! store means dispatchers of a process queue in memory instead of on the
//! database lock, and grouping the waiting dispatches into one transaction
//! pays the commit (the fsync, the main cost on SQLite) once per group instead
//! of once per dispatch. A failure of the transaction itself (lost connection,
//! failed commit) fails every dispatch of its group: the one at fault gets its
//! error, the others [`StoreError::Aborted`]; nothing of any of them is
//! written. A dispatch whose caller stops waiting may still commit.
//!
//! A group of two events or more is first written with **multi-row
//! statements**, under a savepoint: every event is reduced and validated,
//! the log rows go in a few `INSERT`s (while the reducers run), and the
//! operations on tables without triggers, foreign keys or unique indexes
//! besides the key go in waves — each row at most once per wave, its
//! operations in order, one statement per table, kind and set of columns.
//! Any error rolls back to the savepoint and the group is written again as
//! in step 3 (running the reducers again: they are pure), so errors and
//! outcomes are exactly those of step 3. New event ids
//! are version 7 UUIDs (time-ordered), so the log's index on `id` grows at
//! its end.
//!
//! # Several instances on one database
//!
//! Any number of processes may run a store on the same database (behind any
//! load balancer, no sticky sessions): the writers' lock keeps `seq`
//! gap-free, and each instance publishes the others' commits to its own
//! subscribers, exactly once and in `seq` order. On PostgreSQL the writer's
//! transaction sends `NOTIFY flux_events` with the new head and every
//! instance `LISTEN`s on a connection of its own (one more connection per
//! instance), so a commit reaches the other instances' subscribers in
//! milliseconds; a lost listener connection falls back to polling and
//! catches up from the log when it is back. On MySQL/MariaDB and SQLite an
//! adaptive tail looks at the log every [`Config::poll_min_interval`]
//! (5 ms) while events flow (one in the last 500 ms, here or elsewhere) and
//! backs off to [`Config::poll_interval`] (1 s) when idle; each look is one
//! indexed query. A WebSocket client that
//! reconnects to another instance resumes from its last `seq`. The README's
//! "Running several instances" section says what each instance needs.
//!
//! # Time travel, restore, rebuild
//!
//! The log is the truth: [`Store::as_of`] gives the read model at any past
//! `seq` or time, read with SQL from the row versions the store keeps in
//! each dispatch's transaction (see [`history`](crate::AsOf) and the README),
//! [`Store::history`] every change of one row, [`Store::restore`] brings a
//! destroyed row back with an ordinary logged event, and [`Store::rebuild`]
//! replays the log into new tables with new reducers and switches to them
//! ([`rebuild`] module) — replay instead of data migrations. Old events can
//! be moved out of the database into compressed segments and back
//! ([`Store::freeze`], [`Store::thaw`]: the [`icelog`]), every reader of the
//! log reading through the boundary.
//!
//! # Middleware and commands
//!
//! [`Middleware`] wraps every dispatch (enrich `meta`, validate, authorize by
//! event type, log, reject — then nothing is written); [`CommandHandler`]s
//! turn `command + payload + context` into events after checking the read
//! model ([`Store::command`]).
//!
//! # The read model
//!
//! A collection is a table with a single-column primary key (text or
//! integer). Its columns of these types are its fields; other columns are not
//! seen by the store:
//!
//! | field type | SQLite | PostgreSQL | MySQL / MariaDB |
//! | --- | --- | --- | --- |
//! | `text` | `TEXT`, `VARCHAR`... | `text`, `varchar`, `char` | `char`, `varchar`, `*text` |
//! | `integer` | `INTEGER`... | `int2`, `int4`, `int8` | `tinyint`..`bigint` (not `tinyint(1)`) |
//! | `real` | `REAL`, `DOUBLE`, `FLOAT` | `float4`, `float8` | `float`, `double` |
//! | `boolean` | `BOOLEAN` | `boolean` | `tinyint(1)` / `BOOLEAN` |
//! | `json` | `JSON` | `json`, `jsonb` | `JSON` |
//!
//! The schema is read when the store opens and again whenever an operation
//! names an unknown table or column (a migration may have added it), or on
//! [`Store::refresh_schema`]. The store's own tables are never part of it.
//!
//! Reading back, `null` and absent are the same: SQL `NULL` columns are left
//! out of rows. Booleans come back as JSON booleans (also from MySQL's
//! `TINYINT(1)`), JSON columns as JSON values. Rows are ordered by key; text
//! compares and orders by code point on every backend (`COLLATE BINARY`,
//! `COLLATE "C"`, binary strings on MySQL unless the column's collation is
//! already an exact one such as `utf8mb4_nopad_bin`).
//!
//! Where SQL cannot keep what `MemoryDatabase` keeps:
//!
//! * a `real` column stores a float: a value written as `3` reads back as `3`
//!   (integral values within ±2⁵³ are returned as JSON integers, as in
//!   JavaScript), but one written as `3.0` also reads back as `3`;
//! * SQLite gives a column declared `JSON` numeric affinity: a top-level JSON
//!   number `1.0` stored there reads back as `1` (objects, arrays, strings and
//!   booleans are kept exactly);
//! * a MySQL primary key whose collation pads spaces (`utf8mb4_bin`) refuses
//!   both `"a"` and `"a "`; use a `*_nopad_bin` collation for exact keys.
//!   Lookups by key are exact either way.
//!
//! # The event log
//!
//! `flux_events(seq, id, type, payload, meta, error, timestamp,
//! changeset_hash)`, indexed on `seq` (primary key), `id` (unique), `type` and
//! `timestamp`; on MySQL also the one-row `flux_store_lock`. Created if
//! missing when the store opens ([`StoreBuilder::open`]; idempotent, safe from
//! several processes at once); a log made before `changeset_hash` (the hash of
//! each event's changeset, [`flux_capacitor::StoredEvent::hash`]) gets the
//! column then, `NULL` in its old rows.
//! Native types where the database has them: `UUID` and `TIMESTAMPTZ`
//! on PostgreSQL, `DATETIME(3)` (UTC) on MySQL/MariaDB, text on SQLite.
//! `payload` and `meta` are text on every database (`TEXT`, `LONGTEXT`), the
//! JSON exactly as the store wrote it: a JSON column type would let the
//! database rewrite it (PostgreSQL's `JSONB` turns `1e17` into
//! `100000000000000000` and `-0.0` into `0`), and replay would then differ
//! from the live dispatch. A PostgreSQL log made with `JSONB` columns is
//! converted to `TEXT` when a store opens it (once; the table is rewritten). [`Store::replay`] appends stored events verbatim into a fresh
//! store: replaying a log into empty tables gives the live tables.
//! Events frozen by [`Store::freeze`] live in segments listed by the
//! manifest table `flux_icelog` (created with the log, on every database);
//! the log is `flux_events` plus those segments ([`icelog`]).

pub mod cli;
mod command;
mod db;
mod error;
mod history;
pub mod http;
pub mod icelog;
mod input;
mod live_feed;
mod log_guard;
mod metrics;
mod middleware;
mod read;
pub mod rebuild;
mod reduce;
pub mod saga;
mod schema;
mod sql;
pub mod starter;
mod store;
mod subscribe;
#[cfg(feature = "testing")]
pub mod testing;
mod versions;
mod writer;

pub use command::{CommandHandler, command_fn};
pub use db::{DbPool, Dialect};
pub use error::{EventAt, OperationAt, StoreError};
pub use history::{AsOf, Change, Point};
pub use icelog::{FreezeBelow, IceProgress, IceReport, SegmentInfo};
pub use input::{MAX_TYPE_CHARS, event_from_json};
pub use metrics::Health;
pub use middleware::{Context, Middleware, Next};
pub use read::{Direction, EventQuery, FindOptions};
pub use rebuild::{RebuildProgress, RebuildReport};
pub use saga::{
    Effect, EffectError, ParkedEffect, Saga, SagaAction, SagaConfig, SagaInfo, SagaRunner, effect_fn, saga_fn,
};
pub use store::{Config, Store, StoreBuilder};
pub use subscribe::{Subscription, SubscriptionItem};

/// The store's event log table.
pub const EVENTS_TABLE: &str = "flux_events";
/// The read-model snapshots older versions kept for [`Store::as_of`] (`seq`,
/// `state` as JSON text): no longer written nor read (row versions replace
/// them), left to existing databases to drop; never part of the read model.
pub const SNAPSHOTS_TABLE: &str = "flux_snapshots";
/// The icelog's manifest: one row per frozen segment ([`icelog`]).
pub const ICELOG_TABLE: &str = "flux_icelog";
/// The ids of the events in the icelog, with their `seq`: what keeps a resent
/// event id committed once after its event was frozen.
pub const ICELOG_IDS_TABLE: &str = "flux_icelog_ids";
/// The writers' lock table (MySQL/MariaDB).
pub const LOCK_TABLE: &str = "flux_store_lock";
