//! The notes app's [`Access`] policy, the example of authorization by event:
//! everyone reads every note and adds their own; only a note's author edits,
//! removes and restores it.

use async_trait::async_trait;
use flux_capacitor::{Event, RESTORE_EVENT};
use flux_capacitor_server::http::{Access, ApiError};
use flux_capacitor_server::{Context, Store};
use notes_reducers::{NOTES, NoteEvent};
use serde_json::Value;

/// Only a note's author (its `author`, the `meta.user` of its `addNote`)
/// may edit, remove or restore it.
///
/// * `editNoteTitle`, `editNoteText`, `removeNote`: the note is read from the
///   store and its `author` compared with the caller (a note that does not
///   exist is left to the command, which refuses it);
/// * `flux/restore` of a note: the row it brings back is the note's last state,
///   written by the server from the log (never by the client), so its
///   `author` is compared without a read;
/// * `addNote`: anyone signed in (the store writes the caller as its author).
///
/// The check reads before the write transaction. That is exact here because
/// a note's author never changes while it exists, and a note id taken by a
/// remove and a re-add in between would have to be reused on purpose (the
/// page makes a random UUID per note).
///
/// Why the reducers do not check it too: a reducer sees the event, not the
/// note, so it could only turn a stranger's edit into a silent no-op
/// (`update_where` author = user), never refuse it; and it would change what
/// old logs replay to. The rule belongs where the caller is known and a
/// refusal can be answered: here, with 403 `forbidden`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotesAccess;

#[async_trait]
impl Access for NotesAccess {
    async fn authorize_event(&self, ctx: &Context, event: &Event, store: &Store) -> Result<(), ApiError> {
        let (action, id, author) = match event.event_type.as_str() {
            RESTORE_EVENT if event.payload["collection"] == NOTES.name() => {
                let row = &event.payload["row"];
                ("restore", row["id"].clone(), row["author"].clone())
            }
            RESTORE_EVENT => return Ok(()),
            _ => {
                let (action, id) = match event.decode::<NoteEvent>() {
                    Ok(Some(NoteEvent::EditNoteTitle { id, .. } | NoteEvent::EditNoteText { id, .. })) => ("edit", id),
                    Ok(Some(NoteEvent::RemoveNote { id })) => ("remove", id),
                    // Adding a note, and anything the command refuses anyway.
                    Ok(Some(NoteEvent::AddNote { .. }) | None) | Err(_) => return Ok(()),
                };
                let Some(note) = store.find_by_id(NOTES.name(), id.as_str()).await? else {
                    return Ok(());
                };
                (
                    action,
                    Value::String(id),
                    note.get("author").cloned().unwrap_or(Value::Null),
                )
            }
        };
        let author = author.as_str().unwrap_or("nobody");
        if ctx.user.as_deref() == Some(author) {
            return Ok(());
        }
        let id = id.as_str().unwrap_or("?");
        Err(ApiError::Forbidden(format!(
            "only its author, {author}, may {action} note `{id}`"
        )))
    }
}
