//! [`run_reducer`]: the one way the store calls reducers — on dispatch,
//! replay, rebuild, `as_of` and `history` alike.

use std::panic::{AssertUnwindSafe, catch_unwind};

use flux_capacitor::{Changeset, Error as CoreError, Reducer, StoredEvent};

/// Runs `reducer` on `event`. A panicking reducer is a
/// [`CoreError::Rejected`] whose message carries the panic's, so one bad
/// event neither takes the store down nor hides why it failed.
pub(crate) fn run_reducer(reducer: &dyn Reducer, event: &StoredEvent) -> Result<Changeset, CoreError> {
    catch_unwind(AssertUnwindSafe(|| reducer.reduce(event))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(CoreError::Rejected {
            event_type: event.event_type.clone(),
            message: format!("reducer panicked: {message}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;

    use super::*;

    fn formatted(_: &StoredEvent) -> Result<Changeset, CoreError> {
        panic!("bad {}", 42)
    }

    fn literal(_: &StoredEvent) -> Result<Changeset, CoreError> {
        panic!("bad")
    }

    #[test]
    fn a_panic_is_rejected_with_its_message() {
        let event = StoredEvent::at(1, "", Event::new("boom", serde_json::Value::Null));
        for (reducer, expected) in [(&formatted as &dyn Reducer, "bad 42"), (&literal, "bad")] {
            match run_reducer(reducer, &event) {
                Err(CoreError::Rejected { event_type, message }) => {
                    assert_eq!(event_type, "boom");
                    assert_eq!(message, format!("reducer panicked: {expected}"));
                }
                other => panic!("expected a rejection, got {other:?}"),
            }
        }
    }
}
