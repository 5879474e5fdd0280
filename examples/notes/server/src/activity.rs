//! The Activity saga: tells a note's author when someone else changes it,
//! and sends a daily digest.
//!
//! * `editNoteTitle`, `editNoteText`, `removeNote` and `flux/restore` of a
//!   note by a user other than its author dispatch `notes/notify`
//!   `{ "recipient", "note", "actor", "action" }` (`edited`, `removed`,
//!   `restored`), which the reducers keep in `notifications`. Over HTTP
//!   only the author may change a note ([`crate::NotesAccess`]), so these
//!   come from changes made around the page's rules: an operator's
//!   `notes restore --user`, or the store API.
//! * The first note schedules a timer for the next midnight (UTC):
//!   `notes/digest-due`; on it the saga dispatches `notes/digest`
//!   `{ "day", "notifications": { user: count } }` (the day's count per
//!   recipient) and schedules the next midnight.
//!
//! The note's author comes with the event: `meta.author`, which the notes
//! commands write on edits and removals, or the restored row's `author`.
//! So the state stays small (today's counts and whether the digest timer is
//! set), and the saga is pure: times come from the events' timestamps.

use chrono::{DateTime, Days, Utc};
use flux_capacitor::{Event, RESTORE_EVENT, StoredEvent};
use flux_capacitor_server::saga::SagaError;
use flux_capacitor_server::{Saga, SagaAction};
use notes_reducers::{NOTES, NOTIFY_EVENT, NoteEvent};
use serde_json::{Map, Value, json};

/// The timer's event.
pub const DIGEST_DUE_EVENT: &str = "notes/digest-due";
/// The digest.
pub const DIGEST_EVENT: &str = "notes/digest";

/// The Activity saga (name `activity`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity;

/// The next midnight (UTC) after `timestamp`.
fn next_midnight(timestamp: &str) -> Result<DateTime<Utc>, SagaError> {
    let at = DateTime::parse_from_rfc3339(timestamp)?.to_utc();
    let day = at
        .date_naive()
        .checked_add_days(Days::new(1))
        .ok_or("date out of range")?;
    Ok(day.and_hms_opt(0, 0, 0).ok_or("no midnight")?.and_utc())
}

fn user(event: &StoredEvent) -> Option<&str> {
    event.meta.as_ref()?.get("user")?.as_str()
}

impl Saga for Activity {
    fn name(&self) -> &str {
        "activity"
    }

    fn initial_state(&self) -> Value {
        json!({ "today": {}, "digest": false })
    }

    fn handle(&self, mut state: Value, event: &StoredEvent) -> Result<(Value, Vec<SagaAction>), SagaError> {
        let mut actions = Vec::new();
        let (note, action, author) = match event.event_type.as_str() {
            DIGEST_DUE_EVENT => {
                let today = std::mem::replace(&mut state["today"], json!({}));
                let day = event.payload["day"].clone();
                actions.push(SagaAction::Dispatch(Event::new(
                    DIGEST_EVENT,
                    json!({ "day": day, "notifications": today }),
                )));
                let at = next_midnight(&event.timestamp)?;
                actions.push(digest_due(at));
                return Ok((state, actions));
            }
            RESTORE_EVENT if event.payload["collection"] == NOTES.name() => {
                let row = &event.payload["row"];
                (
                    row["id"].as_str().map(str::to_owned),
                    "restored",
                    row["author"].as_str(),
                )
            }
            _ => {
                let author = event
                    .meta
                    .as_ref()
                    .and_then(|m| m.get("author"))
                    .and_then(Value::as_str);
                match event.decode::<NoteEvent>() {
                    Ok(Some(NoteEvent::AddNote { .. })) => {
                        if state["digest"] != true {
                            state["digest"] = Value::Bool(true);
                            actions.push(digest_due(next_midnight(&event.timestamp)?));
                        }
                        (None, "", None)
                    }
                    Ok(Some(NoteEvent::EditNoteTitle { id, .. } | NoteEvent::EditNoteText { id, .. })) => {
                        (Some(id), "edited", author)
                    }
                    Ok(Some(NoteEvent::RemoveNote { id })) => (Some(id), "removed", author),
                    Ok(None) | Err(_) => (None, "", None),
                }
            }
        };
        let Some(note) = note else {
            return Ok((state, actions));
        };
        let author = author.map(str::to_owned);
        let actor = user(event).unwrap_or("anonymous");
        if let Some(author) = author
            && author != actor
        {
            actions.push(SagaAction::Dispatch(Event::new(
                NOTIFY_EVENT,
                json!({ "recipient": author, "note": note, "actor": actor, "action": action }),
            )));
            let today = state["today"].as_object_mut().map(std::mem::take).unwrap_or_default();
            let mut today: Map<String, Value> = today;
            let count = today.get(&author).and_then(Value::as_u64).unwrap_or(0) + 1;
            today.insert(author, Value::from(count));
            state["today"] = Value::Object(today);
        }
        Ok((state, actions))
    }
}

/// The digest timer at `at`, its `day` the day that ends then.
fn digest_due(at: DateTime<Utc>) -> SagaAction {
    let day = at.date_naive().pred_opt().unwrap_or(at.date_naive());
    SagaAction::Schedule {
        at,
        event: Event::new(DIGEST_DUE_EVENT, json!({ "day": day.to_string() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: u64, at: &str, event_type: &str, payload: Value, user: &str) -> StoredEvent {
        // As the notes commands write them: the note's author with edits and removals.
        let meta = match event_type {
            "addNote" => json!({ "user": user }),
            _ => json!({ "user": user, "author": "Mary" }),
        };
        StoredEvent::at(seq, at, Event::new(event_type, payload).with_meta(meta))
    }

    #[test]
    fn others_changes_notify_the_author_and_the_first_note_sets_the_digest() {
        let saga = Activity;
        let add = stored(
            1,
            "2026-12-01T10:00:00Z",
            "addNote",
            json!({ "id": "n1", "title": "t" }),
            "Mary",
        );
        let (state, actions) = saga.handle(saga.initial_state(), &add).unwrap();
        assert_eq!(
            actions,
            [SagaAction::Schedule {
                at: "2026-12-02T00:00:00Z".parse().unwrap(),
                event: Event::new(DIGEST_DUE_EVENT, json!({ "day": "2026-12-01" })),
            }]
        );
        let own = stored(
            2,
            "2026-12-01T10:01:00Z",
            "editNoteText",
            json!({ "id": "n1", "text": "x" }),
            "Mary",
        );
        let (state, actions) = saga.handle(state, &own).unwrap();
        assert!(actions.is_empty(), "one's own edit notifies nobody");
        let other = stored(3, "2026-12-01T10:02:00Z", "removeNote", json!({ "id": "n1" }), "Tony");
        let (state, actions) = saga.handle(state, &other).unwrap();
        assert_eq!(
            actions,
            [SagaAction::Dispatch(Event::new(
                NOTIFY_EVENT,
                json!({ "recipient": "Mary", "note": "n1", "actor": "Tony", "action": "removed" })
            ))]
        );
        let due = StoredEvent::at(
            4,
            "2026-12-02T00:00:01Z",
            Event::new(DIGEST_DUE_EVENT, json!({ "day": "2026-12-01" })),
        );
        let (state, actions) = saga.handle(state, &due).unwrap();
        assert_eq!(
            actions[0],
            SagaAction::Dispatch(Event::new(
                DIGEST_EVENT,
                json!({ "day": "2026-12-01", "notifications": { "Mary": 1 } })
            ))
        );
        assert!(
            matches!(&actions[1], SagaAction::Schedule { at, .. } if at.to_rfc3339() == "2026-12-03T00:00:00+00:00")
        );
        assert_eq!(state["today"], json!({}));
    }
}
