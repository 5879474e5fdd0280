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

    /// Creates the row `payload` in `items` on `tick`; panics on `boom`.
    fn ticks(event: &StoredEvent) -> Result<Changeset, CoreError> {
        match event.event_type.as_str() {
            "tick" => Ok(Changeset::single(flux_capacitor::Operation::Create {
                collection: "items".into(),
                key: "id".into(),
                row: event.payload.as_object().cloned().unwrap_or_default(),
            })),
            "boom" => panic!("boom exploded"),
            _ => Ok(Changeset::no_change()),
        }
    }

    /// The reducers of a later version, which panic on every stored `tick`.
    fn broken(event: &StoredEvent) -> Result<Changeset, CoreError> {
        match event.event_type.as_str() {
            "tick" => panic!("tick exploded at {}", event.seq),
            _ => Ok(Changeset::no_change()),
        }
    }

    /// Dispatch and `rebuild` survive a panicking reducer and report its message.
    #[tokio::test]
    async fn every_path_reports_a_panicking_reducer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("panics.db").display());
        let pool = crate::DbPool::connect(&url, 2).await.unwrap();
        for table in ["items", "items_v2"] {
            let create = crate::sql::Sql::fixed(pool.dialect(), format!("CREATE TABLE {table} (id TEXT PRIMARY KEY)"));
            pool.backend().execute(&create).await.unwrap();
        }
        let config = crate::Config::default();
        let store = crate::Store::builder(ticks)
            .config(config.clone())
            .open(pool.clone())
            .await
            .unwrap();
        store
            .dispatch(Event::new("tick", serde_json::json!({ "id": "a" })))
            .await
            .unwrap();
        let err = store
            .dispatch(Event::new("boom", serde_json::Value::Null))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "rejected", "{err}");
        assert!(err.to_string().contains("reducer panicked: boom exploded"), "{err}");
        // A group of several dispatches takes the multi-row path first.
        let (ok, boom) = tokio::join!(
            store.dispatch_all(vec![
                Event::new("tick", serde_json::json!({ "id": "b" })),
                Event::new("tick", serde_json::json!({ "id": "c" }))
            ]),
            store.dispatch_all(vec![
                Event::new("tick", serde_json::json!({ "id": "d" })),
                Event::new("boom", serde_json::Value::Null)
            ]),
        );
        ok.unwrap();
        assert!(
            boom.unwrap_err()
                .to_string()
                .contains("reducer panicked: boom exploded")
        );
        assert_eq!(store.head(), 3, "the store keeps working");

        let later = crate::Store::builder(broken).config(config).open(pool).await.unwrap();
        let expected = "reducer panicked: tick exploded at 1";
        // `as_of` and `history` read the row versions: no reducer runs.
        let then = later.as_of(2u64).await.unwrap();
        assert_eq!(
            then.find_by_id("items", "a").await.unwrap().map(|r| r["id"].clone()),
            Some("a".into())
        );
        assert_eq!(later.history("items", "a").await.unwrap().len(), 1);
        let err = later
            .rebuild(broken, &[("items", "items_v2")], |_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "replay", "{err}");
        assert!(err.to_string().contains(expected), "rebuild: {err}");
    }
}
