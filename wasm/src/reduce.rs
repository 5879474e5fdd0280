//! Running a reducer on JS events.

use flux_capacitor::{Reducer, StoredEvent};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::error::from_core;
use crate::{js_error, panic_guard, stored_event};

/// `value` as plain JS data, through JSON text and `JSON.parse`: a field
/// named `__proto__` stays an own property (an assignment would set the
/// prototype), and numbers arrive as the doubles they are.
pub(crate) fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| js_error("serialize", &e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|e| js_error("serialize", &String::from(js_sys::Error::from(e).message())))
}

/// Reduces one event as every applier does: the event and then the changeset
/// checked against the portable value domain (`unsupported_value`), the
/// changeset's numbers in canonical form (`-0.0` is `0`).
fn reduce_one(reducer: &dyn Reducer, event: &StoredEvent) -> Result<JsValue, JsValue> {
    event.check_domain().map_err(|e| from_core(&e))?;
    let changeset = reducer.reduce(event).map_err(|e| from_core(&e))?;
    changeset.check_domain().map_err(|e| from_core(&e))?;
    to_js(&changeset.canonical())
}

/// The changeset of `event` as a JS array of operations.
pub fn reduce(reducer: &dyn Reducer, event: JsValue) -> Result<JsValue, JsValue> {
    panic_guard(|| {
        let event = stored_event(event)?;
        reduce_one(reducer, &event)
    })
}

/// One changeset per event of the JS array `events`; an error carries the
/// failing event's `index`.
pub fn reduce_batch(reducer: &dyn Reducer, events: JsValue) -> Result<JsValue, JsValue> {
    panic_guard(|| {
        let array: js_sys::Array = events
            .dyn_into_array()
            .ok_or_else(|| js_error("invalid_event", "reduceBatch expects an array of events"))?;
        let out = js_sys::Array::new();
        for (index, event) in array.iter().enumerate() {
            let result = stored_event(event).and_then(|event| reduce_one(reducer, &event));
            match result {
                Ok(changeset) => {
                    out.push(&changeset);
                }
                Err(err) => {
                    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("index"), &JsValue::from(index as u32));
                    return Err(err);
                }
            }
        }
        Ok(out.into())
    })
}

trait DynIntoArray {
    fn dyn_into_array(self) -> Option<js_sys::Array>;
}

impl DynIntoArray for JsValue {
    fn dyn_into_array(self) -> Option<js_sys::Array> {
        js_sys::Array::is_array(&self).then(|| js_sys::Array::from(&self))
    }
}
