//! Each operation's meaning in `MemoryDatabase`, edge cases included.

use flux_capacitor::{Changeset, Collection, Error, FieldType, Filter, Key, MemoryDatabase, Operation, Schema};
use serde_json::{Value, json};

fn ops(value: Value) -> Changeset {
    serde_json::from_value(value).expect("valid changeset")
}

fn db_with(rows: Value) -> MemoryDatabase {
    let mut db = MemoryDatabase::new();
    let creates: Vec<Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| json!({ "op": "create", "collection": "notes", "row": row }))
        .collect();
    db.apply(&ops(Value::Array(creates))).unwrap();
    db
}

fn notes(db: &MemoryDatabase) -> Value {
    db.snapshot().get("notes").cloned().unwrap_or(json!([]))
}

#[test]
fn create_inserts_and_lists_rows_in_key_order() {
    let db = db_with(json!([{ "id": "b" }, { "id": "a", "n": 1 }]));
    assert_eq!(notes(&db), json!([{ "id": "a", "n": 1 }, { "id": "b" }]));
}

#[test]
fn integer_keys_come_before_string_keys() {
    let db = db_with(json!([{ "id": "x" }, { "id": 10 }, { "id": -2 }]));
    assert_eq!(notes(&db), json!([{ "id": -2 }, { "id": 10 }, { "id": "x" }]));
}

#[test]
fn create_with_existing_key_is_duplicate_key_naming_collection_and_id() {
    let mut db = db_with(json!([{ "id": "n1", "title": "first" }]));
    let err = db.apply(&ops(
        json!([{ "op": "create", "collection": "notes", "row": { "id": "n1" } }]),
    ));
    let err = err.unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateKey {
            collection: "notes".into(),
            id: Key::from("n1")
        }
    );
    assert_eq!(
        err.to_string(),
        r#"collection `notes`: a row with id "n1" already exists"#
    );
    assert_eq!(notes(&db), json!([{ "id": "n1", "title": "first" }]));
}

#[test]
fn create_without_or_with_invalid_key_fails() {
    let mut db = MemoryDatabase::new();
    let missing = db.apply(&ops(
        json!([{ "op": "create", "collection": "notes", "row": { "title": "t" } }]),
    ));
    assert_eq!(missing.unwrap_err().kind(), "missing_key");
    for bad in [json!(1.5), json!(true), json!([1]), json!({ "a": 1 })] {
        let err = db
            .apply(&ops(
                json!([{ "op": "create", "collection": "notes", "row": { "id": bad } }]),
            ))
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_key", "{bad}");
        assert!(
            err.to_string().contains("`notes`") && err.to_string().contains("`id`"),
            "{err}"
        );
    }
    assert_eq!(db.snapshot(), json!({}));
}

#[test]
fn create_drops_null_fields() {
    let db = db_with(json!([{ "id": 1, "title": null, "n": 0 }]));
    assert_eq!(notes(&db), json!([{ "id": 1, "n": 0 }]));
}

#[test]
fn update_by_id_merges_shallowly_and_null_clears() {
    let mut db = db_with(json!([{ "id": 1, "a": 1, "b": { "x": 1, "y": 2 }, "c": "keep" }]));
    db.apply(&ops(json!([{ "op": "update_by_id", "collection": "notes", "id": 1,
        "patch": { "a": null, "b": { "x": 9 }, "d": [1] } }])))
        .unwrap();
    assert_eq!(notes(&db), json!([{ "id": 1, "b": { "x": 9 }, "c": "keep", "d": [1] }]));
}

#[test]
fn update_and_destroy_of_a_missing_id_change_nothing() {
    let mut db = db_with(json!([{ "id": 1 }]));
    let before = db.clone();
    db.apply(&ops(json!([
        { "op": "update_by_id", "collection": "notes", "id": 2, "patch": { "a": 1 } },
        { "op": "destroy_by_id", "collection": "notes", "id": 2 },
        { "op": "destroy_by_id", "collection": "elsewhere", "id": 2 }
    ])))
    .unwrap();
    assert_eq!(db.snapshot(), before.snapshot());
}

#[test]
fn patching_the_key_is_key_change_unless_unchanged() {
    let mut db = db_with(json!([{ "id": 1 }]));
    let same = ops(json!([{ "op": "update_by_id", "collection": "notes", "id": 1, "patch": { "id": 1, "t": "x" } }]));
    db.apply(&same).unwrap();
    for patch in [json!({ "id": 2 }), json!({ "id": null }), json!({ "id": "1" })] {
        let change = ops(json!([{ "op": "update_by_id", "collection": "notes", "id": 1, "patch": patch }]));
        assert_eq!(db.apply(&change).unwrap_err().kind(), "key_change");
    }
    let where_change = ops(json!([{ "op": "update_where", "collection": "notes",
        "filter": { "op": "eq", "field": "id", "value": 1 }, "patch": { "id": 1 } }]));
    assert_eq!(db.apply(&where_change).unwrap_err().kind(), "key_change");
    assert_eq!(notes(&db), json!([{ "id": 1, "t": "x" }]));
}

#[test]
fn custom_key_field() {
    const USERS: Collection<Value> = Collection::keyed("users", "handle");
    let mut db = MemoryDatabase::new();
    db.apply(&USERS.create(&json!({ "handle": "mary", "name": "Mary" })).unwrap())
        .unwrap();
    db.apply(&USERS.update_by_id("mary", json!({ "name": "M." })).unwrap())
        .unwrap();
    assert_eq!(
        db.get("users", &Key::from("mary")),
        Some(json!({ "handle": "mary", "name": "M." }).as_object().unwrap())
    );
    db.apply(&USERS.destroy_by_id("mary")).unwrap();
    assert_eq!(db.rows("users").count(), 0);
}

#[test]
fn update_where_and_destroy_where() {
    let mut db = db_with(json!([{ "id": 1, "n": 1 }, { "id": 2, "n": 2 }, { "id": 3 }]));
    let notes_c: Collection<Value> = Collection::new("notes");
    db.apply(&notes_c.update_where(Filter::lt("n", 2), json!({ "n": 2 })).unwrap())
        .unwrap();
    assert_eq!(
        notes(&db),
        json!([{ "id": 1, "n": 2 }, { "id": 2, "n": 2 }, { "id": 3 }])
    );
    db.apply(&notes_c.destroy_where(Filter::eq("n", 2))).unwrap();
    assert_eq!(notes(&db), json!([{ "id": 3 }]));
}

#[test]
fn a_failing_changeset_is_undone_completely() {
    let mut db = db_with(json!([{ "id": 1, "n": 1 }, { "id": 2, "n": 2 }]));
    let before = db.clone();
    let err = db.apply(&ops(json!([
        { "op": "update_where", "collection": "notes", "filter": { "op": "gt", "field": "n", "value": 0 }, "patch": { "n": 7 } },
        { "op": "destroy_by_id", "collection": "notes", "id": 1 },
        { "op": "create", "collection": "other", "row": { "id": 1 } },
        { "op": "create", "collection": "notes", "row": { "id": 3 } },
        { "op": "create", "collection": "notes", "row": { "id": 2 } }
    ])));
    assert_eq!(err.unwrap_err().kind(), "duplicate_key");
    assert_eq!(db, before);
}

fn schema() -> Schema {
    serde_json::from_value(json!({
        "notes": { "fields": { "id": "text", "title": "text", "n": "integer", "x": "real", "ok": "boolean", "j": "json" } }
    }))
    .unwrap()
}

#[test]
fn schema_checks_name_what_is_wrong() {
    let mut db = MemoryDatabase::with_schema(schema());
    let cases = [
        (
            json!({ "op": "create", "collection": "nope", "row": { "id": "a" } }),
            "unknown collection `nope`",
        ),
        (
            json!({ "op": "create", "collection": "notes", "row": { "id": "a", "colour": 1 } }),
            "collection `notes`: unknown field `colour`",
        ),
        (
            json!({ "op": "create", "collection": "notes", "row": { "id": "a", "n": "1" } }),
            "collection `notes`: field `n` expects integer, got \"1\"",
        ),
        (
            json!({ "op": "create", "collection": "notes", "row": { "id": "a", "ok": 1 } }),
            "collection `notes`: field `ok` expects boolean, got 1",
        ),
        (
            json!({ "op": "create", "collection": "notes", "key": "title", "row": { "title": "a" } }),
            "collection `notes`: the key field is `id`, the changeset uses `title`",
        ),
        (
            json!({ "op": "destroy_where", "collection": "notes", "filter": { "op": "eq", "field": "j", "value": 1 } }),
            "invalid filter on field `j`: cannot filter on a json field",
        ),
        (
            json!({ "op": "destroy_where", "collection": "notes", "filter": { "op": "eq", "field": "title", "value": null } }),
            "invalid filter on field `title`: cannot compare with null; use is_null",
        ),
        (
            json!({ "op": "destroy_by_id", "collection": "notes", "id": 5 }),
            "collection `notes`: field `id` expects text, got 5",
        ),
    ];
    for (op, message) in cases {
        let err = db.apply(&ops(json!([op]))).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    db.apply(&ops(json!([{ "op": "create", "collection": "notes", "row": { "id": "a", "n": 1, "x": 2, "ok": true, "j": [1, { "a": null }], "title": null } }]))).unwrap();
    assert_eq!(
        notes(&db),
        json!([{ "id": "a", "n": 1, "x": 2, "ok": true, "j": [1, { "a": null }] }])
    );
    assert_eq!(
        db.schema()
            .unwrap()
            .collection("notes")
            .unwrap()
            .field("notes", "x")
            .unwrap(),
        FieldType::Real
    );
}

#[test]
fn changesets_serialize_as_documented() {
    let c: Collection<Value> = Collection::keyed("users", "handle");
    let cs = c
        .create(&json!({ "handle": "h" }))
        .unwrap()
        .then(c.destroy_by_id("h"))
        .then(Collection::<Value>::new("notes").destroy_where(Filter::not(Filter::is_null("t"))));
    let wire = serde_json::to_value(&cs).unwrap();
    assert_eq!(
        wire,
        json!([
            { "op": "create", "collection": "users", "key": "handle", "row": { "handle": "h" } },
            { "op": "destroy_by_id", "collection": "users", "key": "handle", "id": "h" },
            { "op": "destroy_where", "collection": "notes", "filter": { "op": "not", "filter": { "op": "is_null", "field": "t" } } }
        ])
    );
    assert_eq!(serde_json::from_value::<Changeset>(wire).unwrap(), cs);
    assert_eq!(Changeset::no_change().to_string(), "no_change");
    assert_eq!(
        cs.operations().iter().map(Operation::name).collect::<Vec<_>>(),
        ["create", "destroy_by_id", "destroy_where"]
    );
}

#[test]
fn a_row_that_is_not_an_object_is_a_serialize_error() {
    let c: Collection<i32> = Collection::new("numbers");
    let err = c.create(&5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "collection `numbers`: cannot serialize row: a row must be a JSON object, got 5"
    );
}
