//! Replay instead of migrations: rebuild under load, and a failing rebuild.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use flux_capacitor::testing::conformance;
use flux_capacitor::{
    Aggregate, Error, Event, MemoryDatabase, Schema, StoredEvent, aggregate_reducers, boxed, event_log,
};
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::{TestDb, for_each_backend, index_names, test_config, tracker_schema};
use flux_capacitor_server::{EventQuery, Store, StoreError};
use serde_json::{Value, json};

/// The tracker's tables ([`tracker_schema`]) with `suffix` after their names,
/// and with an `audit` table of every event if `with_audit`.
fn tables(suffix: &str, with_audit: bool) -> Schema {
    let mut schema = tracker_schema();
    schema.collections = schema
        .collections
        .into_iter()
        .map(|(name, collection)| (format!("{name}{suffix}"), collection))
        .collect();
    if with_audit {
        let audit = json!({ "key": "seq", "fields": {
            "seq": "integer", "id": "text", "timestamp": "text", "type": "text", "payload": "json", "meta": "json", "error": "boolean"
        }});
        schema
            .collections
            .insert(format!("audit{suffix}"), serde_json::from_value(audit).unwrap());
    }
    schema
}

/// The new reducers: the tracker as before, plus an `audit` table of every event.
fn v2() -> Aggregate {
    aggregate_reducers([boxed(conformance::reducer()), boxed(event_log("audit"))])
}

fn issue(i: usize) -> Event {
    Event::new(
        "addIssue",
        json!({ "id": format!("{i:04}"), "title": format!("t{i}"), "author": "mary", "priority": i % 5 }),
    )
}

/// The live tables' contents, for every table of `names`.
async fn contents(store: &Store, names: &[&str]) -> Value {
    let snapshot = store.snapshot().await.unwrap();
    json!(
        names
            .iter()
            .map(|n| (n.to_string(), snapshot.get(*n).cloned().unwrap_or(json!(null))))
            .collect::<serde_json::Map<_, _>>()
    )
}

async fn tracker(db: &TestDb) -> Store {
    let pool = db.pool_with_tables(&tracker_schema()).await;
    Store::builder(conformance::reducer())
        .config(test_config())
        .open(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_under_load_switches_to_tables_replayed_from_the_whole_log() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        store
            .dispatch(Event::new("addUser", json!({ "handle": "mary", "name": "Mary" })))
            .await
            .unwrap();
        for i in 0..400 {
            store.dispatch(issue(i)).await.unwrap();
        }
        store
            .dispatch(Event::new("closeAllBy", json!({ "author": "mary" })))
            .await
            .unwrap();
        // The user's new migration: the next tables, empty.
        db.create_tables(store.pool(), &tables("_next", true)).await;

        // Writers keep dispatching during the whole rebuild.
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (store, stop, failures) = (store.clone(), stop.clone(), failures.clone());
            tokio::spawn(async move {
                let mut i = 1000;
                while !stop.load(Ordering::SeqCst) || i < 1020 {
                    if store.dispatch(issue(i)).await.is_err() {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                i - 1000
            })
        };
        let mut pages = 0;
        let report = store
            .rebuild(
                v2(),
                &[
                    ("issues", "issues_next"),
                    ("users", "users_next"),
                    ("audit", "audit_next"),
                ],
                |_| pages += 1,
            )
            .await
            .unwrap();
        // After the switch the new reducers run: dispatches keep landing in `audit`.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::SeqCst);
        let written = writer.await.unwrap();
        assert_eq!(
            failures.load(Ordering::SeqCst),
            0,
            "no dispatch failed during the rebuild"
        );
        assert!(
            written >= 20 && pages >= 1,
            "{written} dispatches during the rebuild, {pages} progress reports"
        );
        assert_eq!(
            report.retired,
            [
                "issues_before_".to_owned() + &report.replayed.to_string(),
                format!("users_before_{}", report.replayed)
            ]
        );

        let log: Vec<StoredEvent> = store.events(EventQuery::after(0, 1_000_000)).await.unwrap();
        assert_eq!(log.len() as u64, 402 + written as u64, "the log kept every event");
        assert!(report.replayed > 402 && report.replayed <= log.len() as u64);
        let mut expected = MemoryDatabase::new();
        for event in &log {
            expected.dispatch(&v2(), event).unwrap();
        }
        let expected = expected.snapshot();
        let live = contents(&store, &["issues", "users", "audit"]).await;
        assert_eq!(live["issues"], expected["issues"]);
        assert_eq!(live["users"], expected["users"]);
        assert_eq!(live["audit"].as_array().unwrap().len(), log.len());
        assert_eq!(live["audit"], expected["audit"]);
        // The time machine answers with the new reducers' past: the rebuild
        // wrote the new tables' row versions as it replayed.
        let mut replayed = MemoryDatabase::new();
        for (i, event) in log.iter().enumerate() {
            replayed.dispatch(&v2(), event).unwrap();
            if i % 97 == 0 || i + 1 == log.len() {
                let then = store.as_of(event.seq).await.unwrap().snapshot().await.unwrap();
                let now = replayed.snapshot();
                for table in ["issues", "users", "audit"] {
                    assert_eq!(then.get(table), now.get(table), "as_of({}) {table}", event.seq);
                }
            }
        }
        // The old tables are kept, as they were at the switch.
        let old = contents(&store, &[report.retired[0].as_str()]).await;
        assert_eq!(
            old[&report.retired[0]].as_array().unwrap().len() as u64,
            report.replayed - 2
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rebuild_leaves_the_live_tables_and_the_log_untouched() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        for i in 0..30 {
            store.dispatch(issue(i)).await.unwrap();
        }
        db.create_tables(store.pool(), &tables("_next", false)).await;
        let before = (
            contents(&store, &["issues", "users"]).await,
            store.events(Default::default()).await.unwrap(),
        );
        let breaks_at_17 = move |event: &StoredEvent| -> Result<flux_capacitor::Changeset, Error> {
            if event.seq == 17 {
                return Err(Error::Rejected {
                    event_type: event.event_type.clone(),
                    message: "cannot read this".into(),
                });
            }
            conformance::reducer().reduce(event)
        };
        use flux_capacitor::Reducer;
        let failed = store
            .rebuild(
                breaks_at_17,
                &[("issues", "issues_next"), ("users", "users_next")],
                |_| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(failed, StoreError::Replay { seq: 17, .. }), "{failed}");
        let after = (
            contents(&store, &["issues", "users"]).await,
            store.events(Default::default()).await.unwrap(),
        );
        assert_eq!(before, after, "live tables and log untouched");

        // Refusals: a missing target, one target for two collections, and a
        // collection that is no table and that the reducers never write (a
        // misspelt one: nothing switched, the target still empty).
        let missing = store.rebuild(v2(), &[("issues", "nowhere")], |_| {}).await.unwrap_err();
        assert!(missing.to_string().contains("nowhere"), "{missing}");
        let twice = store
            .rebuild(v2(), &[("issues", "issues_next"), ("users", "issues_next")], |_| {})
            .await
            .unwrap_err();
        assert!(twice.to_string().contains("two collections"), "{twice}");
        let misspelt = store
            .rebuild(v2(), &[("issue", "issues_next")], |_| {})
            .await
            .unwrap_err();
        assert!(misspelt.to_string().contains("no table `issue`"), "{misspelt}");
        assert_eq!(
            contents(&store, &["issues_next"]).await,
            json!({ "issues_next": null }),
            "nothing written to the target"
        );

        // The store keeps working with the old reducers.
        store.dispatch(issue(99)).await.unwrap();
        assert!(store.find_by_id("issues", "0099").await.unwrap().is_some());

        // Rebuilding one collection leaves what the new reducers write to
        // others (`users`, `audit`) out: their tables stay as they are.
        let users = contents(&store, &["users"]).await;
        let issues = contents(&store, &["issues"]).await;
        store.rebuild(v2(), &[("issues", "issues_next")], |_| {}).await.unwrap();
        assert_eq!(contents(&store, &["users"]).await, users);
        assert_eq!(
            contents(&store, &["issues"]).await,
            issues,
            "the same reducer for issues"
        );
        assert_eq!(contents(&store, &["audit"]).await, json!({ "audit": null }));
    })
    .await;
}

/// A page is written with multi-row statements; when one fails in the
/// database (here a key written twice), the page is written again one
/// statement per change and the rebuild fails as it did before, writing
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_failing_in_the_database_writes_nothing() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        for i in 0..10 {
            store.dispatch(issue(i)).await.unwrap();
        }
        db.create_tables(store.pool(), &tables("_next", false)).await;
        let before = contents(&store, &["issues", "users"]).await;
        // Every issue gets the same id: the second create breaks the key.
        let one_id = |event: &StoredEvent| -> Result<flux_capacitor::Changeset, Error> {
            let mut event = event.clone();
            if let Some(payload) = event.event.payload.as_object_mut() {
                payload.insert("id".into(), json!("same"));
            }
            conformance::reducer().reduce(&event)
        };
        use flux_capacitor::Reducer;
        let failed = store
            .rebuild(one_id, &[("issues", "issues_next"), ("users", "users_next")], |_| {})
            .await
            .unwrap_err();
        assert!(matches!(failed, StoreError::Database { .. }), "{failed}");
        assert_eq!(
            contents(&store, &["issues", "users"]).await,
            before,
            "live tables untouched"
        );
        assert_eq!(
            contents(&store, &["issues_next", "users_next"]).await,
            json!({ "issues_next": null, "users_next": null }),
            "the failed page wrote nothing"
        );
        // The same log with the right reducers rebuilds.
        let report = store
            .rebuild(
                conformance::reducer(),
                &[("issues", "issues_next"), ("users", "users_next")],
                |_| {},
            )
            .await
            .unwrap();
        assert_eq!(report.replayed, 10);
        assert_eq!(
            contents(&store, &["issues", "users"]).await,
            before,
            "the same tables, replayed"
        );
    })
    .await;
}

/// Checks that versions table `flux_versions_{table}` has its indexes: on
/// SQLite (keyed by its primary key) the closed versions', elsewhere also
/// its key's; named after it where index names are the schema's (on MySQL
/// they are the table's own, and keep the name they were made with).
async fn assert_versions_indexed(store: &Store, dialect: Dialect, table: &str) {
    let versions = format!("flux_versions_{table}");
    let names = index_names(store.pool(), &versions).await;
    let suffixes: Vec<&str> = names.iter().filter_map(|n| n.rsplit('_').next()).collect();
    let expected: &[&str] = match dialect {
        Dialect::Sqlite => &["closed"],
        Dialect::Postgres | Dialect::MySql => &["closed", "key"],
    };
    assert_eq!(suffixes, expected, "{names:?}");
    if dialect != Dialect::MySql {
        assert!(
            names.iter().all(|n| n.starts_with(&format!("{versions}_"))),
            "{names:?}"
        );
    }
}

/// Index names belong to the schema, not to a table (SQLite, PostgreSQL):
/// the versions tables' indexes follow them through the rebuild's renames,
/// so a second rebuild into targets of the same names gives the new
/// versions tables their indexes instead of finding the names taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_twice_into_targets_of_the_same_names_keeps_the_versions_indexes() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        for i in 0..20 {
            store.dispatch(issue(i)).await.unwrap();
        }
        for round in 0..2 {
            db.create_tables(store.pool(), &tables("_next", false)).await;
            store
                .rebuild(
                    conformance::reducer(),
                    &[("issues", "issues_next"), ("users", "users_next")],
                    |_| {},
                )
                .await
                .unwrap_or_else(|e| panic!("rebuild {round}: {e}"));
            store.dispatch(issue(100 + round)).await.unwrap();
            for table in ["issues", "users"] {
                assert_versions_indexed(&store, db.dialect, table).await;
            }
        }
        assert!(store.find_by_id("issues", "0101").await.unwrap().is_some());
    })
    .await;
}

/// A rebuild made before index names followed their tables left the
/// retired versions table with the live one's index names and the live one
/// with the target's: the store names each after its table when it opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_a_rebuild_left_misnamed_are_named_after_their_tables_on_open() {
    for_each_backend(|db| async move {
        let store = tracker(&db).await;
        for i in 0..10 {
            store.dispatch(issue(i)).await.unwrap();
        }
        db.create_tables(store.pool(), &tables("_next", false)).await;
        let pairs = [("issues", "issues_next"), ("users", "users_next")];
        store.rebuild(conformance::reducer(), &pairs, |_| {}).await.unwrap();
        let retired = store
            .schema()
            .collections
            .keys()
            .find(|name| name.starts_with("issues_before_"))
            .cloned()
            .expect("the retired table");
        let pool = store.pool().clone();
        drop(store);
        // The names an older rebuild left: the live ones on the retired
        // table, the target's on the live one.
        let (live, old) = ("flux_versions_issues".to_owned(), format!("flux_versions_{retired}"));
        let statements: Vec<String> = match db.dialect {
            // (`IF NOT EXISTS`: a pool connection that has not seen the drop
            // checks its cached schema again instead of failing.)
            Dialect::Sqlite => vec![
                "DROP INDEX flux_versions_issues_closed".into(),
                format!("CREATE INDEX IF NOT EXISTS flux_versions_issues_next_closed ON {live} (flux_valid_until_seq)"),
                format!("CREATE INDEX IF NOT EXISTS flux_versions_issues_closed ON {old} (flux_valid_until_seq)"),
            ],
            Dialect::Postgres => ["key", "closed"]
                .iter()
                .flat_map(|s| {
                    [
                        format!("ALTER INDEX {live}_{s} RENAME TO flux_swap_{s}"),
                        format!("ALTER INDEX {old}_{s} RENAME TO {live}_{s}"),
                        format!("ALTER INDEX flux_swap_{s} RENAME TO flux_versions_issues_next_{s}"),
                    ]
                })
                .collect(),
            // Index names are the table's own.
            Dialect::MySql => Vec::new(),
        };
        for statement in &statements {
            flux_capacitor_server::testing::execute(&pool, statement).await;
        }
        let reopened = Store::builder(conformance::reducer())
            .config(test_config())
            .open(pool)
            .await
            .unwrap();
        assert_versions_indexed(&reopened, db.dialect, "issues").await;
        assert_versions_indexed(&reopened, db.dialect, &retired).await;
        // And a later rebuild into targets of the old names finds their names free.
        reopened.dispatch(issue(50)).await.unwrap();
        db.create_tables(reopened.pool(), &tables("_next", false)).await;
        reopened
            .rebuild(conformance::reducer(), &pairs, |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_versions_indexed(&reopened, db.dialect, "issues").await;
    })
    .await;
}
