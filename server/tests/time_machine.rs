//! As of, history and restore on every backend.

use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, Key, MemoryDatabase, RESTORE_EVENT, StoredEvent, aggregate_reducers, boxed, restore};
use flux_capacitor_server::testing::{TestDb, for_each_backend, test_config, tracker_schema};
use flux_capacitor_server::{Context, FindOptions, Point, Store, StoreError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn store(db: &TestDb) -> Store {
    let pool = db.pool_with_tables(&tracker_schema()).await;
    Store::builder(aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]))
        .config(test_config())
        .open(pool)
        .await
        .expect("open store")
}

/// A deterministic stream of tracker events over few ids and users, so that
/// events collide (duplicates are refused and never reach the log).
fn random_events(count: usize, mut seed: u64) -> Vec<Event> {
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    (0..count)
        .map(|_| {
            let id = format!("i{}", next(12));
            let user = ["mary", "tony", "george"][next(3) as usize];
            match next(8) {
                0 | 1 => Event::new(
                    "addIssue",
                    json!({ "id": id, "title": format!("t{}", next(100)), "author": user, "priority": next(5) }),
                ),
                2 => Event::new("renameIssue", json!({ "id": id, "title": format!("r{}", next(100)) })),
                3 => Event::new("closeIssue", json!({ "id": id })),
                4 => Event::new("removeIssue", json!({ "id": id })),
                5 => Event::new("closeAllBy", json!({ "author": user })),
                6 => Event::new("addUser", json!({ "handle": user, "name": user.to_uppercase() })),
                _ => Event::new(
                    if next(2) == 0 { "purgeClosed" } else { "removeUser" },
                    json!({ "handle": user }),
                ),
            }
        })
        .collect()
}

/// Dispatches `events` one at a time; answers the log.
async fn dispatch_each(store: &Store, events: Vec<Event>) -> Vec<StoredEvent> {
    for event in events {
        let _ = store.dispatch(event).await; // refused events are part of the test
    }
    store
        .events(flux_capacitor_server::EventQuery::after(0, 100_000))
        .await
        .unwrap()
}

/// The state after each prefix of the log, replayed from scratch.
fn expected_states(store: &Store, log: &[StoredEvent]) -> Vec<Value> {
    let reducer = aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]);
    let mut db = MemoryDatabase::with_schema(store.schema());
    let mut states = vec![db.snapshot()];
    for event in log {
        db.dispatch(&reducer, event).expect("the log replays");
        states.push(db.snapshot());
    }
    states
}

async fn check_every_seq(store: &Store, states: &[Value]) {
    for (seq, expected) in states.iter().enumerate() {
        let as_of = store.as_of(seq as u64).await.unwrap();
        assert_eq!(as_of.seq, seq as u64);
        assert_eq!(&as_of.snapshot().await.unwrap(), expected, "as_of({seq})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_every_seq_equals_a_replay_of_the_prefix() {
    for_each_backend(|db| async move {
        let plain = store(&db).await;
        let log = dispatch_each(&plain, random_events(300, 0x5eed)).await;
        assert!(log.len() > 150, "most events commit ({})", log.len());
        let states = expected_states(&plain, &log);
        check_every_seq(&plain, &states).await;
        assert_eq!(
            plain.snapshot().await.unwrap(),
            states[log.len()],
            "the live tables are the replayed log"
        );

        // Reopened: the versions are the store's, kept across opens.
        let reopened = Store::builder(aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]))
            .config(test_config())
            .open(plain.pool().clone())
            .await
            .unwrap();
        let more = dispatch_each(&reopened, random_events(100, 0xbeef)).await;
        let states = expected_states(&reopened, &more);
        check_every_seq(&reopened, &states).await;
        let head = more.len() as u64;
        assert_eq!(reopened.as_of(head).await.unwrap().seq, head);
        for past in [head + 1, u64::MAX] {
            let err = reopened.as_of(past).await.unwrap_err();
            assert_eq!(err.kind(), "invalid_point", "{err}");
            assert!(
                err.to_string()
                    .contains(&format!("seq {past} is past the log's head ({head})")),
                "{err}"
            );
        }

        // By time: the last event at or before it.
        for probe in [0, 1, more.len() / 2, more.len() - 1] {
            let time = more[probe].timestamp.clone();
            let last = more
                .iter()
                .filter(|e| e.timestamp <= time)
                .map(|e| e.seq)
                .max()
                .unwrap();
            let as_of = reopened.as_of(Point::Time(time.clone())).await.unwrap();
            assert_eq!(as_of.seq, last, "as of {time}");
            assert_eq!(as_of.snapshot().await.unwrap(), states[last as usize]);
        }
        let before = reopened
            .as_of(Point::Time("2000-01-01T00:00:00Z".into()))
            .await
            .unwrap();
        assert_eq!((before.seq, before.snapshot().await.unwrap()), (0, json!({})));
        let bad = reopened.as_of(Point::Time("yesterday".into())).await.unwrap_err();
        assert!(matches!(bad, StoreError::InvalidPoint { .. }), "{bad}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_restore_bring_back_the_exact_last_state() {
    for_each_backend(|db| async move {
        let store = store(&db).await;
        let as_user = |user: &str, event: Event| event.with_meta(json!({ "user": user }));
        store
            .dispatch(as_user(
                "mary",
                Event::new(
                    "addIssue",
                    json!({ "id": "1", "title": "Leaks", "author": "mary", "priority": 3 }),
                ),
            ))
            .await
            .unwrap();
        store
            .dispatch(as_user(
                "tony",
                Event::new("addIssue", json!({ "id": "2", "title": "Other", "author": "tony" })),
            ))
            .await
            .unwrap();
        store
            .dispatch(as_user(
                "tony",
                Event::new("renameIssue", json!({ "id": "1", "title": "Leaks badly" })),
            ))
            .await
            .unwrap();
        store
            .dispatch(as_user("george", Event::new("closeAllBy", json!({ "author": "mary" }))))
            .await
            .unwrap();
        store
            .dispatch(as_user("mary", Event::new("purgeClosed", json!({}))))
            .await
            .unwrap();

        let history = store.history("issues", "1").await.unwrap();
        let summary: Vec<(u64, String, Value)> = history
            .iter()
            .map(|c| {
                (
                    c.event.seq,
                    c.event.meta.clone().unwrap()["user"].as_str().unwrap().to_owned(),
                    json!([c.before, c.after]),
                )
            })
            .collect();
        let v1 = json!({ "id": "1", "title": "Leaks", "author": "mary", "priority": 3, "closed": false });
        let v2 = json!({ "id": "1", "title": "Leaks badly", "author": "mary", "priority": 3, "closed": false });
        let v3 = json!({ "id": "1", "title": "Leaks badly", "author": "mary", "priority": 3, "closed": true });
        assert_eq!(
            summary,
            vec![
                (1, "mary".into(), json!([null, v1])),
                (3, "tony".into(), json!([v1, v2])),
                (4, "george".into(), json!([v2, v3])),
                (5, "mary".into(), json!([v3, null])),
            ]
        );
        assert!(store.find_by_id("issues", "1").await.unwrap().is_none());

        let restored = store.restore("issues", "1", &Context::user("mary")).await.unwrap();
        assert_eq!((restored.seq, restored.event_type.as_str()), (6, RESTORE_EVENT));
        assert_eq!(
            store.find_by_id("issues", "1").await.unwrap().map(Value::Object),
            Some(v3.clone())
        );
        let log = store.events(Default::default()).await.unwrap();
        assert_eq!(
            log.last().unwrap().payload["row"],
            v3,
            "the restore is an ordinary logged event"
        );
        assert_eq!(store.history("issues", "1").await.unwrap().len(), 5);

        let exists = store.restore("issues", "1", &Context::default()).await.unwrap_err();
        assert!(
            matches!(exists, StoreError::NotRestorable { ref reason, .. } if reason == "it exists"),
            "{exists}"
        );
        let never = store
            .restore("issues", Key::from("nope"), &Context::default())
            .await
            .unwrap_err();
        assert!(
            matches!(never, StoreError::NotRestorable { ref reason, .. } if reason == "it never existed"),
            "{never}"
        );
        assert_eq!(
            store.events(Default::default()).await.unwrap().len(),
            6,
            "refused restores write nothing"
        );

        // The rows as of before the purge, through the read API.
        let then = store.as_of(4).await.unwrap();
        let open = then
            .find_all(
                "issues",
                &FindOptions::filter(flux_capacitor::Filter::eq("closed", true)),
            )
            .await
            .unwrap();
        assert_eq!(Value::Object(open[0].clone()), v3);
    })
    .await;
}

/// Random `conformance/apply` events on `issues` over a few ids, each kept
/// only if it applies (checked on a `MemoryDatabase` in order): several
/// changes of one row in one event and in one batch, no-op patches,
/// updates of missing rows, and `*_where` changes among them.
fn random_applied_events(store: &Store, count: usize, mut seed: u64) -> Vec<Event> {
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let reducer = conformance::reducer();
    let mut db = MemoryDatabase::with_schema(store.schema());
    let mut events = Vec::new();
    while events.len() < count {
        let ops: Vec<Value> = (0..1 + next(3))
            .map(|_| {
                let id = format!("i{}", next(6));
                let author = ["mary", "tony"][next(2) as usize];
                match next(10) {
                    0..=2 => {
                        let mut row =
                            json!({ "id": id, "title": format!("t{}", next(9)), "author": author, "closed": false });
                        if next(2) == 0 {
                            row["priority"] = json!(next(3));
                        }
                        json!({ "op": "create", "collection": "issues", "row": row })
                    }
                    3..=5 => {
                        let patch = match next(4) {
                            0 => json!({ "title": format!("r{}", next(9)) }),
                            1 => json!({ "closed": true, "priority": null }),
                            2 => json!({}),
                            _ => json!({ "priority": next(3) }),
                        };
                        json!({ "op": "update_by_id", "collection": "issues", "id": id, "patch": patch })
                    }
                    6 | 7 => json!({ "op": "destroy_by_id", "collection": "issues", "id": id }),
                    8 => json!({
                        "op": "update_where", "collection": "issues",
                        "filter": { "op": "eq", "field": "author", "value": author },
                        "patch": { "title": "swept" }
                    }),
                    _ => json!({
                        "op": "destroy_where", "collection": "issues",
                        "filter": { "op": "eq", "field": "closed", "value": true }
                    }),
                }
            })
            .collect();
        let event = Event::new("conformance/apply", json!({ "ops": ops }));
        let probe = StoredEvent::at(events.len() as u64 + 1, "2026-01-01T00:00:00Z", event.clone());
        if db.dispatch(&reducer, &probe).is_ok() {
            events.push(event);
        }
    }
    events
}

/// Batches write several changes of a row with multi-row statements, each
/// row's versions closed within the batch as they are opened: as of every
/// `seq` and every row's history still equal a replay of the log, and so
/// after a rebuild (whose page of the whole log is one such plan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_changes_of_a_row_keep_every_version() {
    for_each_backend(|db| async move {
        let store = store(&db).await;
        let events = random_applied_events(&store, 400, 0xba7c4);
        for (round, batch) in events.chunks(57).enumerate() {
            let stored = store.dispatch_all(batch.to_vec()).await.unwrap();
            assert_eq!(stored.len(), batch.len(), "batch {round}");
        }
        let log = store
            .events(flux_capacitor_server::EventQuery::after(0, 100_000))
            .await
            .unwrap();
        assert_eq!(log.len(), events.len());
        let states = expected_states(&store, &log);
        check_every_seq(&store, &states).await;
        check_histories(&store, &states).await;

        // A rebuild writes its one page of the whole log through the same plans.
        let mut next = tracker_schema();
        next.collections = BTreeMap::from([("issues_next".to_owned(), next.collections["issues"].clone())]);
        db.create_tables(store.pool(), &next).await;
        let reducer = aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]);
        store
            .rebuild(reducer, &[("issues", "issues_next")], |_| {})
            .await
            .unwrap();
        for (seq, expected) in states.iter().enumerate() {
            let then = store.as_of(seq as u64).await.unwrap().snapshot().await.unwrap();
            assert_eq!(
                then.get("issues"),
                expected.get("issues"),
                "as_of({seq}) after the rebuild"
            );
        }
        check_histories(&store, &states).await;
    })
    .await;
}

/// Each row's history (of the ids of [`random_applied_events`]) is exactly
/// the events that changed it.
async fn check_histories(store: &Store, states: &[Value]) {
    let row = |seq: usize, id: &str| {
        let rows = states[seq].get("issues").and_then(Value::as_array)?;
        rows.iter().find(|r| r["id"] == id).cloned()
    };
    for id in (0..6).map(|i| format!("i{i}")) {
        let history = store.history("issues", id.as_str()).await.unwrap();
        let seqs: Vec<u64> = history.iter().map(|c| c.event.seq).collect();
        for change in &history {
            let seq = change.event.seq as usize;
            assert_eq!(
                change.before.clone().map(Value::Object),
                row(seq - 1, &id),
                "{id} before {seq}"
            );
            assert_eq!(
                change.after.clone().map(Value::Object),
                row(seq, &id),
                "{id} after {seq}"
            );
        }
        for seq in 1..states.len() {
            if row(seq - 1, &id) != row(seq, &id) {
                assert!(seqs.contains(&(seq as u64)), "{id} changed at {seq}: {seqs:?}");
            }
        }
    }
}
