//! Events: Flux Standard Actions, and the stored form the log keeps.

use alloc::string::{String, ToString};
use core::ops::Deref;

use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Error;

/// An event as it travels on the wire: a [Flux Standard Action].
///
/// ```json
/// { "type": "addNote", "payload": { "id": "n1", "title": "Hi" }, "meta": { "user": "Mary" } }
/// ```
///
/// `payload` is always written (as `null` when absent); `meta`, `error` and
/// `id` only when set.
///
/// [Flux Standard Action]: https://github.com/redux-utilities/flux-standard-action
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened, e.g. `"addNote"`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The data of the event; an object or `null`.
    #[serde(default)]
    pub payload: Value,
    /// Data about the event (who, which request...), not part of the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// FSA's error flag: the payload describes an error.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub error: bool,
    /// The id the dispatcher chose for this event, if any (a UUID, version 7
    /// recommended: time-ordered ids keep the log's index growing at its
    /// end). A store commits an id at most once: dispatching an event whose
    /// id is already in the log answers the stored event and writes nothing,
    /// which makes resending always safe. `None`: the store picks one.
    ///
    /// In a [`StoredEvent`] the id is [`StoredEvent::id`] and this is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

impl Event {
    /// An event with a type and a payload.
    pub fn new(event_type: impl Into<String>, payload: Value) -> Self {
        Event {
            event_type: event_type.into(),
            payload,
            meta: None,
            error: false,
            id: None,
        }
    }

    /// The same event with the client-chosen `id` set (see [`Event::id`]).
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }

    /// The same event with `meta` set.
    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }

    /// Builds an event from a typed event enum written as
    /// `#[serde(tag = "type", content = "payload")]`.
    pub fn from_typed<E: Serialize>(typed: &E) -> Result<Self, Error> {
        let value = serde_json::to_value(typed).map_err(|e| Error::Serialize {
            collection: String::from("<event>"),
            message: e.to_string(),
        })?;
        serde_json::from_value(value).map_err(|e| Error::InvalidPayload {
            event_type: String::from("<unknown>"),
            message: e.to_string(),
        })
    }

    /// Decodes this event as a typed event enum
    /// (`#[serde(tag = "type", content = "payload")]`).
    ///
    /// Returns `Ok(None)` when the enum has no variant for this event's type:
    /// an event a reducer does not know is no change, never an error. A known
    /// type whose payload does not fit is [`Error::InvalidPayload`].
    pub fn decode<E: DeserializeOwned>(&self) -> Result<Option<E>, Error> {
        // The event seen as `{"type": .., "payload": ..}` without copying its
        // payload, the tag first so serde need not buffer the payload.
        let tag = Value::String(self.event_type.clone());
        let wire =
            MapDeserializer::<_, serde_json::Error>::new([("type", &tag), ("payload", &self.payload)].into_iter());
        match E::deserialize(wire) {
            Ok(typed) => Ok(Some(typed)),
            Err(err) => {
                let message = err.to_string();
                // serde reports an unmatched tag as "unknown variant `<tag>`, ...".
                let unknown = alloc::format!("unknown variant `{}`", self.event_type);
                if message.starts_with(&unknown) {
                    Ok(None)
                } else {
                    Err(Error::InvalidPayload {
                        event_type: self.event_type.clone(),
                        message,
                    })
                }
            }
        }
    }
}

/// An event after the store accepted it: the event plus its `id`, its place
/// `seq` in the log (global, gap-free, in commit order, from 1) and its
/// `timestamp` (RFC 3339, UTC).
///
/// Wire form: the event's fields and `id`, `seq`, `timestamp` side by side,
/// and `hash` once the store has applied it.
/// Reducers receive the stored event, so they may use its `id`, `seq` or
/// `timestamp` (never the clock) and stay pure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Unique id of the event.
    pub id: Uuid,
    /// Position in the log, starting at 1, without gaps.
    pub seq: u64,
    /// When the store accepted the event, RFC 3339 in UTC, e.g. `2026-11-22T19:20:51.123Z`.
    pub timestamp: String,
    /// The [`changeset_hash`](crate::changeset_hash) of the changeset the
    /// store applied for this event (16 hex digits): a client that reduced
    /// the same event itself compares it with its own changeset's hash to
    /// find out that it diverged. `None` (and absent from the wire form)
    /// before the store applied it, and for events logged before the store
    /// kept hashes. Reducers always receive it `None`: the hash is their
    /// output, never their input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The event itself.
    #[serde(flatten)]
    pub event: Event,
}

impl StoredEvent {
    /// A stored event with a deterministic id derived from `seq`, as used by
    /// tests and [`MemoryDatabase`](crate::MemoryDatabase) scenarios.
    pub fn at(seq: u64, timestamp: impl Into<String>, event: Event) -> Self {
        StoredEvent {
            id: Uuid::from_u128(u128::from(seq)),
            seq,
            timestamp: timestamp.into(),
            hash: None,
            event,
        }
    }
}

impl Deref for StoredEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}
