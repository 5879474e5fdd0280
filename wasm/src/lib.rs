//! The wasm-bindgen layer of Flux Capacitor: turns a user's reducers into
//! JS-callable reducers. Every JS conversion and every JS error lives here.
//!
//! A user's wasm crate (a `cdylib`) exports its reducers in one line:
//!
//! ```ignore
//! flux_capacitor_wasm::export_reducer!(my_reducers::root());
//! ```
//!
//! which exports to JS:
//!
//! * `reduce(event)`: the changeset of one event, as a plain JS array of
//!   operations. `event` is a Flux Standard Action or a stored event; a
//!   missing `id` is the nil UUID, a missing `seq` is `0` and a missing
//!   `timestamp` is `""` (an event not yet committed by a store).
//! * `reduceBatch(events)`: one changeset per event.
//! * `changesetHash(changeset)`: the changeset's hash
//!   ([`flux_capacitor::changeset_hash`], 16 hex digits), computed by the same
//!   code as the server's, to compare with the hash of a committed event.
//!
//! The package's `.d.ts` types them, `reduce(event: FluxEvent): Changeset` and
//! `reduceBatch(events: FluxEvent[]): Changeset[]`, with the declarations of
//! [`TYPESCRIPT`] (the `flux-capacitor` npm package's own).
//!
//! Errors are real JS `Error`s carrying the Rust message, with `kind` set to
//! [`flux_capacitor::Error::kind`] (or `invalid_event` when the event does not
//! decode, `panic` when the reducer panicked, `poisoned` for every call after a
//! panic: the module must then be reloaded, it is never left silently broken).

mod error;
mod event;
mod hash;
#[cfg(feature = "memory-database")]
mod memory;
mod reduce;
mod types;

pub use error::{js_error, panic_guard};
pub use event::stored_event;
pub use hash::changeset_hash;
pub use reduce::{reduce, reduce_batch};
pub use types::TYPESCRIPT;

#[doc(hidden)]
pub mod __private {
    pub use flux_capacitor;
    pub use wasm_bindgen;
}

/// Exports `reduce(event)`, `reduceBatch(events)` and `changesetHash(changeset)` for the reducer that
/// `$reducer` (an expression, evaluated once) builds.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_reducer {
    ($reducer:expr) => {
        fn __flux_capacitor_reducer() -> &'static dyn $crate::__private::flux_capacitor::Reducer {
            static REDUCER: ::std::sync::OnceLock<::std::boxed::Box<dyn $crate::__private::flux_capacitor::Reducer>> =
                ::std::sync::OnceLock::new();
            &**REDUCER.get_or_init(|| ::std::boxed::Box::new($reducer))
        }

        /// The changeset of one event (FSA or stored event), as a JS array of operations.
        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(
            js_name = reduce,
            unchecked_return_type = "Changeset",
            wasm_bindgen = $crate::__private::wasm_bindgen
        )]
        pub fn __flux_capacitor_reduce(
            #[wasm_bindgen(unchecked_param_type = "FluxEvent")]
            event: $crate::__private::wasm_bindgen::JsValue,
        ) -> ::core::result::Result<$crate::__private::wasm_bindgen::JsValue, $crate::__private::wasm_bindgen::JsValue>
        {
            $crate::reduce(__flux_capacitor_reducer(), event)
        }

        /// The changeset's hash (16 hex digits), as the server computes it.
        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(
            js_name = changesetHash,
            wasm_bindgen = $crate::__private::wasm_bindgen
        )]
        pub fn __flux_capacitor_changeset_hash(
            #[wasm_bindgen(unchecked_param_type = "Changeset")]
            changeset: $crate::__private::wasm_bindgen::JsValue,
        ) -> ::core::result::Result<::std::string::String, $crate::__private::wasm_bindgen::JsValue>
        {
            $crate::changeset_hash(changeset)
        }

        /// One changeset per event.
        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(
            js_name = reduceBatch,
            unchecked_return_type = "Changeset[]",
            wasm_bindgen = $crate::__private::wasm_bindgen
        )]
        pub fn __flux_capacitor_reduce_batch(
            #[wasm_bindgen(unchecked_param_type = "FluxEvent[]")]
            events: $crate::__private::wasm_bindgen::JsValue,
        ) -> ::core::result::Result<$crate::__private::wasm_bindgen::JsValue, $crate::__private::wasm_bindgen::JsValue>
        {
            $crate::reduce_batch(__flux_capacitor_reducer(), events)
        }
    };
}
