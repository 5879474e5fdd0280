//! A differential test of reads: random rows (mixed types, unicode, missing
//! fields, ties) and random reads (filters, orders, pages, reads by key,
//! some of them invalid) answered by the reference `MemoryDatabase` and, on
//! SQLite, PostgreSQL and MariaDB, by the live store, the time machine and
//! the HTTP service — every answer must be the reference's.
//!
//! A fixed seed and a bounded number of cases by default (CI);
//! `FLUX_READS_CASES=200` runs more, `FLUX_READS_SEED=<n>` another sequence.

mod support;

use flux_capacitor::testing::conformance;
use flux_capacitor::testing::reads::{Answer, FindAll, Read, run_read};
use flux_capacitor::{Event, Filter, Key, MemoryDatabase, Row, Schema, StoredEvent};
use flux_capacitor_server::testing::{BACKENDS, TestDb, conformance_store};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use support::{Readers, http_expected};

fn schema() -> Schema {
    serde_json::from_value(json!({
        "items": { "key": "id", "fields": {
            "id": "text", "t": "text", "i": "integer", "r": "real", "b": "boolean", "j": "json"
        } }
    }))
    .expect("schema")
}

/// Text that sorts differently by code point, by case, by collation and
/// with trailing spaces.
const TEXTS: &[&str] = &[
    "", "a", "A", "a ", "b", "B", "é", "e\u{301}", "日本", "z", "Zebra", "😀", "a b/c",
];
/// Integers, with ties and both extremes of the value domain's exact
/// integers (±(2^53−1); `flux_capacitor::domain`).
const INTS: &[i64] = &[-3, -1, 0, 1, 2, 2, 7, -9_007_199_254_740_991, 9_007_199_254_740_991];
/// Reals that are not whole numbers (how whole-number reals read back is
/// decided by the portable value domain, not here).
const REALS: &[f64] = &[-1.5, -0.25, 0.5, 0.5, 2.75, 1e-3, 123.456];

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(TEXTS).prop_map(str::to_owned)
}

fn scalar_for(field: &'static str) -> BoxedStrategy<Value> {
    match field {
        "t" | "id" => text().prop_map(Value::from).boxed(),
        "i" => prop::sample::select(INTS).prop_map(Value::from).boxed(),
        "r" => prop::sample::select(REALS).prop_map(Value::from).boxed(),
        _ => any::<bool>().prop_map(Value::from).boxed(),
    }
}

/// A value compared with `field`: mostly of its type, sometimes another
/// type (never equal, never ordered) or a number of the other kind.
fn compared(field: &'static str) -> BoxedStrategy<Value> {
    prop_oneof![
        6 => scalar_for(field),
        1 => scalar_for("t"),
        1 => prop::sample::select(&[0.5f64, 2.0, -3.0][..]).prop_map(Value::from),
        1 => prop::sample::select(INTS).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
    ]
    .boxed()
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(text()),
        prop::option::of(prop::sample::select(INTS)),
        prop::option::of(prop::sample::select(REALS)),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            Just(json!([1, "x"])),
            Just(json!({ "k": null })),
            Just(json!("s"))
        ]),
    )
        .prop_map(|(t, i, r, b, j)| {
            let mut row = Row::new();
            let mut put = |field: &str, value: Option<Value>| {
                if let Some(value) = value {
                    row.insert(field.into(), value);
                }
            };
            put("t", t.map(Value::from));
            put("i", i.map(Value::from));
            put("r", r.map(Value::from));
            put("b", b.map(Value::from));
            put("j", j);
            row
        })
}

/// Up to 12 rows, with distinct keys from [`TEXTS`].
fn rows() -> impl Strategy<Value = Vec<Row>> {
    (
        prop::sample::subsequence(TEXTS, 0..=12),
        prop::collection::vec(row(), 12),
    )
        .prop_map(|(keys, rows)| {
            keys.into_iter()
                .zip(rows)
                .map(|(key, mut row)| {
                    row.insert("id".into(), Value::from(key));
                    row
                })
                .collect()
        })
}

const FIELDS: &[&str] = &["id", "t", "i", "r", "b"];

fn comparison() -> impl Strategy<Value = Filter> {
    prop::sample::select(FIELDS).prop_flat_map(|field| {
        prop_oneof![
            compared(field).prop_map(move |v| Filter::eq(field, v)),
            compared(field).prop_map(move |v| Filter::ne(field, v)),
            compared(field).prop_map(move |v| Filter::lt(field, v)),
            compared(field).prop_map(move |v| Filter::lte(field, v)),
            compared(field).prop_map(move |v| Filter::gt(field, v)),
            compared(field).prop_map(move |v| Filter::gte(field, v)),
            prop::collection::vec(compared(field), 0..3).prop_map(move |vs| Filter::is_in(field, vs)),
            Just(Filter::is_null(field)),
        ]
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        20 => comparison(),
        1 => Just(Filter::eq("j", 1)),
        1 => Just(Filter::eq("nope", 1)),
        1 => Just(Filter::eq("t", Value::Null)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::and),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::or),
            inner.prop_map(Filter::not),
        ]
    })
}

fn order() -> impl Strategy<Value = Vec<String>> {
    let field = prop_oneof![
        20 => prop::sample::select(FIELDS).prop_map(str::to_owned),
        1 => Just("j".to_owned()),
        1 => Just("nope".to_owned()),
    ];
    prop::collection::vec((field, any::<bool>()), 0..3).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(f, desc)| if desc { format!("-{f}") } else { f })
            .collect()
    })
}

fn read() -> impl Strategy<Value = Read> {
    let find_all = (
        prop::option::of(filter()),
        order(),
        prop::option::of(0u64..8),
        prop_oneof![3 => Just(0u64), 1 => 0u64..8],
    )
        .prop_map(|(filter, order, limit, offset)| FindAll {
            filter,
            order,
            limit,
            offset,
        });
    let key = prop_oneof![
        8 => text().prop_map(Key::from),
        1 => Just(Key::Int(1)),
    ];
    let blank = |find_all, find_by_id| Read {
        note: None,
        at: None,
        collection: "items".into(),
        find_all,
        find_by_id,
        http: None,
        rows: None,
        row: None,
        error: None,
    };
    prop_oneof![
        5 => find_all.prop_map(move |f| blank(Some(f), None)),
        1 => key.prop_map(move |k| blank(None, Some(k))),
    ]
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The event that replaces every row by `rows`.
fn replace_all(rows: &[Row]) -> Event {
    let mut ops =
        vec![json!({ "op": "destroy_where", "collection": "items", "filter": { "op": "and", "filters": [] } })];
    ops.extend(
        rows.iter()
            .map(|row| json!({ "op": "create", "collection": "items", "row": row })),
    );
    Event::new("conformance/apply", json!({ "ops": ops }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_reads_agree_with_the_reference_everywhere() {
    let cases = env("FLUX_READS_CASES", 12) as u32;
    let seed = env("FLUX_READS_SEED", 19);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    // The data and the reads, drawn once and used on every backend.
    let strategy = (rows(), prop::collection::vec(read(), 24));
    let mut drawn = Vec::new();
    for _ in 0..cases {
        let tree = strategy.new_tree(&mut runner).expect("a case");
        drawn.push(tree.current());
    }
    let schema = schema();
    let reducer = conformance::reducer();
    let mut checked = 0u32;
    // The draws must exercise both refusals and non-trivial answers.
    let (mut errors, mut several) = (0u32, 0u32);
    for dialect in BACKENDS {
        let db = TestDb::new(dialect).await;
        let pool = db.pool_with_tables(&schema).await;
        let store = conformance_store(&db).await;
        let readers = Readers::new(store.clone(), schema.clone());
        let mut reference = MemoryDatabase::with_schema(schema.clone());
        for (case, (rows, reads)) in drawn.iter().enumerate() {
            let event = replace_all(rows);
            let stored = store.dispatch(event.clone()).await.expect("the rows are valid");
            let head = stored.seq;
            let previous = reference.clone();
            reference
                .dispatch(&reducer, &StoredEvent::at(head, "", event))
                .expect("the reference applies them");
            for read in reads {
                let expected = run_read(&reference, read).expect("a find_all or find_by_id");
                match &expected {
                    Answer::Error(_) => errors += 1,
                    Answer::Rows(rows) if rows.len() > 1 => several += 1,
                    _ => {}
                }
                let context = || {
                    format!(
                        "{dialect:?}, case {case} (seed {seed}): rows {}\nread {}",
                        serde_json::to_string(rows).unwrap_or_default(),
                        serde_json::to_string(read).unwrap_or_default()
                    )
                };
                let live = readers.live(read).await.expect("a store read");
                assert_eq!(live, expected, "the live store: {}", context());
                let then = readers.as_of(read, head).await.expect("an as_of read");
                assert_eq!(then, expected, "as_of at the head: {}", context());
                let http = http_expected(read, &expected);
                for as_of in [None, Some(head)] {
                    if let Some(got) = readers.http(read, as_of).await {
                        assert_eq!(got, http, "HTTP (as_of {as_of:?}): {}", context());
                        checked += 1;
                    }
                }
                checked += 2;
            }
            // A past point: the state before this case's rows (the previous
            // case's), through the last snapshot and replay.
            for read in reads.iter().take(6) {
                let expected = run_read(&previous, read).expect("a find_all or find_by_id");
                let then = readers.as_of(read, head - 1).await.expect("an as_of read");
                assert_eq!(then, expected, "{dialect:?}, case {case}: as_of {}: {read:?}", head - 1);
                checked += 1;
            }
        }
        drop(readers);
        drop(store);
        pool.close().await;
        db.drop_db().await;
    }
    assert!(checked >= cases * 24 * 3 * 2, "only {checked} answers checked");
    let reads = cases * 24 * 3;
    assert!(
        errors * 20 > reads && errors * 3 < reads,
        "{errors} of {reads} reads refused"
    );
    assert!(
        several * 5 > reads,
        "only {several} of {reads} reads answer several rows"
    );
}
