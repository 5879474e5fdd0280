//! The notes reducers exported to JS: `reduce(event)`, `reduceBatch(events)`.

flux_capacitor_wasm::export_reducer!(notes_reducers::root());
