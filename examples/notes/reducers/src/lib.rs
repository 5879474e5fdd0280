//! The notes app's reducers (`no_std`): one `notes` collection; `meta.user`
//! says who wrote a note, the event's `timestamp` says when.
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

/// The root reducer of the notes app: the notes, and `flux/restore` (so a
/// removed note can be brought back with an ordinary, logged event).
pub fn root() -> Aggregate {
    aggregate_reducers([
        boxed(flux_capacitor::restore()),
        boxed(combine_reducers().collection(NOTES, notes)),
    ])
}
