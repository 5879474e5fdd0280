//! Scenario/snapshot testing: run a list of events through reducers over a
//! [`MemoryDatabase`](crate::MemoryDatabase) and compare the final state with
//! a snapshot file.
//!
//! A **scenario** file (`tests/scenarios/<name>.json`) holds a description,
//! an optional [`Schema`](crate::Schema) and the events:
//!
//! ```json
//! { "description": "create inserts a row",
//!   "schema": { "notes": { "fields": { "id": "text", "title": "text" } } },
//!   "events": [ { "type": "conformance/apply", "payload": { "ops": [
//!       { "op": "create", "collection": "notes", "row": { "id": "n1", "title": "Hi" } } ] } } ] }
//! ```
//!
//! Its **snapshot** (`tests/snapshots/<name>.json`) holds the outcome of each
//! event (`"ok"` or the error's [`kind`](crate::Error::kind)) and the final
//! state as [`MemoryDatabase::snapshot`](crate::MemoryDatabase::snapshot) gives it:
//!
//! ```json
//! { "results": ["ok"], "state": { "notes": [ { "id": "n1", "title": "Hi" } ] } }
//! ```
//!
//! Both are plain JSON with sorted keys, so the JS runner and the SQL backends
//! read the very same files, and a changed snapshot reads well in a diff.
//! Events get `seq` 1, 2, ... in order of success (a failed event takes no
//! `seq`, as in the store), the id `Uuid::from_u128(seq)` and a timestamp
//! derived from `seq` ([`timestamp_for`]).
//!
//! The read suite (`tests/reads/*.json`: a state, then reads with their
//! answers) is in [`reads`].

pub mod conformance;
#[cfg(feature = "std")]
pub mod reads;
mod scenario;
#[cfg(feature = "std")]
mod suite;

pub use scenario::{Outcome, Scenario, Snapshot, run_scenario, timestamp_for};
#[cfg(feature = "std")]
pub use suite::{ScenarioCase, ScenarioSuite};
