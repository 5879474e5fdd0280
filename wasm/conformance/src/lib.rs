//! The conformance suite's reducer (and, for tests, a `test/panic` event that
//! panics) exported to JS, with the reference `MemoryDatabase`.

use flux_capacitor::{Changeset, Error, Reducer, StoredEvent, testing::conformance};

struct WithPanic(flux_capacitor::Aggregate);

impl Reducer for WithPanic {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        if event.event_type == "test/panic" {
            panic!("test/panic: boom");
        }
        self.0.reduce(event)
    }
}

flux_capacitor_wasm::export_reducer!(WithPanic(conformance::reducer()));
