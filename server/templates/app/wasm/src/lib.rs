//! The reducers of {{name}} exported to JS: `reduce(event)`, `reduceBatch(events)`.

flux_capacitor_wasm::export_reducer!({{crate}}_reducers::root());
