//! The icelog on every backend: a frozen log reads as before (events paging,
//! subscriptions from 0, `as_of` at every checkpoint, `history`, a full
//! rebuild), thaw restores it exactly, damaged and missing segments are
//! typed errors naming them, and reads stay whole during a freeze.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, Schema, StoredEvent};
use flux_capacitor_server::testing::{Rng, TestDb, count, for_each_backend, test_config, tracker_schema};
use flux_capacitor_server::{EventQuery, FreezeBelow, Store, StoreError, SubscriptionItem};
use futures::StreamExt;
use serde_json::{Value, json};

/// A random tracker log of about `n` committed events.
async fn random_log(store: &Store, n: usize, seed: u64) {
    let mut rng = Rng(seed);
    let authors = ["ann", "bob", "cy"];
    for handle in authors {
        // Already there on a second call: refused, fine.
        let _ = store
            .dispatch(Event::new(
                "addUser",
                json!({ "handle": handle, "name": handle.to_uppercase() }),
            ))
            .await;
    }
    while (store.head() as usize) < n {
        let id = format!("{:03}", rng.below(60));
        let author = authors[rng.below(3) as usize];
        let event = match rng.below(10) {
            0..=3 => Event::new(
                "addIssue",
                json!({ "id": id, "title": format!("t{}", rng.below(1000)), "author": author, "priority": rng.below(5) }),
            ),
            4 | 5 => Event::new(
                "renameIssue",
                json!({ "id": id, "title": format!("r{}", rng.below(1000)) }),
            ),
            6 => Event::new("closeIssue", json!({ "id": id })),
            7 => Event::new("removeIssue", json!({ "id": id })),
            8 => Event::new("closeAllBy", json!({ "author": author })),
            _ => Event::new("purgeClosed", json!({})).with_meta(json!({ "user": author, "n": 1e17 })),
        };
        // Refused events (a duplicate issue) are not logged: fine.
        let _ = store.dispatch(event).await;
    }
}

async fn open(db: &TestDb, dir: &Path, segment_events: usize) -> Store {
    open_on(db.pool_with_tables(&tables("")).await, dir, segment_events).await
}

async fn open_on(pool: flux_capacitor_server::DbPool, dir: &Path, segment_events: usize) -> Store {
    Store::builder(conformance::reducer())
        .config(flux_capacitor_server::Config {
            icelog: Some(dir.display().to_string()),
            icelog_segment_events: segment_events,
            ..test_config()
        })
        .open(pool)
        .await
        .unwrap()
}

fn tables(suffix: &str) -> Schema {
    let mut schema = tracker_schema();
    schema.collections = schema
        .collections
        .into_iter()
        .map(|(name, c)| (format!("{name}{suffix}"), c))
        .collect();
    schema
}

/// Everything the log is read for, to compare before and after a freeze.
#[derive(Debug, PartialEq)]
struct Reads {
    paged: Vec<StoredEvent>,
    typed: Vec<StoredEvent>,
    subscribed: Vec<StoredEvent>,
    as_of: Vec<Value>,
    as_of_time: Vec<u64>,
    history: Vec<Value>,
}

async fn all_events(store: &Store, page: u64, types: Option<Vec<String>>) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    loop {
        let query = EventQuery {
            after_seq: out.last().map_or(0, |e: &StoredEvent| e.seq),
            limit: page,
            types: types.clone(),
        };
        let got = store.events(query).await.unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

async fn subscribed(store: &Store) -> Vec<StoredEvent> {
    let head = store.head();
    let mut feed = store.subscribe_from(0);
    let mut out = Vec::new();
    while out.last().map_or(0, |e: &StoredEvent| e.seq) < head {
        match feed.next().await.unwrap() {
            SubscriptionItem::Events(events) => out.extend(events.iter().cloned()),
            SubscriptionItem::Lagged { .. } => {}
        }
    }
    out
}

async fn reads(store: &Store) -> Reads {
    let paged = all_events(store, 7, None).await;
    let typed = all_events(store, 5, Some(vec!["renameIssue".into(), "closeAllBy".into()])).await;
    let mut as_of = Vec::new();
    for seq in (0..=store.head()).step_by(9) {
        as_of.push(store.as_of(seq).await.unwrap().snapshot().await.unwrap());
    }
    let mut as_of_time = Vec::new();
    for event in paged.iter().step_by(23) {
        as_of_time.push(store.as_of(event.timestamp.as_str()).await.unwrap().seq);
    }
    let mut history = Vec::new();
    for id in 0..60 {
        let changes = store.history("issues", format!("{id:03}")).await.unwrap();
        history.push(serde_json::to_value(changes).unwrap());
    }
    Reads {
        subscribed: subscribed(store).await,
        paged,
        typed,
        as_of,
        as_of_time,
        history,
    }
}

async fn get(router: &axum::Router, uri: &str) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_log_reads_as_before_and_thaws_back_exactly() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 37).await;
        random_log(&store, 300, 0x5eed).await;
        let head = store.head();
        let before = reads(&store).await;
        assert_eq!(before.paged.len() as u64, head);
        assert_eq!(before.subscribed, before.paged);
        let hashes = before.paged.iter().filter(|e| e.hash.is_some()).count();
        assert_eq!(hashes as u64, head, "every event has its changeset hash");

        let mut reports = 0;
        let report = store
            .freeze(FreezeBelow::Seq(head / 2), |_| reports += 1)
            .await
            .unwrap();
        assert_eq!(report.events, head / 2 - 1);
        assert_eq!(report.segments.len() as u64, (head / 2 - 1).div_ceil(37));
        assert!(reports > report.segments.len());
        assert_eq!(segment_files(dir.path()).len(), report.segments.len());
        let hot = count(store.pool(), "flux_events").await as u64;
        assert_eq!(hot, head - report.events, "the frozen events left the database");
        assert_eq!(store.icelog_segments().await.unwrap(), report.segments);
        for segment in &report.segments {
            store.verify_segment(segment).await.unwrap();
        }
        // Freezing again below the same seq moves nothing; nor does the head ever go.
        assert_eq!(
            store.freeze(FreezeBelow::Seq(head / 2), |_| ()).await.unwrap().events,
            0
        );

        let after = reads(&store).await;
        assert_eq!(after, before, "every read across the boundary is as before");
        assert!(store.events(EventQuery::after(0, 0)).await.unwrap().is_empty());
        let spanning = store.events(EventQuery::after(head / 2 - 5, 10)).await.unwrap();
        assert_eq!(
            spanning[..],
            before.paged[(head / 2 - 5) as usize..(head / 2 + 5) as usize]
        );
        // New events keep their seqs after a freeze.
        let next = store
            .dispatch(Event::new("addUser", json!({ "handle": "dee", "name": "Dee" })))
            .await
            .unwrap();
        assert_eq!(next.seq, head + 1);

        // Thaw the last segments, then everything: the log is back as it was.
        let cut = report.segments[1].last_seq;
        let partial = store.thaw(Some(cut), |_| ()).await.unwrap();
        assert_eq!(partial.segments.len(), report.segments.len() - 2);
        assert_eq!(store.icelog_segments().await.unwrap(), report.segments[..2]);
        assert_eq!(all_events(&store, 11, None).await[..head as usize], before.paged[..]);
        let rest = store.thaw(None, |_| ()).await.unwrap();
        assert_eq!(rest.events + partial.events, report.events);
        assert_eq!(count(store.pool(), "flux_events").await as u64, head + 1);
        assert!(store.icelog_segments().await.unwrap().is_empty());
        assert!(segment_files(dir.path()).is_empty(), "thawed segments are deleted");
        let thawed = store.events(EventQuery::after(0, 10_000)).await.unwrap();
        assert_eq!(
            thawed[..head as usize],
            before.paged[..],
            "same seqs, ids, timestamps, hashes"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_replays_the_frozen_log() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 50).await;
        random_log(&store, 200, 77).await;
        let live = store.snapshot().await.unwrap();
        let frozen = store.freeze(FreezeBelow::Seq(store.head()), |_| ()).await.unwrap();
        assert_eq!(frozen.events, store.head() - 1, "all but the newest event");
        db.create_tables(store.pool(), &tables("_next")).await;
        let report = store
            .rebuild(
                conformance::reducer(),
                &[("issues", "issues_next"), ("users", "users_next")],
                |_| (),
            )
            .await
            .unwrap();
        assert_eq!(report.replayed, store.head());
        let mut rebuilt = store.snapshot().await.unwrap();
        let rebuilt = rebuilt.as_object_mut().unwrap();
        rebuilt.retain(|name, _| !name.contains("_before_"));
        assert_eq!(Value::Object(rebuilt.clone()), live);

        // A store opened anew builds missing row versions from the whole log,
        // segments included: the past reads as before.
        let past: Vec<Value> = {
            let mut out = Vec::new();
            for seq in (0..=store.head()).step_by(17) {
                let rows = store
                    .as_of(seq)
                    .await
                    .unwrap()
                    .find_all("issues", &Default::default())
                    .await
                    .unwrap();
                out.push(Value::Array(rows.into_iter().map(Value::Object).collect()));
            }
            out
        };
        drop(store);
        flux_capacitor_server::testing::execute(&db.pool().await, "DROP TABLE flux_versions_issues").await;
        let reopened = open_on(db.pool().await, dir.path(), 50).await;
        assert_eq!(all_events(&reopened, 1000, None).await.len() as u64, reopened.head());
        for (i, seq) in (0..=reopened.head()).step_by(17).enumerate() {
            let rows: Vec<Value> = reopened
                .as_of(seq)
                .await
                .unwrap()
                .find_all("issues", &Default::default())
                .await
                .unwrap()
                .into_iter()
                .map(Value::Object)
                .collect();
            assert_eq!(
                Value::Array(rows),
                past[i],
                "as of {seq}, versions rebuilt from segments"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_and_missing_segments_are_typed_errors_naming_them() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 20).await;
        random_log(&store, 100, 3).await;
        let report = store.freeze(FreezeBelow::Seq(61), |_| ()).await.unwrap();
        let files = segment_files(dir.path());
        assert_eq!(files.len(), 3);
        // Over HTTP, across the boundary: the same page as the store's.
        let router = flux_capacitor_server::http::app(store.clone(), Default::default());
        let (status, page) = get(&router, "/events?after=10&limit=30").await;
        assert_eq!(status, 200);
        let expected = store.events(EventQuery::after(10, 30)).await.unwrap();
        assert_eq!(page, serde_json::to_value(&expected).unwrap());
        assert_eq!(expected.len(), 30);
        // Out of the segments' cache, so that the next reads meet the files.
        drop(router);
        let store = open_on(db.pool().await, dir.path(), 20).await;

        // A flipped byte in the first segment.
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&files[0], bytes).unwrap();
        let err = store.events(EventQuery::after(0, 10)).await.unwrap_err();
        match &err {
            StoreError::SegmentCorrupt { segment, reason } => {
                assert_eq!(segment, &report.segments[0].segment);
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected segment_corrupt, got {other:?}"),
        }
        assert_eq!(err.kind(), "segment_corrupt");
        let router = flux_capacitor_server::http::app(store.clone(), Default::default());
        let (status, body) = get(&router, "/events?after=0").await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "segment_corrupt");
        assert!(
            !body.to_string().contains(&*dir.path().to_string_lossy()),
            "no paths to clients: {body}"
        );
        assert!(matches!(
            store.verify_segment(&report.segments[0]).await,
            Err(StoreError::SegmentCorrupt { .. })
        ));
        // A subscription from 0 does not skip it either: it keeps retrying.
        let mut feed = store.subscribe_from(0);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(500), feed.next()).await;
        assert!(waited.is_err(), "no event is delivered past a damaged segment");

        // The second segment deleted.
        std::fs::remove_file(&files[1]).unwrap();
        let err = store.events(EventQuery::after(25, 10)).await.unwrap_err();
        match &err {
            StoreError::SegmentMissing { segment, location } => {
                assert_eq!(segment, &report.segments[1].segment);
                assert_eq!(location, &dir.path().display().to_string());
            }
            other => panic!("expected segment_missing, got {other:?}"),
        }
        // The time machine's lookups of frozen events fail alike.
        let history = store.history("issues", "000").await;
        assert!(history.is_err() || history.unwrap().iter().all(|c| c.event.seq > 40));
        // A thaw of a damaged segment changes nothing.
        let hot = count(store.pool(), "flux_events").await;
        assert!(store.thaw(None, |_| ()).await.is_err());
        assert_eq!(count(store.pool(), "flux_events").await, hot);
        assert_eq!(store.icelog_segments().await.unwrap().len(), 3);
        // The third segment and the database are fine.
        let tail = store.events(EventQuery::after(45, 1000)).await.unwrap();
        assert_eq!(tail.first().map(|e| e.seq), Some(46));
        assert_eq!(tail.last().map(|e| e.seq), Some(store.head()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_stay_whole_while_the_log_is_frozen_and_thawed() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 10).await;
        random_log(&store, 200, 11).await;
        let expected = all_events(&store, 1000, None).await;
        let stop = Arc::new(AtomicBool::new(false));
        // One reader on this store, one on another store (another instance on the
        // same database, whose cached manifest the freezes here make stale).
        let other = open_on(db.pool().await, dir.path(), 10).await;
        let readers: Vec<_> = [store.clone(), other]
            .into_iter()
            .enumerate()
            .map(|(page, store)| {
                let page = page as u64;
                let (stop, expected) = (stop.clone(), expected.clone());
                tokio::spawn(async move {
                    let mut rounds = 0;
                    while !stop.load(Ordering::SeqCst) || rounds == 0 {
                        let got = all_events(&store, 3 + page * 10, None).await;
                        assert_eq!(got[..expected.len()], expected[..], "round {rounds}");
                        let streamed = subscribed(&store).await;
                        assert_eq!(streamed[..expected.len()], expected[..]);
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        let freezer = {
            let store = store.clone();
            tokio::spawn(async move {
                // Each either moves its events or, beaten by the rival below, fails cleanly.
                let clean = |done: Result<_, StoreError>| {
                    if let Err(err) = done {
                        assert_eq!(err.kind(), "icelog", "{err}");
                    }
                };
                for below in [50, 120, 190] {
                    clean(store.freeze(FreezeBelow::Seq(below), |_| ()).await);
                }
                clean(store.thaw(Some(100), |_| ()).await);
                clean(store.thaw(None, |_| ()).await);
                clean(store.freeze(FreezeBelow::Seq(150), |_| ()).await);
            })
        };
        // A second freeze at the same time either moves its own events or fails cleanly.
        let rival = store.freeze(FreezeBelow::Seq(80), |_| ()).await;
        if let Err(err) = &rival {
            assert_eq!(err.kind(), "icelog", "{err}");
        }
        freezer.await.unwrap();
        stop.store(true, Ordering::SeqCst);
        for reader in readers {
            assert!(reader.await.unwrap() >= 1);
        }
        assert_eq!(all_events(&store, 1000, None).await, expected);
        assert!(!store.icelog_segments().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freezing_by_age_and_the_default_location() {
    // SQLite: the icelog defaults to a directory beside the database file.
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let pool = db.pool_with_tables(&tracker_schema()).await;
        let store = Store::builder(conformance::reducer())
            .config(test_config())
            .open(pool)
            .await
            .unwrap();
        random_log(&store, 20, 5).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        random_log(&store, 40, 6).await;
        let events = all_events(&store, 100, None).await;
        let cut = chrono::DateTime::parse_from_rfc3339(&events[20].timestamp)
            .unwrap()
            .with_timezone(&chrono::Utc);
        let report = store.freeze(FreezeBelow::OlderThan(cut), |_| ()).await.unwrap();
        let last = report.segments.last().unwrap();
        assert!(last.last_time < events[20].timestamp, "only events before the time");
        assert!(events[last.last_seq as usize].timestamp >= events[20].timestamp);
        assert!(last.location.ends_with(".icelog"), "{}", last.location);
        assert_eq!(all_events(&store, 100, None).await, events);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_freezes_lists_verifies_and_thaws() {
    use flux_capacitor_server::cli::{FreezeArgs, IceLogCommand, IcelogArgs, ThawArgs, ice_log, parse_older_than};
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 25).await;
        random_log(&store, 80, 9).await;
        let run = |command: IceLogCommand| {
            let store = store.clone();
            async move {
                let mut out = Vec::new();
                let done = ice_log(&store, &command, &mut out).await;
                (done, String::from_utf8(out).unwrap())
            }
        };
        let (done, out) = run(IceLogCommand::Freeze(FreezeArgs {
            below_seq: Some(61),
            older_than: None,
        }))
        .await;
        done.unwrap();
        let summary: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(summary["frozen_events"], 60);
        assert_eq!(summary["segments"], 3);
        let (done, out) = run(IceLogCommand::Icelog(IcelogArgs { verify: true })).await;
        done.unwrap();
        let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l["verified"] == "ok"), "{out}");
        assert_eq!(lines[1]["first_seq"], 26);

        std::fs::remove_file(dir.path().join(lines[2]["segment"].as_str().unwrap())).unwrap();
        let (done, out) = run(IceLogCommand::Icelog(IcelogArgs { verify: true })).await;
        assert_eq!(done.unwrap_err().kind(), "icelog");
        assert!(out.lines().nth(2).unwrap().contains("segment_missing"), "{out}");
        let (done, _) = run(IceLogCommand::Thaw(ThawArgs { above_seq: Some(50) })).await;
        assert_eq!(done.unwrap_err().kind(), "segment_missing");
        let (done, out) = run(IceLogCommand::Icelog(IcelogArgs { verify: false })).await;
        done.unwrap();
        assert_eq!(out.lines().count(), 3, "the failed thaw changed nothing");

        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            parse_older_than("2d", now).unwrap().to_rfc3339(),
            "2026-11-29T12:00:00+00:00"
        );
        assert_eq!(
            parse_older_than("90m", now).unwrap().to_rfc3339(),
            "2026-12-01T10:30:00+00:00"
        );
        assert_eq!(
            parse_older_than("2026-01-02T03:04:05Z", now).unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        for bad in ["", "d", "12", "3y", "-1d", "yesterday"] {
            assert_eq!(parse_older_than(bad, now).unwrap_err().kind(), "rejected", "{bad}");
        }
    })
    .await;
}

/// A client-chosen id stays committed once after its event was frozen: a
/// resend is answered with the stored event (read back from its segment) and
/// writes nothing, another event under that id is `id_conflict`, and after a
/// thaw the log's own unique index answers again. `events_by_id` finds it
/// on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_id_stays_committed_once_after_a_freeze() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, dir.path(), 16).await;
        let id = uuid::Uuid::now_v7();
        let add = || Event::new("addUser", json!({ "handle": "idem", "name": "Idem" })).with_id(id);
        let first = store.dispatch(add()).await.unwrap();
        random_log(&store, 80, 0x1ce).await;
        let head = store.head();
        store.freeze(FreezeBelow::Seq(head), |_| ()).await.unwrap();
        assert_eq!(count(store.pool(), "flux_events").await, 1, "all but the head frozen");
        assert_eq!(count(store.pool(), "flux_icelog_ids").await as u64, head - 1);
        let first = vec![first];
        assert_eq!(store.events_by_id(&[id]).await.unwrap(), first);

        let again = store.dispatch(add()).await.unwrap();
        assert_eq!(vec![again], first, "answered as stored");
        assert_eq!(store.head(), head, "nothing written");
        let other = Event::new("addUser", json!({ "handle": "other", "name": "O" })).with_id(id);
        assert!(
            matches!(store.dispatch(other).await, Err(StoreError::IdConflict { .. })),
            "another event under a frozen id is a conflict"
        );
        assert_eq!(store.head(), head);

        store.thaw(None, |_| ()).await.unwrap();
        assert_eq!(
            count(store.pool(), "flux_icelog_ids").await,
            0,
            "thawed ids leave the table"
        );
        assert_eq!(vec![store.dispatch(add()).await.unwrap()], first);
        assert_eq!(store.events_by_id(&[id]).await.unwrap(), first);
        assert_eq!(store.head(), head);
    })
    .await;
}
