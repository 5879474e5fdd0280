//! The scenario and snapshot formats, and the in-memory runner.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{Changeset, DEFAULT_KEY, Error, Event, MemoryDatabase, Operation, Reducer, Row, Schema, StoredEvent};

/// A scenario: an optional starting state, then events in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows, in a sentence.
    pub description: String,
    /// The collections the events write to; empty for a schemaless run.
    #[serde(default, skip_serializing_if = "no_collections")]
    pub schema: Schema,
    /// The rows present before the first event, `{ collection: [rows] }` as
    /// in a snapshot's `state`. They are written straight into the tables,
    /// not through the reducers nor the event log.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub initial: BTreeMap<String, Vec<Row>>,
    /// The events, dispatched one by one.
    pub events: Vec<ScenarioEvent>,
}

fn no_collections(schema: &Schema) -> bool {
    schema.collections.is_empty()
}

/// One event of a scenario: the event as on the wire (`type`, `payload`,
/// `meta`, `error`), and optionally the outcome it must have (`"expect"`).
///
/// ```json
/// { "type": "editNoteTitle", "payload": { "id": "n1" }, "expect": "invalid_payload" }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioEvent {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// The outcome the scenario asserts (`"ok"` or an error
    /// [`kind`](crate::Error::kind)), checked before the snapshot and also
    /// when recording: a recorded snapshot cannot contradict it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Outcome>,
}

/// The fields an event of a scenario may have.
const EVENT_FIELDS: [&str; 5] = ["type", "payload", "meta", "error", "expect"];

impl<'de> Deserialize<'de> for ScenarioEvent {
    /// Reads the event and its `expect`, refusing fields of neither (a
    /// misspelt `expect` would otherwise be ignored).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Map::deserialize(deserializer)?;
        if let Some(unknown) = fields.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
            return Err(D::Error::custom(format!(
                "unknown field `{unknown}` in an event, expected one of {EVENT_FIELDS:?}"
            )));
        }
        let expect = match fields.remove("expect") {
            None => None,
            Some(Value::String(outcome)) => Some(outcome),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`expect` must be \"ok\" or an error kind, got {other}"
                )));
            }
        };
        let event = serde_json::from_value(Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(ScenarioEvent { event, expect })
    }
}

impl From<Event> for ScenarioEvent {
    fn from(event: Event) -> Self {
        ScenarioEvent { event, expect: None }
    }
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

impl Scenario {
    /// The initial rows as one changeset of `create`s, collection by
    /// collection in name order: each row keyed by its collection's key in
    /// the scenario's schema, or `id` (a collection with another key needs a
    /// schema entry). Every runner writes these rows as they are, before the
    /// first event.
    pub fn initial_changeset(&self) -> Changeset {
        let mut operations = Vec::new();
        for (collection, rows) in &self.initial {
            let key = self
                .schema
                .collections
                .get(collection)
                .map_or(DEFAULT_KEY, |c| c.key.as_str());
            operations.extend(rows.iter().map(|row| Operation::Create {
                collection: collection.clone(),
                key: key.into(),
                row: row.clone(),
            }));
        }
        Changeset::from(operations)
    }

    /// Where the actual outcomes contradict the events' `expect`s: one line
    /// per event, e.g. ``event 2 (`editNoteTitle`): expected `invalid_payload`, got `ok` ``.
    pub fn unmet_expectations(&self, results: &[Outcome]) -> Vec<String> {
        let mut out = Vec::new();
        for (index, event) in self.events.iter().enumerate() {
            let Some(expected) = &event.expect else { continue };
            let got = results.get(index).map_or("nothing", String::as_str);
            if got != expected {
                out.push(format!(
                    "event {} (`{}`): expected `{expected}`, got `{got}`",
                    index + 1,
                    event.event.event_type
                ));
            }
        }
        out
    }
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

/// `event` as scenario runs store it with `seq`: the id
/// `Uuid::from_u128(seq)` and the time [`timestamp_for`]`(seq)`. Every
/// runner numbers the events the same way: 1, 2, ... in order of success (a
/// failed event takes no `seq`, as in the store).
pub fn stored_event(seq: u64, event: &Event) -> StoredEvent {
    StoredEvent::at(seq, timestamp_for(seq), event.clone())
}

/// Runs `scenario` through `reducer` over a [`MemoryDatabase`] (with the
/// scenario's schema if it has one), from its initial state, and returns
/// what happened. An initial state the database refuses (a duplicate key, a
/// value its schema does not allow...) is that error.
pub fn run_scenario(reducer: &(impl Reducer + ?Sized), scenario: &Scenario) -> Result<Snapshot, Error> {
    let mut db = if scenario.schema.collections.is_empty() {
        MemoryDatabase::new()
    } else {
        MemoryDatabase::with_schema(scenario.schema.clone())
    };
    db.apply(&scenario.initial_changeset())?;
    let mut seq = 0;
    let results = scenario
        .events
        .iter()
        .map(
            |event| match db.dispatch(reducer, &stored_event(seq + 1, &event.event)) {
                Ok(_) => {
                    seq += 1;
                    String::from("ok")
                }
                Err(err) => err.kind().to_string(),
            },
        )
        .collect();
    Ok(Snapshot {
        results,
        state: db.snapshot(),
    })
}
