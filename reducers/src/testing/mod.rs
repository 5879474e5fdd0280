//! Snapshot tests for your reducers: scenario files (events in) and snapshot
//! files (outcomes and state out), the same files checked natively here, in
//! wasm by the npm package's `flux-capacitor/testing`, and on a real database
//! by `flux_capacitor_server::testing::SqlScenarios`.
//!
//! # Layout
//!
//! A directory holds `scenarios/<name>.json` and `snapshots/<name>.json`
//! (the project's own conformance suite is `tests/` at the repository root;
//! an app's can be its crate's `tests/`).
//!
//! A **scenario** has a description, optionally a [`Schema`](crate::Schema)
//! (then the in-memory run checks what a SQL database checks), optionally an
//! `initial` state (rows present before the first event, written as they are,
//! keyed by the schema's key or `id`), and the events — each a Flux Standard
//! Action, optionally with the outcome it must have (`"expect"`: `"ok"` or an
//! error [`kind`](crate::Error::kind)):
//!
//! ```json
//! { "description": "renaming a note keeps its text; a rename without a title is refused",
//!   "initial": { "notes": [ { "id": "n1", "title": "Hi", "text": "..." } ] },
//!   "events": [
//!     { "type": "renameNote", "payload": { "id": "n1", "title": "Hello" } },
//!     { "type": "renameNote", "payload": { "id": "n1" }, "expect": "invalid_payload" } ] }
//! ```
//!
//! Its **snapshot** holds the outcome of each event and the final state as
//! [`MemoryDatabase::snapshot`](crate::MemoryDatabase::snapshot) gives it
//! (collections by name, rows in key order):
//!
//! ```json
//! { "results": ["ok", "invalid_payload"],
//!   "state": { "notes": [ { "id": "n1", "text": "...", "title": "Hello" } ] } }
//! ```
//!
//! Both are plain JSON with sorted keys, so every runner reads the very same
//! files and a changed snapshot reads well in a code review. Events get `seq`
//! 1, 2, ... in order of success (a failed event takes no `seq`, as in the
//! store), the id `Uuid::from_u128(seq)` and the timestamp
//! [`timestamp_for`]`(seq)`, so reducers that use them give the same
//! snapshot everywhere.
//!
//! # Checking
//!
//! [`ScenarioSuite::check`] is the whole test. A failure shows a unified diff
//! of the snapshot (`-` expected, `+` actual), or the events whose `expect`
//! did not hold; a scenario without a snapshot fails showing the snapshot it
//! would record. Run the tests with `UPDATE_SNAPSHOTS=1` to (re)record the
//! snapshots, then review them in the diff of your commit — as with Jest's
//! `-u`. (Plain JSON rather than `insta`'s `.snap` files: the JS and SQL
//! runners read the same files.)
//!
//! ```
//! use flux_capacitor::testing::ScenarioSuite;
//! use flux_capacitor::{Changeset, Collection, Error, StoredEvent, combine_reducers};
//! use serde_json::{Value, json};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(tag = "type", content = "payload", rename_all = "camelCase")]
//! enum NoteEvent { RenameNote { id: String, title: String } }
//!
//! fn notes(notes: &Collection<Value>, event: &StoredEvent) -> Result<Changeset, Error> {
//!     Ok(match event.decode::<NoteEvent>()? {
//!         Some(NoteEvent::RenameNote { id, title }) => notes.update_by_id(id, json!({ "title": title }))?,
//!         None => notes.no_change(),
//!     })
//! }
//! let root = || combine_reducers().collection("notes", notes);
//!
//! // Usually files in your crate; written here to keep the example whole.
//! let dir = std::env::temp_dir().join(format!("flux-scenarios-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("scenarios"))?;
//! std::fs::create_dir_all(dir.join("snapshots"))?;
//! std::fs::write(dir.join("scenarios/rename.json"), r#"{
//!   "description": "renaming a note keeps its text; a rename without a title is refused",
//!   "initial": { "notes": [ { "id": "n1", "title": "Hi", "text": "..." } ] },
//!   "events": [
//!     { "type": "renameNote", "payload": { "id": "n1", "title": "Hello" } },
//!     { "type": "renameNote", "payload": { "id": "n1" }, "expect": "invalid_payload" } ] }"#)?;
//! std::fs::write(dir.join("snapshots/rename.json"), r#"{
//!   "results": ["ok", "invalid_payload"],
//!   "state": { "notes": [ { "id": "n1", "text": "...", "title": "Hello" } ] } }"#)?;
//!
//! // In a `#[test]` of your reducers crate: `ScenarioSuite::load("tests").check(&root());`
//! ScenarioSuite::load(&dir).check(&root());
//!
//! // A reducer that does something else fails with a diff of the snapshot.
//! let forgetful = combine_reducers().collection("notes", |n: &Collection<Value>, _: &StoredEvent| n.no_change());
//! let failures = ScenarioSuite::load(&dir).failures(|case| flux_capacitor::testing::run_scenario(&forgetful, &case.scenario));
//! assert!(failures[0].contains("event 2 (`renameNote`): expected `invalid_payload`, got `ok`"));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The read suite (`tests/reads/*.json`: a state, then reads with their
//! answers) is in [`reads`].

pub mod conformance;
#[cfg(feature = "std")]
mod diff;
#[cfg(feature = "std")]
pub mod reads;
mod scenario;
#[cfg(feature = "std")]
mod suite;

#[cfg(feature = "std")]
pub use diff::unified_diff;
pub use scenario::{Outcome, Scenario, ScenarioEvent, Snapshot, run_scenario, stored_event, timestamp_for};
#[cfg(feature = "std")]
pub use suite::{ScenarioCase, ScenarioSuite, UPDATE_SNAPSHOTS};
