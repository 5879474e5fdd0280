//! The reference `MemoryDatabase`, exported for differential tests.

use flux_capacitor::{Changeset, MemoryDatabase, Schema};
use wasm_bindgen::prelude::*;

use crate::error::from_core;
use crate::js_error;

/// `MemoryDatabase` in JS: `new MemoryDatabase(schema?)`.
#[wasm_bindgen(js_name = MemoryDatabase)]
pub struct JsMemoryDatabase(MemoryDatabase);

#[wasm_bindgen(js_class = MemoryDatabase)]
impl JsMemoryDatabase {
    /// An empty database, with an optional schema.
    #[wasm_bindgen(constructor)]
    pub fn new(schema: JsValue) -> Result<JsMemoryDatabase, JsValue> {
        if schema.is_undefined() || schema.is_null() {
            return Ok(JsMemoryDatabase(MemoryDatabase::new()));
        }
        let schema: Schema =
            serde_wasm_bindgen::from_value(schema).map_err(|e| js_error("invalid_schema", &e.to_string()))?;
        Ok(JsMemoryDatabase(MemoryDatabase::with_schema(schema)))
    }

    /// Applies a changeset (a JS array of operations), all or nothing.
    #[wasm_bindgen(js_name = applyChangeset)]
    pub fn apply_changeset(&mut self, changeset: JsValue) -> Result<(), JsValue> {
        crate::panic_guard(|| {
            let text = js_sys::JSON::stringify(&changeset)
                .ok()
                .and_then(|t| t.as_string())
                .ok_or_else(|| js_error("invalid_changeset", "the changeset has no JSON form"))?;
            let changeset: Changeset =
                serde_json::from_str(&text).map_err(|e| js_error("invalid_changeset", &e.to_string()))?;
            self.0.apply(&changeset).map_err(|e| from_core(&e))
        })
    }

    /// `{ collection: [rows in key order] }`.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        crate::reduce::to_js(&self.0.snapshot())
    }
}
