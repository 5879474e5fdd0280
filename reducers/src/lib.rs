//! Redux for the backend: pure reducers turn events into changesets.
//!
//! The original library's issue tracker, end to end in memory:
//!
//! ```
//! use flux_capacitor::{combine_reducers, Collection, Error, Event, Changeset, MemoryDatabase, StoredEvent};
//! use serde::{Deserialize, Serialize};
//! use serde_json::json;
//!
//! #[derive(Serialize, Deserialize)]
//! struct Issue { id: String, title: String, closed: bool }
//!
//! // Typed events; on the wire they stay Flux Standard Actions.
//! #[derive(Deserialize)]
//! #[serde(tag = "type", content = "payload", rename_all = "camelCase")]
//! enum IssueEvent {
//!     AddIssue { id: String, title: String },
//!     CloseIssue { id: String },
//! }
//!
//! // A reducer: (collection, event) -> changeset. Pure: no I/O, no clock.
//! fn issues(issues: &Collection<Issue>, event: &StoredEvent) -> Result<Changeset, Error> {
//!     Ok(match event.decode::<IssueEvent>()? {
//!         Some(IssueEvent::AddIssue { id, title }) => issues.create(&Issue { id, title, closed: false })?,
//!         Some(IssueEvent::CloseIssue { id }) => issues.update_by_id(id, json!({ "closed": true }))?,
//!         None => issues.no_change(), // an event this reducer does not know
//!     })
//! }
//!
//! let root = combine_reducers().collection("issues", issues);
//! let mut db = MemoryDatabase::new();
//!
//! let add = Event::new("addIssue", json!({ "id": "1", "title": "Flux capacitor leaks" }));
//! let changeset = db.dispatch(&root, &StoredEvent::at(1, "2026-11-22T19:20:51Z", add))?;
//! assert_eq!(changeset.to_string(),
//!     r#"{"op":"create","collection":"issues","row":{"closed":false,"id":"1","title":"Flux capacitor leaks"}}"#);
//!
//! let unknown = Event::new("somethingElse", json!({}));
//! assert!(db.dispatch(&root, &StoredEvent::at(2, "2026-11-22T19:20:52Z", unknown))?.is_empty());
//!
//! assert_eq!(db.snapshot(), json!({ "issues": [{ "id": "1", "title": "Flux capacitor leaks", "closed": false }] }));
//! # Ok::<(), Error>(())
//! ```
//!
//! * [`Event`] / [`StoredEvent`]: Flux Standard Actions, and the logged form
//!   with `id`, `seq`, `timestamp`.
//! * [`Changeset`] of [`Operation`]s: `create`, `update_by_id`,
//!   `destroy_by_id`, `update_where`, `destroy_where`; the empty changeset is
//!   no change. [`Filter`] selects rows for the `*_where` operations.
//! * [`Collection`]: a typed handle whose methods build changesets.
//! * [`Reducer`], [`aggregate_reducers`], [`combine_reducers`], [`event_log`].
//! * [`MemoryDatabase`]: **the** definition of what each operation means —
//!   every other applier (SQL, wasm + JS) must agree with it — and of what
//!   a read means ([`MemoryDatabase::find_all`] with [`FindOptions`]).
//! * [`testing`]: the scenario/snapshot format shared by every backend.
//!
//! The crate is `no_std` (with `alloc`); the default `std` feature only adds
//! the file-based scenario suite.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod changeset;
mod collection;
pub mod domain;
mod error;
mod event;
mod filter;
pub mod hash;
mod key;
mod memory;
mod query;
mod reducer;
mod schema;
pub mod testing;
mod validate;

pub use changeset::{Changeset, DEFAULT_KEY, Operation, Row};
pub use collection::Collection;
pub use error::Error;
pub use event::{Event, StoredEvent};
pub use filter::{Comparison, Filter, compare_scalars};
pub use hash::changeset_hash;
pub use key::Key;
pub use memory::MemoryDatabase;
pub use query::{Direction, FindOptions, check_key, order_values};
pub use reducer::{
    Aggregate, BoundReducer, BoxReducer, Combined, RESTORE_EVENT, Reducer, Reduction, aggregate_reducers, boxed,
    combine_reducers, event_log, restore,
};
pub use schema::{CollectionSchema, FieldType, Schema};
pub use validate::row_key;
