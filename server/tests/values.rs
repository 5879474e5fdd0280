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
            Event::new("conformance/apply\u{0}", json!({ "ops": [] })),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_keys_beyond_the_index_limit_are_value_too_long() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        // PostgreSQL: a B-tree entry holds 2692 bytes of key, 2676 beside
        // the row versions' two sequence numbers; MariaDB: a VARCHAR(700)
        // key (InnoDB's index limit is 3072 bytes).
        let (key_type, fits, too_long, limit) = match db.dialect {
            Dialect::Postgres => ("TEXT", 2676, 2677, Some("2676 bytes")),
            Dialect::MySql => (
                "VARCHAR(700) COLLATE utf8mb4_nopad_bin",
                700,
                701,
                Some("700 characters"),
            ),
            Dialect::Sqlite => ("TEXT", 2692, 100_000, None),
        };
        execute(
            &pool,
            &format!("CREATE TABLE long_keys (id {key_type} NOT NULL PRIMARY KEY)"),
        )
        .await;
        let store = conformance_store(&db).await;
        // Text that does not compress (xorshift): PostgreSQL would fit a
        // longer key that compresses well.
        let key = |n: usize| {
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'!' + (state % 90) as u8)
                })
                .collect::<String>()
        };
        store
            .dispatch(apply(json!([create("long_keys", json!({ "id": key(fits) }))])))
            .await
            .expect("fits");
        let result = store
            .dispatch(apply(json!([create("long_keys", json!({ "id": key(too_long) }))])))
            .await;
        match limit {
            None => {
                result.expect("SQLite indexes any length");
            }
            Some(limit) => {
                let err = result.expect_err("too long");
                assert_eq!(err.kind(), "value_too_long", "{err}");
                assert!(err.to_string().contains(limit), "{err}");
            }
        }
        assert_eq!(count(&pool, "long_keys").await, if limit.is_some() { 1 } else { 2 });
    })
    .await;
}

/// Doubles that SQLite's text-to-number conversion (and its 15-digit text
/// form) would change, and integers around the domain's edges.
const BARE_NUMBERS: [&str; 15] = [
    "0.30000000000000004",
    "-9223372036854775808",
    "1.7976931348623157e308",
    "5e-324",
    "2.2250738585072014e-308",
    "1.8539374522211686e-292",
    "2.809725431980912e221",
    "9007199254740992.0",
    "9007199254740991",
    "-9007199254740991",
    "1e20",
    "3.0",
    "-0.0",
    "0.1",
    "123456789012.5",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_json_numbers_come_back_exactly() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        let (key, json_types): (&str, &[&str]) = match db.dialect {
            Dialect::MySql => ("BIGINT", &["JSON"]),
            Dialect::Postgres => ("BIGINT", &["JSONB", "JSON"]),
            // NUMERIC affinity (`JSON`, `JSONB`), INTEGER, TEXT and BLOB affinity.
            Dialect::Sqlite => ("INTEGER", &["JSON", "JSONB", "JSON_INT", "JSON TEXT", "BLOB JSON"]),
        };
        let columns: Vec<String> = (0..json_types.len()).map(|i| format!("j{i}")).collect();
        let defs: Vec<String> = columns
            .iter()
            .zip(json_types)
            .map(|(c, t)| format!("{c} {t}"))
            .collect();
        execute(
            &pool,
            &format!("CREATE TABLE nums (id {key} NOT NULL PRIMARY KEY, {})", defs.join(", ")),
        )
        .await;
        let store = conformance_store(&db).await;
        // Through `apply_json`: the numbers as written, not as `json!` would round them.
        let ops: Vec<String> = BARE_NUMBERS
            .iter()
            .enumerate()
            .map(|(id, n)| {
                let fields: Vec<String> = columns.iter().map(|c| format!(r#""{c}":{n}"#)).collect();
                format!(
                    r#"{{"op":"create","collection":"nums","row":{{"id":{id},{}}}}}"#,
                    fields.join(",")
                )
            })
            .collect();
        store
            .dispatch(Event::new(
                "conformance/apply_json",
                json!({ "json": format!("[{}]", ops.join(",")) }),
            ))
            .await
            .expect("in the domain");
        let snapshot = store.snapshot().await.expect("snapshot");
        let rows = snapshot["nums"].as_array().expect("rows");
        assert_eq!(rows.len(), BARE_NUMBERS.len());
        for (row, literal) in rows.iter().zip(BARE_NUMBERS) {
            let written: Value = serde_json::from_str(literal).unwrap();
            let expected = serde_json::to_string(&flux_capacitor::domain::canonical(&written)).unwrap();
            for c in &columns {
                let got = serde_json::to_string(&row[c.as_str()]).unwrap();
                assert_eq!(got, expected, "{:?} column {c} ({literal})", db.dialect);
            }
        }
    })
    .await;
}
