//! The store on every backend: atomicity, bad input, middleware, commands, replay.

use std::sync::{Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use flux_capacitor::testing::conformance;
use flux_capacitor::{Changeset, Event, MemoryDatabase, Reducer, Schema, StoredEvent, aggregate_reducers, boxed};
use flux_capacitor_server::testing::{
    Rng, TestDb, conformance_store, count, execute, for_each_backend, test_config, tracker_schema,
};
use flux_capacitor_server::{
    Config, Context, DbPool, Dialect, EventQuery, FindOptions, Middleware, Next, Store, StoreError, command_fn,
};
use serde_json::{Value, json};

fn notes_schema() -> Schema {
    serde_json::from_value(json!({
        "notes": { "fields": { "id": "text", "title": "text", "rank": "integer", "done": "boolean", "tags": "json" } }
    }))
    .unwrap()
}

fn apply(ops: Value) -> Event {
    Event::new("conformance/apply", json!({ "ops": ops }))
}

fn create(id: &str) -> Event {
    apply(json!([{ "op": "create", "collection": "notes", "row": { "id": id, "title": id } }]))
}

/// A text primary key column in raw DDL (MySQL/MariaDB cannot key on `TEXT`);
/// it takes the database's collation (`utf8mb4_bin` on MySQL, which pads spaces).
fn text_key_type(dialect: Dialect) -> &'static str {
    if dialect == Dialect::MySql {
        "VARCHAR(191)"
    } else {
        "TEXT"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_or_reducer_rolls_back_the_whole_batch() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&notes_schema()).await;
        let key_type = text_key_type(db.dialect);
        execute(
            &pool,
            &format!("CREATE TABLE strict_notes (id {key_type} PRIMARY KEY, title TEXT NOT NULL)"),
        )
        .await;
        let store = conformance_store(&db).await;
        store.dispatch(create("n0")).await.unwrap();

        // The second event violates the primary key.
        let err = store
            .dispatch_all(vec![create("n1"), create("n0"), create("n2")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "duplicate_key", "{err}");
        assert_eq!(err.event().map(|e| e.index), Some(1));
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (1, 1));

        // A constraint only the database knows (NOT NULL).
        let missing_title = apply(json!([{ "op": "create", "collection": "strict_notes", "row": { "id": "s" } }]));
        let err = store
            .dispatch_all(vec![create("n1"), missing_title, create("n2")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "database", "{err}");
        assert!(err.to_string().contains("event #1 `conformance/apply`"), "{err}");
        assert!(err.to_string().contains("strict_notes"), "{err}");
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (1, 1));

        // The reducer refuses the second event.
        let reject = Event::new("conformance/reject", json!({ "reason": "no" }));
        let err = store
            .dispatch_all(vec![create("n1"), reject, create("n2")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "rejected");
        assert!(matches!(err, StoreError::Reducer { .. }));
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (1, 1));

        // The store keeps working, and seq has no gap.
        let stored = store.dispatch_all(vec![create("n1"), create("n2")]).await.unwrap();
        assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (3, 3));
    })
    .await;
}

/// Blocks the writer inside its transaction on events of type `test/pause`
/// until the test lets it go.
struct Pause {
    paused: Mutex<mpsc::Sender<()>>,
    resume: Mutex<mpsc::Receiver<()>>,
}

impl Reducer for Pause {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, flux_capacitor::Error> {
        if event.event_type == "test/pause" {
            self.paused.lock().unwrap().send(()).unwrap();
            let _ = self.resume.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
        Ok(Changeset::no_change())
    }
}

/// Kills every other session on the test database (the writer's among them).
async fn kill_sessions(db: &TestDb, admin: &DbPool) {
    let name = db.name();
    match admin {
        DbPool::Postgres(p) => {
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .fetch_all(p)
            .await
            .unwrap();
            assert!(!killed.is_empty());
        }
        DbPool::MySql(p) => {
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
            )
            .bind(name)
            .fetch_all(p)
            .await
            .unwrap();
            assert!(!ids.is_empty());
            for id in ids {
                let _ = sqlx::query(&format!("KILL {id}")).execute(p).await;
            }
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_connection_mid_transaction_writes_nothing() {
    // SQLite has no server connection to kill: its in-process failures are
    // covered by the constraint and reducer cases above.
    for_each_backend(|db| async move {
        if db.dialect == Dialect::Sqlite {
            return;
        }
        let pool = db.pool_with_tables(&notes_schema()).await;
        let (paused_tx, paused_rx) = mpsc::channel();
        let (resume_tx, resume_rx) = mpsc::channel();
        let pause = Pause {
            paused: Mutex::new(paused_tx),
            resume: Mutex::new(resume_rx),
        };
        let reducer = aggregate_reducers([boxed(conformance::reducer()), boxed(pause)]);
        let store = Store::builder(reducer)
            .config(test_config())
            .open(db.pool().await)
            .await
            .unwrap();
        store.dispatch(create("n0")).await.unwrap();

        let batch = vec![create("n1"), Event::new("test/pause", Value::Null), create("n2")];
        let in_flight = tokio::spawn({
            let store = store.clone();
            async move { store.dispatch_all(batch).await }
        });
        tokio::task::spawn_blocking(move || paused_rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
        let admin = DbPool::connect(&db.url, 1).await.unwrap();
        kill_sessions(&db, &admin).await;
        resume_tx.send(()).unwrap();
        let err = in_flight.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), "database", "{err}");
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (1, 1));

        let next = store.dispatch(create("n3")).await.unwrap();
        assert_eq!(next.seq, 2);
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (2, 2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_and_writes_nothing() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&notes_schema()).await;
        let hostile_table = "we\"ird;`name'";
        let hostile_column = "co\"l; `DROP` 'x'";
        let d = db.dialect;
        execute(
            &pool,
            &format!(
                "CREATE TABLE {} ({} {} NOT NULL PRIMARY KEY, {} TEXT)",
                d.quote(hostile_table),
                d.quote("id"),
                text_key_type(d),
                d.quote(hostile_column),
            ),
        )
        .await;
        let store = Store::builder(conformance::reducer())
            .config(Config {
                max_event_bytes: 1000,
                ..test_config()
            })
            .open(db.pool().await)
            .await
            .unwrap();
        let ctx = Context::default();
        let kinds = [
            (json!({ "type": "" }), "invalid_event"),
            (json!({ "type": 5, "payload": {} }), "invalid_event"),
            (json!({ "payload": {} }), "invalid_event"),
            (json!({ "type": "a", "payload": [1, 2] }), "invalid_event"),
            (json!({ "type": "a", "payload": "text" }), "invalid_event"),
            (json!({ "type": "a", "payload": {}, "seq": 3 }), "invalid_event"),
            (json!("not an object"), "invalid_event"),
            (json!({ "type": "a", "payload": { "big": "x".repeat(2000) } }), "event_too_large"),
        ];
        for (event, kind) in kinds {
            let err = store.dispatch_json(vec![event.clone()], &ctx).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{event}: {err}");
        }
        assert_eq!(store.dispatch(Event::new(" ", json!({}))).await.unwrap_err().kind(), "invalid_event");

        let ops = [
            (json!({ "op": "create", "collection": "nope", "row": { "id": "1" } }), "unknown_collection"),
            (json!({ "op": "create", "collection": "notes", "row": { "id": "1", "nope": 1 } }), "unknown_field"),
            (json!({ "op": "create", "collection": "notes\"; DROP TABLE notes; --", "row": { "id": "1" } }), "unknown_collection"),
            (json!({ "op": "create", "collection": "notes`; DROP TABLE notes; --", "row": { "id": "1" } }), "unknown_collection"),
            (json!({ "op": "create", "collection": "flux_events", "row": { "id": "1" } }), "unknown_collection"),
            (json!({ "op": "update_by_id", "collection": "notes", "id": "1", "patch": { "title\" = 'x'; --": 1 } }), "unknown_field"),
            (json!({ "op": "destroy_where", "collection": "notes", "filter": { "op": "eq", "field": "id'; DROP TABLE notes; --", "value": 1 } }), "unknown_field"),
            (json!({ "op": "create", "collection": "notes", "row": { "id": "1", "rank": "high" } }), "type_mismatch"),
        ];
        for (op, kind) in ops {
            let err = store.dispatch(apply(json!([op.clone()]))).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{op}: {err}");
            assert!(matches!(err, StoreError::Operation { .. }), "{err}");
        }
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (0, 0));

        // Hostile but real identifiers are quoted, values bound.
        let value = "'); DROP TABLE notes; --";
        let op = json!({ "op": "create", "collection": hostile_table, "row": { "id": value, hostile_column: value } });
        store.dispatch(apply(json!([op]))).await.unwrap();
        let row = store.find_by_id(hostile_table, value).await.unwrap().unwrap();
        assert_eq!(Value::Object(row), json!({ "id": value, hostile_column: value }));
        assert_eq!(count(&pool, "notes").await, 0);
    })
    .await;
}

/// Stamps the acting user into `meta` and refuses `admin/*` events to non-admins.
struct Guard;

#[async_trait]
impl Middleware for Guard {
    async fn dispatch(
        &self,
        mut events: Vec<Event>,
        ctx: &Context,
        next: Next<'_>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        for event in &mut events {
            if event.event_type.starts_with("admin/") && ctx.user.as_deref() != Some("root") {
                return Err(StoreError::rejected(Some(&event.event_type), "admins only"));
            }
            event.meta = Some(json!({ "user": ctx.user, "requestId": ctx.request_id }));
        }
        next.run(events, ctx).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_enriches_and_rejects_and_commands_check_the_read_model() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&tracker_schema()).await;
        let store = Store::builder(conformance::reducer())
            .config(test_config())
            .middleware(Guard)
            .command(
                "fileIssue",
                command_fn(|store: Store, payload: Value, _ctx: Context| async move {
                    let author = payload["author"].as_str().unwrap_or_default().to_string();
                    if store.find_by_id("users", author.as_str()).await?.is_none() {
                        return Err(StoreError::rejected(Some("addIssue"), format!("no user `{author}`")));
                    }
                    Ok(vec![Event::new("addIssue", payload)])
                }),
            )
            .open(db.pool().await)
            .await
            .unwrap();
        let ctx = Context {
            user: Some("mary".into()),
            request_id: Some("r-1".into()),
            ..Context::default()
        };
        let issue = json!({ "id": "i1", "title": "Leak", "author": "doc" });

        let err = store.command("fileIssue", issue.clone(), &ctx).await.unwrap_err();
        assert_eq!(err.kind(), "rejected");
        assert!(err.to_string().contains("no user `doc`"), "{err}");
        assert_eq!(
            store.command("nope", json!({}), &ctx).await.unwrap_err().kind(),
            "unknown_command"
        );

        let err = store
            .dispatch_all_with(vec![Event::new("admin/wipe", json!({}))], &ctx)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "rejected");
        assert_eq!(count(&pool, "flux_events").await, 0);

        store
            .dispatch_all_with(
                vec![Event::new("addUser", json!({ "handle": "doc", "name": "Doc" }))],
                &ctx,
            )
            .await
            .unwrap();
        let stored = store.command("fileIssue", issue, &ctx).await.unwrap();
        assert_eq!(stored[0].meta, Some(json!({ "user": "mary", "requestId": "r-1" })));
        let logged = store.events(EventQuery::default()).await.unwrap();
        assert_eq!(logged.len(), 2);
        assert_eq!(logged[1], stored[0]);
        let issues = store.find_all("issues", FindOptions::all()).await.unwrap();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0]["author"], json!("doc"));
        assert_eq!(issues[0]["closed"], json!(false));
    })
    .await;
}

fn random_event(rng: &mut Rng) -> Event {
    let user = format!("u{}", rng.below(5));
    let issue = format!("i{}", rng.below(40));
    match rng.below(9) {
        0 => Event::new("addUser", json!({ "handle": user, "name": format!("User {user}") })),
        1 | 2 => Event::new(
            "addIssue",
            json!({ "id": issue, "title": format!("T{}", rng.below(100)), "author": user,
                    "priority": if rng.below(2) == 0 { Value::Null } else { json!(rng.below(5)) } }),
        ),
        3 => Event::new(
            "renameIssue",
            json!({ "id": issue, "title": format!("R{}", rng.below(100)) }),
        ),
        4 => Event::new("closeIssue", json!({ "id": issue })),
        5 => Event::new("removeIssue", json!({ "id": issue })),
        6 => Event::new("closeAllBy", json!({ "author": user })),
        7 => Event::new("purgeClosed", json!({})),
        _ => Event::new("removeUser", json!({ "handle": user })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_log_into_empty_tables_gives_the_live_tables() {
    for_each_backend(|db| async move {
        db.pool_with_tables(&tracker_schema()).await;
        let store = conformance_store(&db).await;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut failed = 0;
        for _ in 0..300 {
            let batch: Vec<Event> = (0..=rng.below(2)).map(|_| random_event(&mut rng)).collect();
            if store.dispatch_all(batch).await.is_err() {
                failed += 1;
            }
        }
        assert!(failed > 0, "some dispatches fail (duplicate keys)");
        let live = store.snapshot().await.unwrap();
        let log = store.events(EventQuery::after(0, 100_000)).await.unwrap();
        assert!(log.len() > 250);
        assert_eq!(
            log.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=log.len() as u64).collect::<Vec<_>>()
        );

        // The reference: the same stored events through MemoryDatabase.
        let mut memory = MemoryDatabase::with_schema(tracker_schema());
        for event in &log {
            memory.dispatch(&conformance::reducer(), event).unwrap();
        }
        assert_eq!(live, memory.snapshot());

        // Replay into a fresh database.
        let fresh = TestDb::new(db.dialect).await;
        fresh.pool_with_tables(&tracker_schema()).await;
        let replica = conformance_store(&fresh).await;
        for page in log.chunks(64) {
            replica.replay(page.to_vec()).await.unwrap();
        }
        assert_eq!(replica.snapshot().await.unwrap(), live);
        assert_eq!(replica.events(EventQuery::after(0, 100_000)).await.unwrap(), log);
        drop(replica);
        fresh.drop_db().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_match_memory_database() {
    use flux_capacitor::Filter;
    use flux_capacitor_server::Direction;
    for_each_backend(|db| async move {
        db.pool_with_tables(&notes_schema()).await;
        let store = conformance_store(&db).await;
        let rows = json!([
            { "id": "b", "title": "banana", "rank": 5, "done": false, "tags": { "k": [1, 2] } },
            { "id": "A", "title": "Apple", "rank": 1, "done": true },
            { "id": "c", "title": "cherry", "done": false },
            { "id": "é", "rank": -3, "tags": ["x"] },
            { "id": "a ", "title": "apple ", "rank": 5 }
        ]);
        let ops: Vec<Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|row| json!({ "op": "create", "collection": "notes", "row": row }))
            .collect();
        let event = store.dispatch(apply(json!(ops))).await.unwrap();
        let mut memory = MemoryDatabase::with_schema(notes_schema());
        memory.dispatch(&conformance::reducer(), &event).unwrap();

        let filters = [
            Filter::eq("rank", 5),
            Filter::ne("rank", 5),
            Filter::gt("title", "a"),
            Filter::lt("title", "apple"),
            Filter::eq("title", "apple"),
            Filter::is_in("id", ["a", "A", "é"]),
            Filter::is_null("title"),
            Filter::not(Filter::eq("done", true)),
            Filter::or([Filter::gte("rank", 2.5), Filter::eq("done", true)]),
            Filter::and([]),
            Filter::eq("rank", "5"),
        ];
        for filter in filters {
            let got = store
                .find_all("notes", FindOptions::filter(filter.clone()))
                .await
                .unwrap();
            let want: Vec<_> = memory.find("notes", &filter).unwrap().into_iter().cloned().collect();
            assert_eq!(got, want, "{filter:?}");
        }
        let ordered = store
            .find_all(
                "notes",
                FindOptions {
                    order: vec![("rank".into(), Direction::Desc), ("title".into(), Direction::Asc)],
                    limit: Some(3),
                    offset: 1,
                    ..FindOptions::default()
                },
            )
            .await
            .unwrap();
        let ids: Vec<&str> = ordered.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["b", "A", "é"], "rank desc (nulls last), then title, then key");
        let row = store.find_by_id("notes", "b").await.unwrap().unwrap();
        assert_eq!(Value::Object(row), rows[0]);
        assert_eq!(store.find_by_id("notes", "zz").await.unwrap(), None);
        assert_eq!(
            store.find_by_id("nope", "b").await.unwrap_err().kind(),
            "unknown_collection"
        );
        assert_eq!(store.find_by_id("notes", 1).await.unwrap_err().kind(), "type_mismatch");
        let bad = store
            .find_all("notes", FindOptions::filter(Filter::eq("nope", 1)))
            .await;
        assert_eq!(bad.unwrap_err().kind(), "unknown_field");
        let bad = store
            .find_all("notes", FindOptions::filter(Filter::eq("tags", 1)))
            .await;
        assert_eq!(bad.unwrap_err().kind(), "invalid_filter");

        store.dispatch(Event::new("other", json!({}))).await.unwrap();
        let only = store
            .events(EventQuery {
                types: Some(vec!["other".into()]),
                ..EventQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(only.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
        assert_eq!(store.events(EventQuery::after(1, 10)).await.unwrap(), only);
        assert_eq!(store.events(EventQuery::after(0, 1)).await.unwrap(), vec![event]);
    })
    .await;
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect("sqlite::memory:", conformance::reducer()).await.unwrap();
    let DbPool::Sqlite(pool) = store.pool().clone() else {
        unreachable!()
    };
    sqlx::query("CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let mut feed = store.subscribe();
    store.dispatch(create("n1")).await.unwrap();
    assert_eq!(
        store.snapshot().await.unwrap(),
        json!({ "notes": [{ "id": "n1", "title": "n1" }] })
    );
    // The subscription ends once the store is dropped.
    drop(store);
    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::collect(&mut feed))
        .await
        .expect("the subscription ends");
    assert_eq!(items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reducer_is_an_error_and_the_store_keeps_working() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&notes_schema()).await;
        let boom = |event: &StoredEvent| -> Changeset {
            assert_ne!(event.event_type, "boom", "the reducer blew up");
            Changeset::no_change()
        };
        let reducer = aggregate_reducers([boxed(conformance::reducer()), boxed(boom)]);
        let store = Store::builder(reducer)
            .config(test_config())
            .open(db.pool().await)
            .await
            .unwrap();
        let err = store
            .dispatch_all(vec![create("n1"), Event::new("boom", json!({}))])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "rejected");
        assert!(err.to_string().contains("reducer panicked"), "{err}");
        assert_eq!((count(&pool, "flux_events").await, count(&pool, "notes").await), (0, 0));
        store.dispatch(create("n1")).await.unwrap();
        assert_eq!(count(&pool, "notes").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_match_exactly_even_where_the_collation_pads_spaces() {
    for_each_backend(|db| async move {
        let pool = db.pool().await;
        let key_type = text_key_type(db.dialect);
        execute(
            &pool,
            &format!("CREATE TABLE padded (id {key_type} PRIMARY KEY, title TEXT)"),
        )
        .await;
        let store = conformance_store(&db).await;
        let op = |op: Value| apply(json!([op]));
        store
            .dispatch(op(
                json!({ "op": "create", "collection": "padded", "row": { "id": "a", "title": "x" } }),
            ))
            .await
            .unwrap();
        store
            .dispatch(op(
                json!({ "op": "update_by_id", "collection": "padded", "id": "a ", "patch": { "title": "y" } }),
            ))
            .await
            .unwrap();
        store
            .dispatch(op(json!({ "op": "destroy_by_id", "collection": "padded", "id": "a " })))
            .await
            .unwrap();
        store
            .dispatch(op(json!({ "op": "update_where", "collection": "padded",
                "filter": { "op": "eq", "field": "id", "value": "a " }, "patch": { "title": "z" } })))
            .await
            .unwrap();
        assert_eq!(
            store.snapshot().await.unwrap(),
            json!({ "padded": [{ "id": "a", "title": "x" }] })
        );
        assert_eq!(store.find_by_id("padded", "a ").await.unwrap(), None);
    })
    .await;
}
