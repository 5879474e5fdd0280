//! The reducers that the shared conformance scenarios run through, on every
//! backend (Rust, SQL, wasm + JS).
//!
//! * `conformance/apply` with payload `{ "ops": [operations...] }` returns
//!   those operations as its changeset — the direct way to test each
//!   operation's meaning.
//! * `conformance/reject` with payload `{ "reason": "..." }` is refused by the
//!   reducer ([`Error::Rejected`]).
//! * The issue tracker of the original library's README: `addIssue`,
//!   `renameIssue`, `closeIssue`, `removeIssue`, `closeAllBy`, `purgeClosed`
//!   on `issues`, and `addUser` / `removeUser` on `users` (keyed by `handle`;
//!   removing a user also removes their issues).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    Aggregate, Changeset, Collection, Error, Filter, Operation, StoredEvent, aggregate_reducers, boxed,
    combine_reducers,
};

/// An issue of the tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Key.
    pub id: String,
    /// Title.
    pub title: String,
    /// Handle of the user who filed it.
    pub author: String,
    /// Optional priority, higher is more urgent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Whether it is closed.
    pub closed: bool,
}

/// A user of the tracker, keyed by `handle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Key.
    pub handle: String,
    /// Display name.
    pub name: String,
}

/// The tracker's events, typed; the wire form stays FSA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum TrackerEvent {
    AddIssue {
        id: String,
        title: String,
        author: String,
        priority: Option<i64>,
    },
    RenameIssue {
        id: String,
        title: String,
    },
    CloseIssue {
        id: String,
    },
    RemoveIssue {
        id: String,
    },
    CloseAllBy {
        author: String,
    },
    PurgeClosed {},
    AddUser {
        handle: String,
        name: String,
    },
    RemoveUser {
        handle: String,
    },
}

/// The `issues` collection.
pub const ISSUES: Collection<Issue> = Collection::new("issues");
/// The `users` collection, keyed by `handle`.
pub const USERS: Collection<User> = Collection::keyed("users", "handle");

/// Reducer of `issues`.
pub fn issues(issues: &Collection<Issue>, event: &StoredEvent) -> Result<Changeset, Error> {
    Ok(match event.decode::<TrackerEvent>()? {
        Some(TrackerEvent::AddIssue {
            id,
            title,
            author,
            priority,
        }) => issues.create(&Issue {
            id,
            title,
            author,
            priority,
            closed: false,
        })?,
        Some(TrackerEvent::RenameIssue { id, title }) => issues.update_by_id(id, json!({ "title": title }))?,
        Some(TrackerEvent::CloseIssue { id }) => issues.update_by_id(id, json!({ "closed": true }))?,
        Some(TrackerEvent::RemoveIssue { id }) => issues.destroy_by_id(id),
        Some(TrackerEvent::CloseAllBy { author }) => {
            issues.update_where(Filter::eq("author", author), json!({ "closed": true }))?
        }
        Some(TrackerEvent::PurgeClosed {}) => issues.destroy_where(Filter::eq("closed", true)),
        Some(TrackerEvent::RemoveUser { handle }) => issues.destroy_where(Filter::eq("author", handle)),
        Some(TrackerEvent::AddUser { .. }) | None => issues.no_change(),
    })
}

/// Reducer of `users`.
pub fn users(users: &Collection<User>, event: &StoredEvent) -> Result<Changeset, Error> {
    Ok(match event.decode::<TrackerEvent>()? {
        Some(TrackerEvent::AddUser { handle, name }) => users.create(&User { handle, name })?,
        Some(TrackerEvent::RemoveUser { handle }) => users.destroy_by_id(handle),
        _ => users.no_change(),
    })
}

#[derive(Deserialize)]
struct ApplyPayload {
    ops: Vec<Operation>,
}

#[derive(Deserialize)]
struct ApplyJsonPayload {
    json: String,
}

#[derive(Deserialize)]
struct RejectPayload {
    reason: String,
}

/// Handles `conformance/apply`, `conformance/apply_json` and `conformance/reject`.
pub fn direct(event: &StoredEvent) -> Result<Changeset, Error> {
    let invalid = |e: serde_json::Error| Error::InvalidPayload {
        event_type: event.event_type.clone(),
        message: e.to_string(),
    };
    match event.event_type.as_str() {
        "conformance/apply" => {
            let payload: ApplyPayload = serde_json::from_value(event.payload.clone()).map_err(invalid)?;
            Ok(Changeset::from(payload.ops))
        }
        "conformance/apply_json" => {
            let payload: ApplyJsonPayload = serde_json::from_value(event.payload.clone()).map_err(invalid)?;
            let ops: Vec<Operation> = serde_json::from_str(&payload.json).map_err(invalid)?;
            Ok(Changeset::from(ops))
        }
        "conformance/reject" => {
            let payload: RejectPayload = serde_json::from_value(event.payload.clone()).map_err(invalid)?;
            Err(Error::Rejected {
                event_type: event.event_type.clone(),
                message: payload.reason,
            })
        }
        _ => Ok(Changeset::no_change()),
    }
}

/// The root reducer of the conformance suite: [`direct`], then the tracker's
/// collections combined.
pub fn reducer() -> Aggregate {
    aggregate_reducers([
        boxed(direct),
        boxed(combine_reducers().collection(ISSUES, issues).collection(USERS, users)),
    ])
}
