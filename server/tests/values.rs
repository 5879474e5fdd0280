//! The portable value domain on every backend: values outside it and texts
//! longer than their column are typed errors, and nothing is written.

use flux_capacitor::Event;
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::{conformance_store, count, execute, for_each_backend};
use serde_json::{Value, json};

fn apply(ops: Value) -> Event {
    Event::new("conformance/apply", json!({ "ops": ops }))
}

fn create(collection: &str, row: Value) -> Value {
    json!({ "op": "create", "collection": collection, "row": row })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_longer_than_their_column_are_value_too_long() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        let (key_type, limited) = match db.dialect {
            Dialect::MySql => ("VARCHAR(191) COLLATE utf8mb4_nopad_bin", "TEXT COLLATE utf8mb4_bin"),
            Dialect::Postgres => ("VARCHAR(191)", "VARCHAR(10)"),
            Dialect::Sqlite => ("TEXT", "TEXT"),
        };
        execute(
            &pool,
            &format!("CREATE TABLE notes (id {key_type} NOT NULL PRIMARY KEY, body {limited})"),
        )
        .await;
        let store = conformance_store(&db).await;
        let long_key = "é".repeat(192);
        let long_body = match db.dialect {
            Dialect::MySql => "\u{1F600}".repeat(16_384), // 65536 bytes, 16384 characters
            _ => "x".repeat(11),
        };
        for (first, row, limit) in [
            ("first", json!({ "id": long_key, "body": "b" }), "191 characters"),
            (
                "second",
                json!({ "id": "a", "body": long_body }),
                if db.dialect == Dialect::MySql {
                    "65535 bytes"
                } else {
                    "10 characters"
                },
            ),
        ] {
            let result = store
                .dispatch(apply(json!([
                    create("notes", json!({ "id": first })),
                    create("notes", row)
                ])))
                .await;
            if db.dialect == Dialect::Sqlite {
                result.expect("SQLite holds any length");
                continue;
            }
            let err = result.expect_err("too long");
            assert_eq!(err.kind(), "value_too_long", "{err}");
            let message = err.to_string();
            assert!(message.contains("notes") && message.contains(limit), "{message}");
            assert_eq!(count(&pool, "notes").await, 0, "nothing written");
        }
        // Within the limits, written and read back whole.
        let fits = "\u{1F600}".repeat(16_383);
        let body = if db.dialect == Dialect::Postgres {
            "0123456789".to_string()
        } else {
            fits
        };
        let key = "é".repeat(191);
        store
            .dispatch(apply(json!([create("notes", json!({ "id": key, "body": body }))])))
            .await
            .expect("fits");
        let rows = store.snapshot().await.expect("snapshot");
        assert!(
            rows["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == json!(key) && r["body"] == json!(body))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_outside_the_domain_are_refused_before_anything_is_written() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        let key = if db.dialect == Dialect::MySql {
            "VARCHAR(191)"
        } else {
            "TEXT"
        };
        execute(
            &pool,
            &format!("CREATE TABLE items (id {key} NOT NULL PRIMARY KEY, title TEXT)"),
        )
        .await;
        let store = conformance_store(&db).await;
        let deep = (0..40).fold(json!(1), |v, _| json!([v]));
        for event in [
            apply(json!([
                create("items", json!({ "id": "a" })),
                create("items", json!({ "id": "b", "title": "x\u{0}y" }))
            ])),
            Event::new("conformance/apply", json!({ "ops": [], "note": "\u{0}" })),
            Event::new("conformance/apply", json!({ "ops": [] })).with_meta(json!({ "user": "\u{0}" })),
            Event::new("conformance/apply", json!({ "ops": [], "deep": deep })),
            Event::new(
                "conformance/apply_json",
                json!({ "json": r#"[{"op":"create","collection":"items","row":{"id":"c","n":9007199254740993}}]"# }),
            ),
        ] {
            let err = store.dispatch(event).await.expect_err("outside the domain");
            assert_eq!(err.kind(), "unsupported_value", "{err}");
            assert!(err.to_string().contains("unsupported value"), "{err}");
        }
        assert_eq!(count(&pool, "items").await, 0);
        assert_eq!(count(&pool, "flux_events").await, 0, "no event logged");
    })
    .await;
}
