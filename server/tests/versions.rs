//! Row versions, on every backend: a random log of creates, updates,
//! destroys and `*_where` operations over a few keys, written one event at
//! a time and in groups (the multi-row path); then `as_of` at **every**
//! `seq` (pages with a random filter, order, limit and offset, and every
//! key by id) equals replaying the log's prefix into `MemoryDatabase`, and
//! the `history` of every key equals what the replay gives. Also: a store
//! made before row versions (its log and tables, `flux_snapshots`, no
//! versions tables) opens, builds them from the log, and answers the same.
//!
//! `VERSIONS_CASES=N` runs N random logs per backend (default 6).

use flux_capacitor::testing::conformance;
use flux_capacitor::{Direction, Event, Filter, FindOptions, Key, MemoryDatabase, Row, Schema, StoredEvent};
use flux_capacitor_server::testing::{TestDb, count, execute, for_each_backend, index_names, test_config};
use flux_capacitor_server::{Dialect, EventQuery, Store, StoreError};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

const KEYS: [&str; 4] = ["a", "b", "c", "d"];

fn schema() -> Schema {
    serde_json::from_value(json!({
        "items": { "fields": { "id": "text", "n": "integer", "tag": "text", "score": "real" } }
    }))
    .unwrap()
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(str::to_owned)
}

/// A value of field `n`, `tag` or `score` (sometimes `null`).
fn field() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        (0..4i64).prop_map(|n| ("n".to_owned(), json!(n))),
        prop::sample::select(&["x", "y", "x "][..]).prop_map(|t| ("tag".to_owned(), json!(t))),
        prop::sample::select(&[0.5, 2.0, -1.25][..]).prop_map(|s| ("score".to_owned(), json!(s))),
        prop::sample::select(&["n", "tag", "score"][..]).prop_map(|f| (f.to_owned(), Value::Null)),
    ]
}

fn patch() -> impl Strategy<Value = Value> {
    prop::collection::vec(field(), 0..3).prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (0..4i64).prop_map(|n| Filter::gt("n", n)),
        (0..4i64).prop_map(|n| Filter::eq("n", n)),
        Just(Filter::eq("tag", "x")),
        Just(Filter::is_null("tag")),
        Just(Filter::lt("score", 1)),
        key().prop_map(|k| Filter::eq("id", k)),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::and),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::or),
            inner.prop_map(Filter::not),
        ]
    })
}

fn operation() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (key(), patch()).prop_map(|(id, mut row)| {
            row["id"] = json!(id);
            json!({ "op": "create", "collection": "items", "row": row })
        }),
        3 => (key(), patch()).prop_map(|(id, patch)| {
            json!({ "op": "update_by_id", "collection": "items", "id": id, "patch": patch })
        }),
        1 => key().prop_map(|id| json!({ "op": "destroy_by_id", "collection": "items", "id": id })),
        2 => (filter(), patch()).prop_map(|(filter, patch)| {
            json!({ "op": "update_where", "collection": "items", "filter": filter, "patch": patch })
        }),
        1 => filter().prop_map(|filter| json!({ "op": "destroy_where", "collection": "items", "filter": filter })),
    ]
}

/// Events of one to three operations each.
fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(prop::collection::vec(operation(), 1..6), 4..28).prop_map(|events| {
        events
            .into_iter()
            .map(|ops| Event::new("conformance/apply", json!({ "ops": ops })))
            .collect()
    })
}

fn options() -> impl Strategy<Value = FindOptions> {
    let order = prop::collection::vec(
        (
            prop::sample::select(&["n", "tag", "score"][..]),
            prop::bool::ANY.prop_map(|d| if d { Direction::Desc } else { Direction::Asc }),
        ),
        0..3,
    );
    (prop::option::of(filter()), order, prop::option::of(0..4u64), 0..3u64).prop_map(
        |(filter, order, limit, offset)| FindOptions {
            filter,
            order: order.into_iter().map(|(f, d)| (f.to_owned(), d)).collect(),
            limit,
            offset,
        },
    )
}

/// Writes `events`: in groups of up to five (one transaction, the
/// multi-row path); a group that fails is written again one event at a
/// time, each kept or refused alone.
/// Dispatches `events` in groups of five (the multi-row path), a group
/// refused being sent again one event at a time. An event may be refused
/// (an operation the schema or the data rejects), never fail in the
/// database: the versions' statements must take whatever the reducers ask.
async fn write(store: &Store, events: Vec<Event>) {
    for group in events.chunks(5) {
        if store.dispatch_all(group.to_vec()).await.is_err() {
            for event in group {
                if let Err(err) = store.dispatch(event.clone()).await {
                    assert!(
                        !matches!(err, StoreError::Database { .. }),
                        "{event:?} failed in the database: {err}"
                    );
                }
            }
        }
    }
}

type Steps = Vec<(u64, Option<Row>, Option<Row>)>;

/// The state after each prefix of `log` and each key's changes, by replay.
fn replay(schema: &Schema, log: &[StoredEvent]) -> (Vec<MemoryDatabase>, Vec<Steps>) {
    let reducer = conformance::reducer();
    let mut db = MemoryDatabase::with_schema(schema.clone());
    let mut states = vec![db.clone()];
    let mut histories = vec![Vec::new(); KEYS.len()];
    for event in log {
        let before: Vec<Option<Row>> = KEYS.iter().map(|k| db.get("items", &Key::from(*k)).cloned()).collect();
        db.dispatch(&reducer, event).expect("the log replays");
        for (i, k) in KEYS.iter().enumerate() {
            let after = db.get("items", &Key::from(*k)).cloned();
            if before[i] != after {
                histories[i].push((event.seq, before[i].clone(), after));
            }
        }
        states.push(db.clone());
    }
    (states, histories)
}

/// Every `as_of` read and every history of `store` against the replay.
async fn check(store: &Store, reads: &[FindOptions]) -> Result<(), TestCaseError> {
    let log = store.events(EventQuery::after(0, 100_000)).await.unwrap();
    let (states, histories) = replay(&store.schema(), &log);
    for (seq, state) in states.iter().enumerate() {
        let then = store.as_of(seq as u64).await.unwrap();
        for (i, options) in reads.iter().enumerate() {
            let expected: Vec<Row> = state.find_all("items", options).unwrap().into_iter().cloned().collect();
            let got = then.find_all("items", options).await.unwrap();
            prop_assert_eq!(got, expected, "as_of({}), read {}: {:?}", seq, i, options);
        }
        for k in KEYS {
            let expected = state.get("items", &Key::from(k)).cloned();
            prop_assert_eq!(
                then.find_by_id("items", k).await.unwrap(),
                expected,
                "as_of({}) {}",
                seq,
                k
            );
        }
    }
    for (i, k) in KEYS.iter().enumerate() {
        let got: Steps = store
            .history("items", *k)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.event.seq, c.before, c.after))
            .collect();
        prop_assert_eq!(&got, &histories[i], "history of {}", k);
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("VERSIONS_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

/// Runs `case` on random logs, each on a fresh database of `dialect`.
fn run_cases(dialect: Dialect, case: impl Fn(TestDb, Vec<Event>, Vec<FindOptions>) -> Result<(), TestCaseError>) {
    let config = ProptestConfig {
        cases: cases(),
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let strategy = (events(), prop::collection::vec(options(), 3));
    let result = TestRunner::new(config).run(&strategy, |(events, reads)| {
        let handle = tokio::runtime::Handle::current();
        let db = tokio::task::block_in_place(|| handle.block_on(TestDb::new(dialect)));
        case(db, events, reads)
    });
    if let Err(err) = result {
        panic!("{dialect:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_every_seq_and_history_equal_a_replay() {
    for dialect in flux_capacitor_server::testing::BACKENDS {
        run_cases(dialect, |db, events, reads| {
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let pool = db.pool_with_tables(&schema()).await;
                    let store = open(pool).await;
                    write(&store, events).await;
                    let checked = check(&store, &reads).await;
                    drop(store);
                    db.drop_db().await;
                    checked
                })
            })
        });
    }
}

/// The conformance reducers' store on `pool`, with the tests' `Config`.
async fn open(pool: impl Into<flux_capacitor_server::DbPool>) -> Store {
    Store::builder(conformance::reducer())
        .config(test_config())
        .open(pool)
        .await
        .expect("open the store")
}

/// A store made before row versions: its tables, its log and a
/// `flux_snapshots` table, no versions tables. It opens, builds the
/// versions from the log, and its time machine equals the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_versions_builds_them_from_the_log_on_open() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let runner = &mut TestRunner::deterministic();
        let first = events().new_tree(runner).unwrap().current();
        let more = events().new_tree(runner).unwrap().current();
        let reads: Vec<FindOptions> = (0..4).map(|_| options().new_tree(runner).unwrap().current()).collect();
        write(&store, first).await;
        write(&store, more).await;
        let head = store.head();
        assert!(head > 3, "most events commit ({head})");
        drop(store);
        // What an older version of the store left: no versions, snapshots.
        execute(&pool, "DROP TABLE flux_versions_items").await;
        let snapshots = match db.dialect {
            Dialect::Sqlite => "CREATE TABLE flux_snapshots (seq INTEGER PRIMARY KEY NOT NULL, state TEXT NOT NULL)",
            Dialect::Postgres => "CREATE TABLE flux_snapshots (seq BIGINT PRIMARY KEY, state TEXT NOT NULL)",
            Dialect::MySql => "CREATE TABLE flux_snapshots (seq BIGINT NOT NULL PRIMARY KEY, state LONGTEXT NOT NULL)",
        };
        execute(&pool, snapshots).await;
        execute(
            &pool,
            "INSERT INTO flux_snapshots (seq, state) VALUES (1, '{\"tables\": {}}')",
        )
        .await;

        let reopened = open(pool.clone()).await;
        assert!(
            !reopened.schema().collections.contains_key("flux_snapshots"),
            "snapshots are not read-model tables"
        );
        check(&reopened, &reads).await.unwrap();
        // And it keeps versioning what comes next.
        let later = events().new_tree(runner).unwrap().current();
        write(&reopened, later).await;
        check(&reopened, &reads).await.unwrap();
    })
    .await;
}

/// A store opened without the reducers of a table that has no versions
/// (the generic `flux-capacitor` binary has none) does not take the empty
/// replay for the table's history: the versions start at the head, from the
/// rows the table holds, and the past as of the head is the live table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_not_built_from_a_replay_that_misses_the_rows() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let runner = &mut TestRunner::deterministic();
        write(&store, events().new_tree(runner).unwrap().current()).await;
        let head = store.head();
        let live = store.find_all("items", FindOptions::all()).await.unwrap();
        assert!(!live.is_empty(), "the events made rows");
        drop(store);
        execute(&pool, "DROP TABLE flux_versions_items").await;

        let without_reducers = Store::builder(flux_capacitor::combine_reducers())
            .config(test_config())
            .open(pool.clone())
            .await
            .expect("open without the reducers");
        let past = without_reducers.as_of(head).await.unwrap();
        assert_eq!(past.find_all("items", &FindOptions::all()).await.unwrap(), live);
    })
    .await;
}

/// Instances starting at once on a store whose versions are missing: one
/// builds them from the log while the others wait (on SQLite a lock file
/// beside the database), and none drops another's half-built tables: every
/// one answers the whole past.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_at_once_build_the_versions_once() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let runner = &mut TestRunner::deterministic();
        let reads: Vec<FindOptions> = (0..4).map(|_| options().new_tree(runner).unwrap().current()).collect();
        for _ in 0..6 {
            write(&store, events().new_tree(runner).unwrap().current()).await;
        }
        drop(store);
        execute(&pool, "DROP TABLE flux_versions_items").await;
        let (a, b, c) = tokio::join!(
            async { open(db.pool().await).await },
            async { open(db.pool().await).await },
            async { open(db.pool().await).await },
        );
        for store in [&a, &b, &c] {
            check(store, &reads).await.unwrap();
        }
    })
    .await;
}

/// A versions table of the first layout (a nullable `flux_valid_to_seq`,
/// `NULL` for current, no key) is converted when the store opens: the same
/// answers, and versioning goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_versions_table_of_the_first_layout_is_converted_on_open() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let runner = &mut TestRunner::deterministic();
        let reads: Vec<FindOptions> = (0..4).map(|_| options().new_tree(runner).unwrap().current()).collect();
        write(&store, events().new_tree(runner).unwrap().current()).await;
        write(&store, events().new_tree(runner).unwrap().current()).await;
        drop(store);
        execute(
            &pool,
            "CREATE TABLE flux_legacy AS SELECT id, n, tag, score, flux_valid_from_seq, \
             CASE WHEN flux_valid_until_seq = 9223372036854775807 THEN NULL ELSE flux_valid_until_seq END \
             AS flux_valid_to_seq FROM flux_versions_items",
        )
        .await;
        // In one step: the dropped store's tasks may still be running, and
        // would make a missing versions table anew.
        match db.dialect {
            Dialect::MySql => {
                execute(
                    &pool,
                    "RENAME TABLE flux_versions_items TO flux_current, flux_legacy TO flux_versions_items",
                )
                .await;
                execute(&pool, "DROP TABLE flux_current").await;
            }
            _ => execute(
                &pool,
                "BEGIN; DROP TABLE flux_versions_items; ALTER TABLE flux_legacy RENAME TO flux_versions_items; COMMIT",
            )
            .await,
        }

        let reopened = open(pool.clone()).await;
        check(&reopened, &reads).await.unwrap();
        let current = count(
            &pool,
            "flux_versions_items WHERE flux_valid_until_seq = 9223372036854775807",
        )
        .await;
        let rows = count(&pool, "items").await;
        assert_eq!(current, rows, "one current version a row");
        // Where index names are the schema's (on MySQL they are the table's own).
        if db.dialect != Dialect::MySql {
            let names = index_names(&pool, "flux_versions_items").await;
            assert!(
                !names.is_empty() && names.iter().all(|name| name.starts_with("flux_versions_items_")),
                "the indexes are named after the versions table: {names:?}"
            );
        }
        write(&reopened, events().new_tree(runner).unwrap().current()).await;
        check(&reopened, &reads).await.unwrap();
    })
    .await;
}

/// A conversion made before index names followed renames left the versions
/// table's indexes under the build table's names (SQLite and PostgreSQL,
/// where index names are the schema's): the store renames them when it
/// opens, and makes a missing one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_left_under_a_build_tables_name_are_renamed_on_open() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let named = index_names(&pool, "flux_versions_items").await;
        assert!(!named.is_empty(), "the versions table is indexed");
        drop(store);
        let misname = match db.dialect {
            Dialect::Sqlite => vec![
                "DROP INDEX flux_versions_items_closed".to_owned(),
                "CREATE INDEX flux_vbuild_items_closed ON flux_versions_items (flux_valid_until_seq) \
                 WHERE flux_valid_until_seq < 9223372036854775807"
                    .to_owned(),
            ],
            Dialect::Postgres => ["key", "closed"]
                .iter()
                .map(|s| format!("ALTER INDEX flux_versions_items_{s} RENAME TO flux_vbuild_items_{s}"))
                .collect(),
            // Index names are the table's own: they followed it.
            Dialect::MySql => Vec::new(),
        };
        for statement in &misname {
            execute(&pool, statement).await;
        }
        let reopened = open(pool.clone()).await;
        assert_eq!(index_names(&pool, "flux_versions_items").await, named);
        drop(reopened);
        // An index gone missing is made again.
        if db.dialect != Dialect::MySql {
            execute(&pool, "DROP INDEX flux_versions_items_closed").await;
            let reopened = open(pool.clone()).await;
            assert_eq!(index_names(&pool, "flux_versions_items").await, named);
            drop(reopened);
        }
    })
    .await;
}

/// A column a later migration adds gets into the versions table (`NULL`
/// in older versions, as the replay of events that never set it gives),
/// and the time machine goes on equalling the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_later_is_versioned_from_then_on() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let runner = &mut TestRunner::deterministic();
        write(&store, events().new_tree(runner).unwrap().current()).await;
        let added = match db.dialect {
            Dialect::MySql => "ALTER TABLE items ADD COLUMN extra TEXT COLLATE utf8mb4_bin",
            _ => "ALTER TABLE items ADD COLUMN extra TEXT",
        };
        execute(&pool, added).await;
        store.refresh_schema().await.unwrap();
        let apply = |ops: Value| Event::new("conformance/apply", json!({ "ops": ops }));
        store
            .dispatch(apply(json!([
                { "op": "create", "collection": "items", "row": { "id": "e", "extra": "new" } },
                { "op": "update_where", "collection": "items", "filter": { "op": "and", "filters": [] }, "patch": { "extra": "all" } },
            ])))
            .await
            .unwrap();
        store
            .dispatch(apply(json!([
                { "op": "update_by_id", "collection": "items", "id": "e", "patch": { "extra": null, "n": 1 } },
            ])))
            .await
            .unwrap();
        let reads = vec![
            FindOptions::all(),
            FindOptions {
                filter: Some(Filter::eq("extra", "all")),
                order: vec![("extra".into(), Direction::Desc)],
                ..FindOptions::all()
            },
        ];
        check(&store, &reads).await.unwrap();
        let head = store.head();
        let rows = store.as_of(head - 1).await.unwrap().find_all("items", &reads[1]).await.unwrap();
        assert!(
            !rows.is_empty() && rows.iter().all(|r| r["extra"] == json!("all")),
            "{rows:?}"
        );
        let before = store.as_of(head - 2).await.unwrap().find_all("items", &FindOptions::all()).await.unwrap();
        assert!(before.iter().all(|r| !r.contains_key("extra")), "{before:?}");
    })
    .await;
}

/// A table a migration makes while the store runs takes its first write
/// at once, with its versions (on MySQL/MariaDB, where a transaction cannot
/// see a table made after it began, the writer makes them and writes the
/// dispatch once more), and its past reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_made_while_the_store_runs_takes_its_first_write() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let store = open(pool.clone()).await;
        let apply = |ops: Value| Event::new("conformance/apply", json!({ "ops": ops }));
        store
            .dispatch(apply(
                json!([{ "op": "create", "collection": "items", "row": { "id": "a" } }]),
            ))
            .await
            .unwrap();
        let mut later = schema();
        later.collections = later
            .collections
            .into_values()
            .map(|c| ("later".to_owned(), c))
            .collect();
        db.create_tables(&pool, &later).await;
        // Several at once: they are written in one group, each after the first
        // finding the versions made (but, on MariaDB, newer than its transaction).
        let firsts = futures::future::join_all(["b", "c", "d", "e"].into_iter().enumerate().map(|(n, id)| {
            store.dispatch(apply(
                json!([{ "op": "create", "collection": "later", "row": { "id": id, "n": n + 1 } }]),
            ))
        }))
        .await;
        for first in &firsts {
            assert!(first.is_ok(), "the first writes into a new table: {firsts:?}");
        }
        store
            .dispatch(apply(
                json!([{ "op": "update_by_id", "collection": "later", "id": "b", "patch": { "n": 2 } }]),
            ))
            .await
            .unwrap();
        let head = store.head();
        let past = store
            .as_of(head - 1)
            .await
            .unwrap()
            .find_all("later", &FindOptions::all())
            .await
            .unwrap();
        assert_eq!(past.len(), 4, "{past:?}");
        assert_eq!(past[0]["n"], json!(1));
        assert_eq!(store.history("later", "b").await.unwrap().len(), 2);
    })
    .await;
}

/// With `Config::row_versions` off the store writes no versions and says
/// so when asked for the past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_row_versions_nothing_is_versioned_and_the_past_is_refused() {
    for_each_backend(|db| async move {
        let pool = db.pool_with_tables(&schema()).await;
        let config = flux_capacitor_server::Config {
            row_versions: false,
            ..test_config()
        };
        let store = Store::builder(conformance::reducer())
            .config(config)
            .open(pool.clone())
            .await
            .unwrap();
        let runner = &mut TestRunner::deterministic();
        write(&store, events().new_tree(runner).unwrap().current()).await;
        assert!(store.head() > 0);
        store.refresh_schema().await.unwrap();
        let err = store.as_of(1).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_point", "{err}");
        assert!(err.to_string().contains("row_versions"), "{err}");
        let err = store.history("items", "a").await.unwrap_err();
        assert_eq!(err.kind(), "invalid_point", "{err}");
        let tables = match db.dialect {
            Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'flux_versions%'",
            Dialect::Postgres => "SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'flux_versions%'",
            Dialect::MySql => {
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'flux_versions%'"
            }
        };
        let found: i64 = match &pool {
            flux_capacitor_server::DbPool::Sqlite(p) => sqlx::query_scalar(tables).fetch_one(p).await.unwrap(),
            flux_capacitor_server::DbPool::Postgres(p) => sqlx::query_scalar(tables).fetch_one(p).await.unwrap(),
            flux_capacitor_server::DbPool::MySql(p) => sqlx::query_scalar(tables).fetch_one(p).await.unwrap(),
            other => panic!("not a test backend: {other:?}"),
        };
        assert_eq!(found, 0, "no versions tables");
    })
    .await;
}
