//! The notes app's reducers (`no_std`): the `notes` collection, where
//! `meta.user` says who wrote a note and the event's `timestamp` when; and
//! `notifications`, one row per `notes/notify` event (dispatched by the
//! server's Activity saga when someone else changes your note).
//!
//! ```
//! use flux_capacitor::{Event, MemoryDatabase, StoredEvent};
//! use serde_json::json;
//! let mut db = MemoryDatabase::new();
//! let add = Event::new("addNote", json!({ "id": "n1", "title": "Hi", "text": "..." })).with_meta(json!({ "user": "Mary" }));
//! db.dispatch(&notes_reducers::root(), &StoredEvent::at(1, "2026-11-22T19:20:51Z", add)).unwrap();
//! assert_eq!(db.snapshot()["notes"][0]["author"], "Mary");
//! ```

#![no_std]

extern crate alloc;

use alloc::string::String;

use flux_capacitor::{
    Aggregate, Changeset, Collection, Error, StoredEvent, aggregate_reducers, boxed, combine_reducers,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Key.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub text: String,
    /// Who added it (`meta.user` of `addNote`).
    pub author: String,
    /// When it was added (the event's timestamp).
    pub created: String,
    /// When it was last changed.
    pub updated: String,
}

/// The notes events, FSA on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum NoteEvent {
    AddNote {
        id: String,
        title: String,
        #[serde(default)]
        text: String,
    },
    EditNoteTitle {
        id: String,
        title: String,
    },
    EditNoteText {
        id: String,
        text: String,
    },
    RemoveNote {
        id: String,
    },
}

/// The `notes` collection.
pub const NOTES: Collection<Note> = Collection::new("notes");

fn user(event: &StoredEvent) -> String {
    event
        .meta
        .as_ref()
        .and_then(|m| m.get("user"))
        .and_then(|u| u.as_str())
        .unwrap_or("anonymous")
        .into()
}

/// Reducer of `notes`.
pub fn notes(notes: &Collection<Note>, event: &StoredEvent) -> Result<Changeset, Error> {
    let now = &event.timestamp;
    Ok(match event.decode::<NoteEvent>()? {
        Some(NoteEvent::AddNote { id, title, text }) => notes.create(&Note {
            id,
            title,
            text,
            author: user(event),
            created: now.clone(),
            updated: now.clone(),
        })?,
        Some(NoteEvent::EditNoteTitle { id, title }) => {
            notes.update_by_id(id, json!({ "title": title, "updated": now }))?
        }
        Some(NoteEvent::EditNoteText { id, text }) => {
            notes.update_by_id(id, json!({ "text": text, "updated": now }))?
        }
        Some(NoteEvent::RemoveNote { id }) => notes.destroy_by_id(id),
        None => notes.no_change(),
    })
}

/// A notification: someone else changed your note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Key: the `notes/notify` event's `seq`, as text (the same in every
    /// replay of the log, on every target).
    pub id: String,
    /// Whose note it is (who is told).
    pub recipient: String,
    /// The note's id.
    pub note: String,
    /// Who changed it.
    pub actor: String,
    /// `edited`, `removed` or `restored`.
    pub action: String,
    /// When (the event's timestamp).
    pub at: String,
}

/// The type of the event that makes a [`Notification`].
pub const NOTIFY_EVENT: &str = "notes/notify";

/// The `notifications` collection.
pub const NOTIFICATIONS: Collection<Notification> = Collection::new("notifications");

/// Reducer of `notifications`: a row per `notes/notify` event, whose payload
/// is `{ "recipient", "note", "actor", "action" }`.
pub fn notifications(notifications: &Collection<Notification>, event: &StoredEvent) -> Result<Changeset, Error> {
    if event.event_type != NOTIFY_EVENT {
        return Ok(notifications.no_change());
    }
    let field = |name: &str| event.payload.get(name).and_then(|v| v.as_str()).unwrap_or("").into();
    notifications.create(&Notification {
        id: alloc::format!("{}", event.seq),
        recipient: field("recipient"),
        note: field("note"),
        actor: field("actor"),
        action: field("action"),
        at: event.timestamp.clone(),
    })
}

/// The root reducer of the notes app: the notes, their notifications, and
/// `flux/restore` (so a removed note can be brought back with an ordinary,
/// logged event).
pub fn root() -> Aggregate {
    aggregate_reducers([
        boxed(flux_capacitor::restore()),
        boxed(
            combine_reducers()
                .collection(NOTES, notes)
                .collection(NOTIFICATIONS, notifications),
        ),
    ])
}
