//! Checks on events before anything is written: a Flux Standard Action with a
//! non-empty string `type`, an object-or-null `payload`, within the size limit.

use flux_capacitor::Event;
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::error::EventAt;

/// The longest accepted event type, in characters (it is an indexed column).
pub const MAX_TYPE_CHARS: usize = 255;

/// Reads an event from its wire form (`{ "type", "payload"?, "meta"?, "error"?, "id"? }`),
/// checking what the typed [`Event`] cannot: `type` must be a string, `id`
/// (when given) a UUID in its text form other than the nil UUID, and no
/// other keys are allowed. `index` is the event's position in its batch.
pub fn event_from_json(index: usize, value: Value) -> Result<Event, StoreError> {
    let invalid = |reason: String| StoreError::InvalidEvent { index, reason };
    let Value::Object(mut object) = value else {
        return Err(invalid("an event must be a JSON object".into()));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "payload" | "meta" | "error" | "id"))
    {
        return Err(invalid(format!(
            "unknown field `{key}` (a Flux Standard Action has type, payload, meta, error, and an event may carry its id)"
        )));
    }
    let id = match object.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(Uuid::try_parse(&text).map_err(|e| invalid(format!("`id` must be a UUID, got `{text}` ({e})")))?)
        }
        Some(other) => return Err(invalid(format!("`id` must be a UUID string, got {}", kind_of(&other)))),
    };
    let event_type = match object.remove("type") {
        Some(Value::String(t)) => t,
        Some(other) => return Err(invalid(format!("`type` must be a string, got {}", kind_of(&other)))),
        None => return Err(invalid("`type` is missing".into())),
    };
    let error = match object.remove("error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(invalid(format!("`error` must be a boolean, got {}", kind_of(&other)))),
    };
    let meta = object.remove("meta").filter(|m| !m.is_null());
    let event = Event {
        event_type,
        payload: object.remove("payload").unwrap_or(Value::Null),
        meta,
        error,
        id,
    };
    check_shape(index, &event)?;
    Ok(event)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_shape(index: usize, event: &Event) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidEvent { index, reason };
    if event.event_type.trim().is_empty() {
        return Err(invalid("`type` must be a non-empty string".into()));
    }
    if event.event_type.chars().count() > MAX_TYPE_CHARS {
        return Err(invalid(format!("`type` is longer than {MAX_TYPE_CHARS} characters")));
    }
    if event.id.is_some_and(|id| id.is_nil()) {
        return Err(invalid(
            "`id` must not be the nil UUID (it stands for \"no id\")".into(),
        ));
    }
    if !matches!(event.payload, Value::Object(_) | Value::Null) {
        return Err(invalid(format!(
            "`payload` must be an object or null, got {}",
            kind_of(&event.payload)
        )));
    }
    Ok(())
}

/// Checks an event about to be dispatched: its shape, the serialized size
/// of its `payload` and `meta` against `max_bytes`, and its values against
/// the portable value domain ([`flux_capacitor::domain`]: `unsupported_value`,
/// as `MemoryDatabase::dispatch` and wasm report it).
pub(crate) fn check_event(index: usize, event: &Event, max_bytes: usize) -> Result<(), StoreError> {
    check_shape(index, event)?;
    let size = json_len(&event.payload) + event.meta.as_ref().map_or(0, json_len);
    if size > max_bytes {
        return Err(StoreError::EventTooLarge {
            event: EventAt {
                index,
                event_type: event.event_type.clone(),
            },
            size,
            limit: max_bytes,
        });
    }
    check_domain(index, event)
}

/// The length in bytes of `value`'s compact JSON text, counted as it is
/// written rather than written into a string.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(0, |()| count.0)
}

/// Checks an event's values against the portable value domain
/// ([`flux_capacitor::domain`]): `unsupported_value`, as
/// `MemoryDatabase::dispatch` and wasm report it. Dispatch and replay both
/// check, so nothing outside the domain reaches the log.
pub(crate) fn check_domain(index: usize, event: &Event) -> Result<(), StoreError> {
    event.check_domain().map_err(|source| StoreError::Reducer {
        event: EventAt {
            index,
            event_type: event.event_type.clone(),
        },
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::json_len;

    #[test]
    fn json_len_is_the_length_of_the_compact_text() {
        let values = [
            json!(null),
            json!({ "a": "é\"\n\u{1F600}\u{0007}", "b": [1, -2.5, 1e300, true, 18446744073709551615u64], "c": {} }),
            json!("x".repeat(5000)),
        ];
        for value in values {
            assert_eq!(
                json_len(&value),
                serde_json::to_string(&value).unwrap().len(),
                "{value}"
            );
        }
    }
}
