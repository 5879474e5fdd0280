//! A saga for tests: `orders`. For each `order/placed` `{ "id": n }` it
//! dispatches `order/confirmed`, asks for the effect `charge` and, when `n`
//! is a multiple of 5, schedules `order/reminder` one second after the
//! event; it counts placed orders and `charge/done` events in its state.

use std::time::Duration;

use flux_capacitor::{Event, StoredEvent};
use serde_json::{Value, json};

use crate::{DbPool, EventQuery, Saga, SagaAction, SagaConfig, Store, saga_fn};

/// The `orders` saga.
pub fn orders_saga() -> impl Saga {
    saga_fn("orders", |state: Value, event: &StoredEvent| {
        let count = |field: &str| state.get(field).and_then(Value::as_u64).unwrap_or(0);
        let (placed, charged) = (count("placed"), count("charged"));
        match event.event_type.as_str() {
            "order/placed" => {
                let id = event.payload["id"].clone();
                let mut actions = vec![
                    SagaAction::Dispatch(Event::new("order/confirmed", json!({ "id": id }))),
                    SagaAction::Effect {
                        name: "charge".into(),
                        input: json!({ "id": id }),
                    },
                ];
                if id.as_u64().is_some_and(|n| n % 5 == 0) {
                    let at = chrono::DateTime::parse_from_rfc3339(&event.timestamp)
                        .map_err(|e| e.to_string())?
                        .to_utc()
                        + chrono::Duration::seconds(1);
                    actions.push(SagaAction::Schedule {
                        at,
                        event: Event::new("order/reminder", json!({ "id": id })),
                    });
                }
                Ok((json!({ "placed": placed + 1, "charged": charged }), actions))
            }
            "charge/done" => Ok((json!({ "placed": placed, "charged": charged + 1 }), Vec::new())),
            _ => Ok((state, Vec::new())),
        }
    })
}

/// `order/placed` for order `n`.
pub fn placed(n: u64) -> Event {
    Event::new("order/placed", json!({ "id": n }))
}

/// Quick settings for tests: 20 ms polls, a 1 s lease, retries from 50 ms,
/// parked after 3 attempts, positions flushed every 100 ms.
pub fn quick_saga_config() -> SagaConfig {
    SagaConfig {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_secs(1),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        max_attempts: 3,
        flush_interval: Duration::from_millis(100),
        ..SagaConfig::default()
    }
}

/// The events of the log of type `event_type`.
pub async fn events_of(store: &Store, event_type: &str) -> Vec<StoredEvent> {
    store
        .events(EventQuery {
            after_seq: 0,
            limit: 1_000_000,
            types: Some(vec![event_type.into()]),
        })
        .await
        .expect("read the log")
}

/// Waits until `check` holds, polling every 20 ms; panics after `within`
/// naming `what`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Saga `name`'s state as written, read with sqlx directly.
pub async fn saga_state(store: &Store, name: &str) -> Value {
    let statement = "SELECT state FROM flux_sagas WHERE name = ";
    let text: String = match store.pool() {
        DbPool::Sqlite(p) => {
            sqlx::query_scalar(&format!("{statement}?"))
                .bind(name)
                .fetch_one(p)
                .await
        }
        DbPool::Postgres(p) => {
            sqlx::query_scalar(&format!("{statement}$1"))
                .bind(name)
                .fetch_one(p)
                .await
        }
        // A `LONGTEXT` with a binary collation comes as bytes.
        DbPool::MySql(p) => sqlx::query_scalar::<_, Vec<u8>>(&format!("{statement}?"))
            .bind(name)
            .fetch_one(p)
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    }
    .expect("read the saga's state");
    serde_json::from_str(&text).expect("the state is JSON")
}
