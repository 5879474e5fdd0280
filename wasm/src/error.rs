//! Errors as real JS `Error`s with a `kind`; panics surfaced, never silent.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use wasm_bindgen::JsValue;

static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// A JS `Error` with `message`, `name = "FluxCapacitorError"` and `kind`.
pub fn js_error(kind: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("FluxCapacitorError");
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("kind"), &JsValue::from_str(kind));
    error.into()
}

/// Runs `f` after installing the panic hook. A panic throws a JS `Error` of
/// kind `panic` (with the Rust message) and marks the module unusable: every
/// later call throws kind `poisoned` instead of running on a broken stack.
pub fn panic_guard<T>(f: impl FnOnce() -> Result<T, JsValue>) -> Result<T, JsValue> {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            PANICKED.store(true, Ordering::SeqCst);
            wasm_bindgen::throw_val(js_error("panic", &format!("the wasm reducer panicked: {info}")));
        }))
    });
    if PANICKED.load(Ordering::SeqCst) {
        return Err(js_error(
            "poisoned",
            "the wasm module panicked earlier and cannot be used any more; reload it",
        ));
    }
    f()
}

pub(crate) fn from_core(err: &flux_capacitor::Error) -> JsValue {
    js_error(err.kind(), &err.to_string())
}
