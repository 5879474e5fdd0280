//! The changeset hash ([`flux_capacitor::hash`]): the same for changesets
//! that mean the same (object keys in any order, `3.0` and `3`), different
//! for different changesets.

use flux_capacitor::{Changeset, changeset_hash};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(Value::from),
        (-1000i64..1000).prop_map(|n| json!(n as f64 / 4.0)),
        "[a-z\"\\\\é]{0,6}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-d]{1,2}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A changeset of creates and updates on `notes`.
fn changeset() -> impl Strategy<Value = Value> {
    let row = proptest::collection::vec(("[a-e]{1,2}", value()), 0..4);
    proptest::collection::vec((any::<bool>(), "[a-z]{1,3}", row), 0..4).prop_map(|ops| {
        let ops: Vec<Value> = ops
            .into_iter()
            .map(|(create, id, fields)| {
                let mut row: Map<String, Value> = fields.into_iter().collect();
                if create {
                    row.insert("id".into(), Value::String(id));
                    json!({ "op": "create", "collection": "notes", "row": row })
                } else {
                    json!({ "op": "update_by_id", "collection": "notes", "id": id, "patch": row })
                }
            })
            .collect();
        Value::Array(ops)
    })
}

fn parse(value: &Value) -> Changeset {
    serde_json::from_value(value.clone()).expect("a changeset")
}

/// `value` with every object's keys inserted in reverse order and every
/// integer written as a float (`3` as `3.0`).
fn rewritten(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map.iter().rev() {
                out.insert(key.clone(), rewritten(item));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(rewritten).collect()),
        Value::Number(n) if n.is_i64() => json!(n.as_i64().unwrap() as f64),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn the_hash_ignores_key_order_and_number_spelling(raw in changeset()) {
        let changeset = parse(&raw);
        let hash = changeset_hash(&changeset);
        prop_assert_eq!(hash.len(), 16);
        prop_assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        prop_assert_eq!(changeset_hash(&parse(&rewritten(&raw))), hash);
    }

    #[test]
    fn the_hash_is_fnv1a_of_the_canonical_json(raw in changeset(), key in "[a-z\"\\\\\u{1}\n\u{7f}é]{1,4}") {
        // The hash is written as it is computed; it must stay the definition:
        // FNV-1a of the canonical text (escaped keys and strings included).
        let mut raw = raw;
        if let Some(Value::Object(op)) = raw.as_array_mut().and_then(|ops| ops.first_mut())
            && let Some(Value::Object(row)) = op.get_mut(if op.contains_key("row") { "row" } else { "patch" })
        {
            row.insert(key.clone(), Value::String(key.clone()));
        }
        // A string is written as serde_json writes it, escapes and all.
        prop_assert_eq!(
            flux_capacitor::hash::canonical_json(&Value::String(key.clone())),
            serde_json::to_string(&key).unwrap()
        );
        let changeset = parse(&raw);
        let text = flux_capacitor::hash::canonical_json(&serde_json::to_value(&changeset).unwrap());
        prop_assert_eq!(changeset_hash(&changeset), format!("{:016x}", flux_capacitor::hash::fnv1a64(text.as_bytes())));
    }

    #[test]
    fn different_changesets_hash_differently(a in changeset(), b in changeset()) {
        let (a, b) = (parse(&a), parse(&b));
        let same_meaning = a.canonical() == b.canonical();
        prop_assert_eq!(changeset_hash(&a) == changeset_hash(&b), same_meaning);
    }
}

#[test]
fn three_and_three_point_zero_hash_the_same_and_other_values_do_not() {
    let create = |n: Value| parse(&json!([{ "op": "create", "collection": "notes", "row": { "id": "a", "n": n } }]));
    assert_eq!(create(json!(3)).hash(), create(json!(3.0)).hash());
    assert_eq!(create(json!(0)).hash(), create(json!(-0.0)).hash());
    assert_ne!(create(json!(3)).hash(), create(json!("3")).hash());
    assert_ne!(create(json!(3)).hash(), create(json!(3.5)).hash());
    assert_ne!(create(json!(3)).hash(), Changeset::no_change().hash());
}

/// Changesets covering every operation, filters, nested and unsorted
/// objects, canonical numbers, escapes and non-ASCII text.
fn fixture_changesets() -> Vec<Value> {
    vec![
        json!([]),
        json!([{ "op": "create", "collection": "notes", "row": { "title": "Hi", "id": "n1", "n": 3.0 } }]),
        json!([{ "row": { "n": 3, "id": "n1", "title": "Hi" }, "collection": "notes", "op": "create" }]),
        json!([{ "op": "create", "collection": "notes", "row": {
            "id": "n2", "z": -0.0, "a": 0.1, "big": 9007199254740991_i64, "small": 1.5e-7, "huge": 1e300,
            "nested": { "b": [1, { "y": null, "x": true }], "a": "é \u{1F600} \"quoted\" \\ \n\t\u{1}" }
        } }]),
        json!([
            { "op": "update_by_id", "collection": "notes", "id": "n1", "patch": { "title": "Hello", "n": null } },
            { "op": "destroy_by_id", "collection": "notes", "id": 7 },
        ]),
        json!([{ "op": "update_where", "collection": "tasks", "key": "code",
                 "filter": { "op": "and", "filters": [
                     { "op": "eq", "field": "done", "value": false },
                     { "op": "in", "field": "owner", "values": ["mary", "tony"] },
                     { "op": "not", "filter": { "op": "is_null", "field": "due" } },
                     { "op": "gte", "field": "rank", "value": 2.50 }
                 ] },
                 "patch": { "archived": true } }]),
        json!([{ "op": "destroy_where", "collection": "tasks", "filter": { "op": "or", "filters": [] } }]),
    ]
}

/// `tests/changeset-hashes.json`: each changeset of [`fixture_changesets`] with
/// its hash by this code, which the JS tests check the wasm export against
/// (`js/test/hash.test.js`), so that the hash is the same bits on every
/// target. Stale (this code changed): `UPDATE_HASHES=1 cargo test -p
/// flux-capacitor --test hash` writes it anew.
#[test]
fn the_cross_target_fixture_holds_the_hashes_of_this_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/changeset-hashes.json");
    let cases: Vec<Value> = fixture_changesets()
        .into_iter()
        .map(|raw| json!({ "changeset": raw, "hash": changeset_hash(&parse(&raw)) }))
        .collect();
    let hashes: std::collections::BTreeSet<&str> = cases.iter().map(|c| c["hash"].as_str().unwrap()).collect();
    assert_eq!(hashes.len(), cases.len() - 1, "only `3.0` and `3` share a hash");
    let text = serde_json::to_string_pretty(&cases).unwrap() + "\n";
    if std::env::var_os("UPDATE_HASHES").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "tests/changeset-hashes.json is stale: UPDATE_HASHES=1 cargo test -p flux-capacitor --test hash"
    );
}
