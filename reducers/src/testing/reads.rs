//! The read suite (`tests/reads/*.json`): a state, then reads, each with the
//! answer every reader must give — `MemoryDatabase` here, and in the server's
//! tests every SQL backend's live reads, the time machine (`as_of`) at the
//! head and at past points, and the HTTP routes.
//!
//! A file holds a description, a [`Schema`], the events that build the state
//! (as in the write suite: `conformance/apply` events carry operations), and
//! the reads:
//!
//! ```json
//! { "description": "missing values sort first ascending, last descending",
//!   "schema": { "items": { "fields": { "id": "text", "rank": "integer" } } },
//!   "events": [ { "type": "conformance/apply", "payload": { "ops": [
//!       { "op": "create", "collection": "items", "row": { "id": "a" } },
//!       { "op": "create", "collection": "items", "row": { "id": "b", "rank": 1 } } ] } } ],
//!   "reads": [
//!     { "collection": "items", "find_all": { "order": ["-rank"] },
//!       "rows": [ { "id": "b", "rank": 1 }, { "id": "a" } ] },
//!     { "collection": "items", "find_by_id": 7, "error": "type_mismatch" },
//!     { "collection": "items", "at": 0, "find_by_id": "a", "row": null },
//!     { "collection": "items", "http": "rank=01", "rows": [ { "id": "b", "rank": 1 } ] } ] }
//! ```
//!
//! Each read is one of `find_all` (`filter` as a [`Filter`]'s wire form,
//! `order` as `["field", "-descending"]`, `limit`, `offset`), `find_by_id`
//! (a key) or `http` (the query string of `GET /collections/{collection}`,
//! for the rules of the HTTP service alone: how a query value is typed,
//! repeated and reserved parameters). `at` reads the state right after that
//! many events (the head when absent). The answer is `rows` (`find_all`,
//! `http`), `row` (`find_by_id`; `null` for none) or `error` (an error kind,
//! or the service's error code for `http`). The answer sits beside its read,
//! written by hand: a read's expectation reads best next to it, and the
//! reference runner ([`ReadSuite::check`] with [`run_read`]) proves it.

use std::fs;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::stored_event;
use crate::{Direction, Event, Filter, FindOptions, Key, MemoryDatabase, Reducer, Row, Schema};

/// One file of the read suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadScenario {
    /// What the file shows.
    pub description: String,
    /// The collections.
    pub schema: Schema,
    /// The events that build the state (each must succeed).
    pub events: Vec<Event>,
    /// The reads and their answers.
    pub reads: Vec<Read>,
}

/// A `find_all` in the suite's wire form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindAll {
    /// Which rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// `"field"` ascending, `"-field"` descending, most significant first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
    /// At most this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Skip this many first.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u64,
}

/// A field that is there, `null` included (serde reads `null` as `None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FindAll {
    /// As [`FindOptions`].
    pub fn options(&self) -> FindOptions {
        FindOptions {
            filter: self.filter.clone(),
            order: self
                .order
                .iter()
                .map(|field| match field.strip_prefix('-') {
                    Some(field) => (field.to_string(), Direction::Desc),
                    None => (field.clone(), Direction::Asc),
                })
                .collect(),
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// One read of the suite and its expected answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Read {
    /// What this read shows, when the file's description does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The state right after this many events; the head when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The collection read.
    pub collection: String,
    /// A `find_all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_all: Option<FindAll>,
    /// A `find_by_id` of this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_by_id: Option<Key>,
    /// The query string of `GET /collections/{collection}` (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// The rows answered (`find_all`, `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Row>>,
    /// The row answered (`find_by_id`): an object, or `null` for none.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub row: Option<Value>,
    /// The error kind (or the HTTP error code) answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a reader answered (or must answer) to a [`Read`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The rows of a `find_all` (or `http`).
    Rows(Vec<Row>),
    /// The row of a `find_by_id`, or none.
    Row(Option<Row>),
    /// An error kind (or HTTP error code).
    Error(String),
}

impl Answer {
    /// The answer of a reader's result: rows, or the error's kind.
    pub fn rows<E>(result: Result<Vec<Row>, E>, kind: impl Fn(&E) -> String) -> Answer {
        result.map_or_else(|e| Answer::Error(kind(&e)), Answer::Rows)
    }

    /// The answer of a reader's `find_by_id` result.
    pub fn row<E>(result: Result<Option<Row>, E>, kind: impl Fn(&E) -> String) -> Answer {
        result.map_or_else(|e| Answer::Error(kind(&e)), Answer::Row)
    }
}

impl Read {
    /// The state point this read is at: `at`, else `head`.
    pub fn point(&self, head: u64) -> u64 {
        self.at.unwrap_or(head)
    }

    /// The answer the file expects. Panics on a malformed read (this is test
    /// support): exactly one of `find_all`, `find_by_id`, `http` and one
    /// answer that fits it.
    pub fn expected(&self) -> Answer {
        let queries = [self.find_all.is_some(), self.find_by_id.is_some(), self.http.is_some()];
        assert_eq!(
            queries.iter().filter(|q| **q).count(),
            1,
            "a read is one of find_all, find_by_id, http: {self:?}"
        );
        match (&self.rows, &self.row, &self.error) {
            (Some(rows), None, None) if self.find_by_id.is_none() => Answer::Rows(rows.clone()),
            (None, Some(Value::Null), None) if self.find_by_id.is_some() => Answer::Row(None),
            (None, Some(Value::Object(row)), None) if self.find_by_id.is_some() => Answer::Row(Some(row.clone())),
            (None, None, Some(kind)) => Answer::Error(kind.clone()),
            _ => panic!("a read answers rows (find_all, http), row (find_by_id) or error: {self:?}"),
        }
    }
}

/// The read of `read` by the reference: `db` is the state at its point.
/// `None` for an `http` read (the service's rules, not the reference's).
pub fn run_read(db: &MemoryDatabase, read: &Read) -> Option<Answer> {
    let kind = |e: &crate::Error| e.kind().to_string();
    if let Some(find) = &read.find_all {
        let rows = db
            .find_all(&read.collection, &find.options())
            .map(|rows| rows.into_iter().cloned().collect());
        return Some(Answer::rows(rows, kind));
    }
    let id = read.find_by_id.as_ref()?;
    Some(Answer::row(
        db.find_by_id(&read.collection, id).map(|r| r.cloned()),
        kind,
    ))
}

/// The states of a scenario: `states[n]` right after `n` events. Panics
/// when an event fails (a read scenario's events must all apply).
pub fn states(reducer: &(impl Reducer + ?Sized), scenario: &ReadScenario) -> Vec<MemoryDatabase> {
    let mut db = MemoryDatabase::with_schema(scenario.schema.clone());
    let mut out = vec![db.clone()];
    for (index, event) in scenario.events.iter().enumerate() {
        let seq = index as u64 + 1;
        let stored = stored_event(seq, event);
        db.dispatch(reducer, &stored)
            .unwrap_or_else(|e| panic!("event {seq} of a read scenario fails: {e}"));
        out.push(db.clone());
    }
    out
}

/// One file of the read suite, by name.
#[derive(Debug, Clone)]
pub struct ReadCase {
    /// The file stem.
    pub name: String,
    /// Its content.
    pub scenario: ReadScenario,
}

/// Every file of `<dir>/reads`.
#[derive(Debug, Clone)]
pub struct ReadSuite {
    /// The files, sorted by name.
    pub cases: Vec<ReadCase>,
}

impl ReadSuite {
    /// Loads `<dir>/reads/*.json`; panics with the file at fault (test support).
    pub fn load(dir: impl AsRef<Path>) -> ReadSuite {
        let dir = dir.as_ref().join("reads");
        let mut cases: Vec<ReadCase> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| {
                let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let scenario = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let name = path.file_stem().expect("file stem").to_string_lossy().to_string();
                ReadCase { name, scenario }
            })
            .collect();
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        ReadSuite { cases }
    }

    /// Runs `answer(case, read)` on every read (a reader returns `None` for
    /// reads it does not make) and returns one message per wrong answer.
    pub fn check(&self, mut answer: impl FnMut(&ReadCase, &Read) -> Option<Answer>) -> Vec<String> {
        let mut failures = Vec::new();
        for case in &self.cases {
            for (index, read) in case.scenario.reads.iter().enumerate() {
                let Some(got) = answer(case, read) else { continue };
                let expected = read.expected();
                if got != expected {
                    failures.push(format!(
                        "{} read #{index} {}: expected {expected:?}, got {got:?}",
                        case.name,
                        serde_json::to_string(read).unwrap_or_default()
                    ));
                }
            }
        }
        failures
    }
}
