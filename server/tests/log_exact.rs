//! The event log keeps every event exactly, on every database: what the log
//! gives back (to `events`, to a new subscriber, to replay) is what the live
//! dispatch saw, so the state replayed from it (`as_of`, `rebuild`) is the
//! live state — numbers in every form (`1e17`, `1.0`, `-0.0`, the integer
//! extremes), duplicate and unordered keys, unicode.

use flux_capacitor::{Changeset, Error, Event, Operation, Schema, StoredEvent};
use flux_capacitor_server::testing::{TestDb, execute, for_each_backend, test_config};
use flux_capacitor_server::{Dialect, FindOptions, Store, SubscriptionItem};
use futures::StreamExt;
use serde_json::{Value, json};

/// Payloads (as a client would send them) whose JSON a database could
/// rewrite: PostgreSQL's JSONB turned `1e17` into `100000000000000000`
/// and `-0.0` into `0`.
const PAYLOADS: &[&str] = &[
    r#"{"n": 1e17}"#,
    r#"{"n": 1.0, "m": -0.0, "z": 0.0}"#,
    r#"{"big": 9007199254740991, "small": -9223372036854775808, "exact": 18446744073709551616, "tiny": 5e-324, "huge": 1.7976931348623157e308}"#,
    r#"{"b": 1, "a": 2, "a": 3}"#,
    r#"{"nested": {"z": [1.5e-7, 2E+3, 1e400000000000000000000], "a": {"deep": [true, null, "x"]}}}"#,
    r#"{"text": "é 日本 😀 \u2028 \"quoted\" \\ tab\t"}"#,
    r#"{"n": 100000000000000000, "f": 0.1, "g": 123456789012345678901234567890}"#,
];

fn schema() -> Schema {
    serde_json::from_value(json!({ "copies": { "key": "seq", "fields": { "seq": "integer", "raw": "text" } } }))
        .expect("schema")
}

/// Copies each event's payload, as JSON text, into a row: any change of the
/// payload between the live dispatch and a replay shows in the table.
fn copy(event: &StoredEvent) -> Result<Changeset, Error> {
    let row = json!({ "seq": event.seq, "raw": event.payload.to_string() });
    let Value::Object(row) = row else { unreachable!() };
    Ok(Changeset::from(vec![Operation::Create {
        collection: "copies".into(),
        key: "seq".into(),
        row,
    }]))
}

async fn store(db: &TestDb) -> Store {
    Store::builder(copy)
        .config(test_config())
        .open(db.pool().await)
        .await
        .expect("open")
}

/// The payloads as the store receives them (parsed; the JSON number that
/// overflows f64 is refused by the parser, so it is left out).
fn payloads() -> Vec<Value> {
    PAYLOADS
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_gives_back_every_event_exactly_and_replay_is_the_live_state() {
    for_each_backend(|db| async move {
        db.create_tables(&db.pool().await, &schema()).await;
        let store = store(&db).await;
        let sent = payloads();
        assert_eq!(sent.len(), PAYLOADS.len() - 1);
        let mut live = Vec::new();
        for payload in &sent {
            live.push(
                store
                    .dispatch(Event::new("copy", payload.clone()))
                    .await
                    .expect("dispatch"),
            );
        }
        // The log: the same values, and the same JSON text.
        let logged = store.events(Default::default()).await.expect("events");
        assert_eq!(logged, live);
        for (logged, sent) in logged.iter().zip(&sent) {
            assert_eq!(&logged.payload, sent);
            assert_eq!(logged.payload.to_string(), sent.to_string(), "{:?}", db.dialect);
        }
        // A new subscriber's view.
        let mut feed = store.subscribe_from(0);
        let mut seen = Vec::new();
        while seen.len() < live.len() {
            match feed.next().await.expect("a batch") {
                SubscriptionItem::Events(events) => seen.extend(events.iter().cloned()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, live);
        // The live table, the time machine at the head (replay alone, then
        // snapshot + replay) and a rebuild from the log.
        let table = store.find_all("copies", FindOptions::all()).await.expect("rows");
        assert_eq!(table.len(), sent.len());
        assert_eq!(table[0]["raw"], json!(sent[0].to_string()));
        assert_eq!(sent[0]["n"].as_f64(), Some(1e17));
        assert!(
            sent[0]["n"].is_f64(),
            "1e17 is a float, not the integer JSONB made of it"
        );
        let replayed = store
            .as_of(store.head())
            .await
            .expect("as_of")
            .find_all("copies", &FindOptions::all())
            .await;
        assert_eq!(replayed.expect("rows"), table);
        db.create_tables(&db.pool().await, &rebuilt_schema()).await;
        store
            .rebuild(copy, &[("copies", "copies_next")], |_| {})
            .await
            .expect("rebuild");
        assert_eq!(store.find_all("copies", FindOptions::all()).await.expect("rows"), table);
    })
    .await;
}

fn rebuilt_schema() -> Schema {
    serde_json::from_value(json!({ "copies_next": { "key": "seq", "fields": { "seq": "integer", "raw": "text" } } }))
        .expect("schema")
}

/// A PostgreSQL log made before the log kept its JSON as text (`JSONB`
/// columns) is converted when a store opens it: its events are still read,
/// and new events are kept exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_postgres_log_with_jsonb_columns_is_converted_to_text() {
    let db = TestDb::new(Dialect::Postgres).await;
    db.run(|db| async move {
        let pool = db.pool().await;
        execute(
            &pool,
            "CREATE TABLE flux_events (seq BIGINT PRIMARY KEY, id UUID NOT NULL UNIQUE, type TEXT NOT NULL,
             payload JSONB NOT NULL, meta JSONB, error BOOLEAN NOT NULL DEFAULT FALSE, timestamp TIMESTAMPTZ NOT NULL)",
        )
        .await;
        execute(
            &pool,
            "INSERT INTO flux_events VALUES (1, '0190b7e2-5c3a-7d1e-8f00-1234567890ab', 'copy', '{\"n\": 1e17}', '{\"user\": \"old\"}', FALSE, now())",
        )
        .await;
        db.create_tables(&pool, &schema()).await;
        execute(&pool, "INSERT INTO copies (seq, raw) VALUES (1, '{\"n\":100000000000000000}')").await;
        let store = store(&db).await;
        let old = store.events(Default::default()).await.expect("events");
        // JSONB had rewritten it before: the conversion keeps what was there.
        assert_eq!(old[0].payload, json!({ "n": 100000000000000000u64 }));
        assert_eq!(old[0].meta, Some(json!({ "user": "old" })));
        let new = store.dispatch(Event::new("copy", json!({ "n": 1e17 }))).await.expect("dispatch");
        let logged = store.events(Default::default()).await.expect("events");
        assert_eq!(logged[1], new);
        assert!(logged[1].payload["n"].is_f64(), "{}", logged[1].payload);
        assert_eq!(logged[1].payload.to_string(), json!({ "n": 1e17 }).to_string());
        let types: Vec<String> = match &pool {
            flux_capacitor_server::DbPool::Postgres(pg) => sqlx::query_scalar(
                "SELECT data_type::text FROM information_schema.columns
                 WHERE table_name = 'flux_events' AND column_name IN ('payload', 'meta') ORDER BY column_name",
            )
            .fetch_all(pg)
            .await
            .expect("column types"),
            _ => unreachable!(),
        };
        assert_eq!(types, ["text", "text"]);
        let then = store.as_of(2).await.expect("as_of");
        assert_eq!(
            then.find_all("copies", &FindOptions::all()).await.expect("rows"),
            store.find_all("copies", FindOptions::all()).await.expect("rows")
        );
        // A second open finds nothing to convert.
        drop(store);
        let again = flux_capacitor_server::testing::conformance_store(&db).await;
        assert_eq!(again.events(Default::default()).await.expect("events").len(), 2);
    })
    .await;
}
