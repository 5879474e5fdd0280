//! Events: the FSA wire form, stored events, typed decoding and reducers.

use flux_capacitor::{
    Changeset, Collection, Error, Event, MemoryDatabase, Reducer, StoredEvent, aggregate_reducers, boxed,
    combine_reducers, event_log,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[test]
fn fsa_wire_form_round_trips() {
    let wire = json!({ "type": "addNote", "payload": { "id": "n1" }, "meta": { "user": "Mary" } });
    let event: Event = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(event.event_type, "addNote");
    assert_eq!(serde_json::to_value(&event).unwrap(), wire);

    let bare: Event = serde_json::from_value(json!({ "type": "ping" })).unwrap();
    assert_eq!(
        serde_json::to_value(&bare).unwrap(),
        json!({ "type": "ping", "payload": null })
    );

    let failed: Event =
        serde_json::from_value(json!({ "type": "x", "payload": { "message": "m" }, "error": true })).unwrap();
    assert!(failed.error);
    assert_eq!(serde_json::to_value(&failed).unwrap()["error"], json!(true));
}

#[test]
fn stored_event_adds_id_seq_timestamp_beside_the_fields() {
    let stored = StoredEvent::at(7, "2026-11-22T19:20:51.000Z", Event::new("ping", json!({})));
    let wire = serde_json::to_value(&stored).unwrap();
    assert_eq!(
        wire,
        json!({ "id": "00000000-0000-0000-0000-000000000007", "seq": 7, "timestamp": "2026-11-22T19:20:51.000Z",
                "type": "ping", "payload": {} })
    );
    assert_eq!(serde_json::from_value::<StoredEvent>(wire).unwrap(), stored);
    assert_eq!(stored.event_type, "ping", "derefs to the event");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "camelCase")]
enum NoteEvent {
    AddNote { id: String, title: String },
    RemoveNote { id: String },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "camelCase")]
enum Shapes {
    Ping,
    Count(u64),
    Pair(String, f64),
}

#[test]
fn typed_events_decode_and_unknown_types_are_none() {
    let add = Event::new("addNote", json!({ "id": "n1", "title": "Hi" }));
    assert_eq!(
        add.decode::<NoteEvent>().unwrap(),
        Some(NoteEvent::AddNote {
            id: "n1".into(),
            title: "Hi".into()
        })
    );
    assert_eq!(
        Event::new("somethingElse", json!({})).decode::<NoteEvent>().unwrap(),
        None
    );
    let bad = Event::new("addNote", json!({ "id": "n1" }))
        .decode::<NoteEvent>()
        .unwrap_err();
    assert_eq!(bad.kind(), "invalid_payload");
    assert!(
        bad.to_string()
            .starts_with("event `addNote`: invalid payload: missing field `title`"),
        "{bad}"
    );
    let not_an_object = Event::new("removeNote", json!(["n1"]))
        .decode::<NoteEvent>()
        .unwrap_err();
    assert_eq!(not_an_object.kind(), "invalid_payload", "{not_an_object}");
    // Other variant shapes decode as serde_json::from_value would decode them.
    let shapes = [
        (Event::new("ping", json!(null)), Some(Shapes::Ping)),
        (
            Event::new("count", json!(18446744073709551615u64)),
            Some(Shapes::Count(u64::MAX)),
        ),
        (
            Event::new("pair", json!(["a", -1.5])),
            Some(Shapes::Pair("a".into(), -1.5)),
        ),
        (Event::new("Pair", json!(["a", 1])), None),
    ];
    for (event, expected) in shapes {
        assert_eq!(event.decode::<Shapes>().unwrap(), expected, "{event:?}");
    }
    let typed = Event::from_typed(&NoteEvent::RemoveNote { id: "n1".into() }).unwrap();
    assert_eq!(typed, Event::new("removeNote", json!({ "id": "n1" })));
}

#[derive(Serialize)]
struct Note {
    id: String,
    title: String,
    by: Option<String>,
}

fn notes(notes: &Collection<Note>, event: &StoredEvent) -> Result<Changeset, Error> {
    Ok(match event.decode::<NoteEvent>()? {
        Some(NoteEvent::AddNote { id, title }) => {
            let by = event.meta.as_ref().and_then(|m| m["user"].as_str()).map(String::from);
            notes.create(&Note { id, title, by })?
        }
        Some(NoteEvent::RemoveNote { id }) => notes.destroy_by_id(id),
        None => notes.no_change(),
    })
}

fn counter(counters: &Collection<serde_json::Value>, event: &StoredEvent) -> Changeset {
    counters
        .create(&json!({ "id": event.seq, "type": event.event_type }))
        .unwrap()
}

#[test]
fn combine_and_aggregate_run_in_order_and_concatenate() {
    let combined = combine_reducers()
        .collection("notes", notes)
        .collection("counters", counter);
    assert_eq!(combined.names().collect::<Vec<_>>(), ["notes", "counters"]);
    let root = aggregate_reducers([boxed(combined), boxed(event_log("log"))]);
    let event = StoredEvent::at(
        1,
        "t1",
        Event::new("addNote", json!({ "id": "n1", "title": "Hi" })).with_meta(json!({ "user": "Mary" })),
    );
    let changeset = root.reduce(&event).unwrap();
    let touched: Vec<&str> = changeset.operations().iter().map(|op| op.collection()).collect();
    assert_eq!(touched, ["notes", "counters", "log"]);

    let mut db = MemoryDatabase::new();
    db.apply(&changeset).unwrap();
    assert_eq!(
        db.snapshot()["notes"],
        json!([{ "id": "n1", "title": "Hi", "by": "Mary" }])
    );
    assert_eq!(
        db.snapshot()["log"],
        json!([{ "seq": 1, "id": "00000000-0000-0000-0000-000000000001", "timestamp": "t1", "type": "addNote",
                 "payload": { "id": "n1", "title": "Hi" }, "meta": { "user": "Mary" } }])
    );
}

#[test]
fn a_reducer_error_stops_the_aggregate_and_writes_nothing() {
    let reject = |event: &StoredEvent| -> Result<Changeset, Error> {
        Err(Error::Rejected {
            event_type: event.event_type.clone(),
            message: "closed for today".into(),
        })
    };
    let root = aggregate_reducers([boxed(event_log("log")), boxed(reject)]);
    let mut db = MemoryDatabase::new();
    let err = db
        .dispatch(&root, &StoredEvent::at(1, "t", Event::new("x", json!({}))))
        .unwrap_err();
    assert_eq!(err.to_string(), "event `x` rejected by reducer: closed for today");
    assert_eq!(db.snapshot(), json!({}));
}

#[test]
fn reducers_are_deterministic() {
    let root = combine_reducers().collection("notes", notes);
    let event = StoredEvent::at(3, "t", Event::new("addNote", json!({ "id": "a", "title": "b" })));
    assert_eq!(root.reduce(&event).unwrap(), root.reduce(&event).unwrap());
}

#[test]
fn a_client_chosen_id_travels_in_the_wire_form_and_a_stored_event_has_one_id() {
    let id = uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001);
    let event = Event::new("addNote", json!({ "id": "n1" })).with_id(id);
    let wire = serde_json::to_value(&event).unwrap();
    assert_eq!(
        wire,
        json!({ "type": "addNote", "payload": { "id": "n1" }, "id": id.to_string() })
    );
    assert_eq!(serde_json::from_value::<Event>(wire).unwrap(), event);
    assert_eq!(
        serde_json::to_value(Event::new("e", json!(null))).unwrap(),
        json!({ "type": "e", "payload": null })
    );
    let stored: StoredEvent = serde_json::from_value(json!({
        "id": id.to_string(), "seq": 4, "timestamp": "2026-11-30T10:00:00.000Z", "type": "addNote", "payload": {}
    }))
    .unwrap();
    assert_eq!((stored.id, stored.event.id), (id, None));
    let text = serde_json::to_string(&stored).unwrap();
    assert_eq!(text.matches("\"id\"").count(), 1, "{text}");
    assert!(
        serde_json::from_value::<Event>(json!({ "type": "e", "id": "n1" })).is_err(),
        "an id is a UUID"
    );
}

mod decode_differential {
    use flux_capacitor::Event;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "type", content = "payload", rename_all = "camelCase")]
    enum Typed {
        AddNote {
            id: String,
            title: Option<String>,
            #[serde(default)]
            tags: Vec<String>,
        },
        Ping,
        Count(u64),
        Pair(String, f64),
        Strict(Strict),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        id: i64,
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z\u{e9}\"]{0,4}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(prop::sample::select(vec!["id", "title", "tags", "x"]), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    /// What `decode` answered before it read the payload in place: the
    /// event as a JSON object, deserialized from a copy.
    fn oracle(event: &Event) -> Result<Option<Typed>, String> {
        match serde_json::from_value::<Typed>(json!({ "type": event.event_type, "payload": event.payload })) {
            Ok(typed) => Ok(Some(typed)),
            Err(err)
                if err
                    .to_string()
                    .starts_with(&format!("unknown variant `{}`", event.event_type)) =>
            {
                Ok(None)
            }
            Err(err) => Err(err.to_string()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn decode_answers_what_deserializing_a_copy_answers(
            event_type in prop::sample::select(vec!["addNote", "ping", "count", "pair", "strict", "other", "AddNote"]),
            payload in value(),
        ) {
            let event = Event::new(event_type, payload);
            let decoded = event.decode::<Typed>().map_err(|err| match err {
                flux_capacitor::Error::InvalidPayload { message, .. } => message,
                other => panic!("{other}"),
            });
            // The same value, or an error both ways (serde words a few
            // errors differently without its buffer: "expected fewer elements
            // in array" for "expected 1 element in sequence").
            match (decoded, oracle(&event)) {
                (Err(_), Err(_)) => {}
                (decoded, expected) => prop_assert_eq!(decoded, expected, "{:?}", event),
            }
        }
    }
}
