//! The changeset hash ([`flux_capacitor::changeset_hash`]) of a JS changeset:
//! the very code the server runs, so a client compares hashes knowing both
//! sides computed them the same way.

use flux_capacitor::Changeset;
use wasm_bindgen::JsValue;

use crate::error::from_core;
use crate::{js_error, panic_guard};

/// The 16-hex-digit hash of `changeset` (a JS array of operations, as
/// `reduce` answers), read through `JSON.stringify`. Not a changeset:
/// `invalid_changeset`; a value outside the portable domain: `unsupported_value`.
pub fn changeset_hash(changeset: JsValue) -> Result<String, JsValue> {
    panic_guard(|| {
        let invalid = |detail: String| js_error("invalid_changeset", &format!("not a changeset: {detail}"));
        let text = js_sys::JSON::stringify(&changeset)
            .map_err(|e| invalid(js_sys::Error::from(e).message().into()))?
            .as_string()
            .ok_or_else(|| invalid("it has no JSON form".into()))?;
        let changeset: Changeset = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        changeset.check_domain().map_err(|e| from_core(&e))?;
        Ok(flux_capacitor::changeset_hash(&changeset))
    })
}
