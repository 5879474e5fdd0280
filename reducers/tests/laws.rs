//! Property tests for the laws the core keeps.

use flux_capacitor::{Changeset, Filter, Key, MemoryDatabase, Operation, Row};
use proptest::prelude::*;
use serde_json::{Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..4).prop_map(Value::from),
        prop_oneof![Just(0.5), Just(-1.5), Just(2.0)].prop_map(Value::from),
        prop_oneof![Just("a"), Just("B"), Just("b"), Just("é")].prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => Just(Value::Null),
        1 => Just(json!({ "nested": [1, 2] })),
    ]
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(String::from)
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![
        (0i64..6).prop_map(Key::Int),
        prop_oneof![Just("x"), Just("y")].prop_map(Key::from)
    ]
}

fn row_fields() -> impl Strategy<Value = Row> {
    proptest::collection::btree_map(field(), value(), 0..3).prop_map(|m| m.into_iter().collect())
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (field(), scalar()).prop_map(|(f, v)| Filter::eq(f, v)),
        (field(), scalar()).prop_map(|(f, v)| Filter::ne(f, v)),
        (field(), scalar()).prop_map(|(f, v)| Filter::lt(f, v)),
        (field(), scalar()).prop_map(|(f, v)| Filter::lte(f, v)),
        (field(), scalar()).prop_map(|(f, v)| Filter::gt(f, v)),
        (field(), scalar()).prop_map(|(f, v)| Filter::gte(f, v)),
        (field(), proptest::collection::vec(scalar(), 0..3)).prop_map(|(f, vs)| Filter::is_in(f, vs)),
        field().prop_map(Filter::is_null),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Filter::and),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Filter::or),
            inner.prop_map(Filter::not),
        ]
    })
}

fn operation() -> impl Strategy<Value = Operation> {
    let collection = || prop_oneof![Just("notes"), Just("other")].prop_map(String::from);
    prop_oneof![
        3 => (collection(), key(), row_fields()).prop_map(|(collection, id, mut row)| {
            row.insert("id".into(), id.to_value());
            Operation::Create { collection, key: "id".into(), row }
        }),
        2 => (collection(), key(), row_fields()).prop_map(|(collection, id, patch)| Operation::UpdateById {
            collection, key: "id".into(), id, patch
        }),
        1 => (collection(), key()).prop_map(|(collection, id)| Operation::DestroyById { collection, key: "id".into(), id }),
        1 => (collection(), filter(), row_fields()).prop_map(|(collection, filter, patch)| Operation::UpdateWhere {
            collection, key: "id".into(), filter, patch
        }),
        1 => (collection(), filter()).prop_map(|(collection, filter)| Operation::DestroyWhere {
            collection, key: "id".into(), filter
        }),
    ]
}

fn changeset() -> impl Strategy<Value = Changeset> {
    proptest::collection::vec(operation(), 0..6).prop_map(Changeset::from)
}

fn seeded() -> impl Strategy<Value = MemoryDatabase> {
    proptest::collection::vec(changeset(), 0..4).prop_map(|changesets| {
        let mut db = MemoryDatabase::new();
        for c in &changesets {
            let _ = db.apply(c);
        }
        db
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Applying `a` then `b` is applying `a.then(b)`: same state, same success.
    #[test]
    fn concatenation_is_sequential_application(db in seeded(), a in changeset(), b in changeset()) {
        let mut sequential = db.clone();
        let seq_ok = sequential.apply(&a).is_ok() && sequential.apply(&b).is_ok();
        let mut combined = db.clone();
        let combined_ok = combined.apply(&a.clone().then(b)).is_ok();
        prop_assert_eq!(seq_ok, combined_ok);
        if combined_ok {
            prop_assert_eq!(sequential, combined);
        } else {
            prop_assert_eq!(combined, db, "a failed changeset leaves no trace");
        }
    }

    /// Same state and changeset, same result.
    #[test]
    fn apply_is_deterministic(db in seeded(), c in changeset()) {
        let (mut x, mut y) = (db.clone(), db);
        prop_assert_eq!(x.apply(&c), y.apply(&c));
        prop_assert_eq!(x, y);
    }

    /// A changeset either applies completely or not at all.
    #[test]
    fn apply_is_all_or_nothing(db in seeded(), c in changeset()) {
        let mut after = db.clone();
        if after.apply(&c).is_err() {
            prop_assert_eq!(after, db);
        }
    }

    /// Rows never hold nulls, and are listed in key order.
    #[test]
    fn state_has_no_nulls_and_is_key_ordered(db in seeded()) {
        for name in db.collections().map(String::from).collect::<Vec<_>>() {
            let keys: Vec<Key> = db.rows(&name).map(|r| Key::from_value(&r["id"]).unwrap()).collect();
            prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(db.rows(&name).all(|r| r.values().all(|v| !v.is_null())));
        }
    }

    #[test]
    fn double_negation_is_identity(f in filter(), row in row_fields()) {
        prop_assert_eq!(Filter::not(Filter::not(f.clone())).matches(&row), f.matches(&row));
    }

    #[test]
    fn and_or_agree_with_their_definitions(fs in proptest::collection::vec(filter(), 0..4), row in row_fields()) {
        prop_assert_eq!(Filter::and(fs.clone()).matches(&row), fs.iter().all(|f| f.matches(&row)));
        prop_assert_eq!(Filter::or(fs.clone()).matches(&row), fs.iter().any(|f| f.matches(&row)));
        // De Morgan, which holds because the logic is two-valued.
        prop_assert_eq!(
            Filter::not(Filter::and(fs.clone())).matches(&row),
            Filter::or(fs.into_iter().map(Filter::not)).matches(&row)
        );
    }

    #[test]
    fn ne_is_not_eq(f in field(), v in scalar(), row in row_fields()) {
        prop_assert_eq!(Filter::ne(f.clone(), v.clone()).matches(&row), !Filter::eq(f, v).matches(&row));
    }

    #[test]
    fn changesets_round_trip_through_json(c in changeset()) {
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<Changeset>(&json).unwrap(), c);
    }
}
