//! JS events (FSA or stored) into [`StoredEvent`]s.

use flux_capacitor::{Event, StoredEvent};
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::js_error;

/// Reads a JS event: a Flux Standard Action or a stored event. A missing `id`
/// is the nil UUID, `seq` is `0`, `timestamp` is `""`.
///
/// The event is read through `JSON.stringify`, exactly as it travels to a
/// server: the reducer sees the same values in the browser and on the server
/// (`-0` is `0`, a `Date` its ISO text, an own `__proto__` key a key like any
/// other, `undefined` fields absent), and what JSON cannot carry (a `BigInt`,
/// a cycle) is `invalid_event`.
pub fn stored_event(event: JsValue) -> Result<StoredEvent, JsValue> {
    let not_json = |detail: String| js_error("invalid_event", &format!("not a JSON event: {detail}"));
    let text = js_sys::JSON::stringify(&event)
        .map_err(|e| not_json(js_sys::Error::from(e).message().into()))?
        .as_string()
        .ok_or_else(|| not_json("it has no JSON form".into()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| not_json(e.to_string()))?;
    from_value(value).map_err(|message| js_error("invalid_event", &message))
}

pub(crate) fn from_value(value: Value) -> Result<StoredEvent, String> {
    let Value::Object(mut map) = value else {
        return Err("an event must be an object with a `type`".into());
    };
    let id = match map.remove("id") {
        None | Some(Value::Null) => uuid::Uuid::nil(),
        Some(v) => serde_json::from_value(v).map_err(|e| format!("invalid event id: {e}"))?,
    };
    let seq = match map.remove("seq") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().ok_or("invalid event seq")?,
    };
    let timestamp = match map.remove("timestamp") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err("invalid event timestamp".into()),
    };
    let event: Event = serde_json::from_value(Value::Object(map)).map_err(|e| format!("invalid event: {e}"))?;
    Ok(StoredEvent {
        id,
        seq,
        timestamp,
        // A pushed event's `hash` is not the reducer's business.
        hash: None,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsa_gets_defaults() {
        let e = from_value(serde_json::json!({"type": "a", "payload": {"x": 1}})).unwrap();
        assert_eq!((e.seq, e.timestamp.as_str(), e.id), (0, "", uuid::Uuid::nil()));
        assert!(from_value(serde_json::json!([1])).is_err());
    }
}
