//! The scenario and snapshot formats, and the in-memory runner.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Event, MemoryDatabase, Reducer, Schema, StoredEvent};

/// A scenario: events in, to be run from an empty database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// What the scenario shows, in a sentence.
    pub description: String,
    /// The collections the events write to; empty for a schemaless run.
    #[serde(default)]
    pub schema: Schema,
    /// The events, dispatched one by one.
    pub events: Vec<Event>,
}

/// The outcome of dispatching one event: `"ok"` or an error kind.
pub type Outcome = String;

/// Expected (or actual) result of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// One outcome per event: `"ok"` or the error's [`kind`](crate::Error::kind).
    pub results: Vec<Outcome>,
    /// The final state, as [`MemoryDatabase::snapshot`] gives it.
    pub state: Value,
}

/// The deterministic timestamp of the event with `seq` in scenario runs:
/// `2026-01-01T00:00:00Z` plus `seq` seconds (valid for up to 31 days' worth).
pub fn timestamp_for(seq: u64) -> String {
    let (days, rest) = (seq / 86_400, seq % 86_400);
    format!(
        "2026-01-{:02}T{:02}:{:02}:{:02}Z",
        days + 1,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Runs `scenario` through `reducer` over a [`MemoryDatabase`] (with the
/// scenario's schema if it has one) and returns what happened.
pub fn run_scenario(reducer: &(impl Reducer + ?Sized), scenario: &Scenario) -> Snapshot {
    let mut db = if scenario.schema.collections.is_empty() {
        MemoryDatabase::new()
    } else {
        MemoryDatabase::with_schema(scenario.schema.clone())
    };
    let mut seq = 0;
    let results = scenario
        .events
        .iter()
        .map(|event| {
            let stored = StoredEvent::at(seq + 1, timestamp_for(seq + 1), event.clone());
            match db.dispatch(reducer, &stored) {
                Ok(_) => {
                    seq += 1;
                    String::from("ok")
                }
                Err(err) => String::from(err.kind()),
            }
        })
        .collect();
    Snapshot {
        results,
        state: db.snapshot(),
    }
}
