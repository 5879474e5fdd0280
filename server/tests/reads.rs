//! The read suite (`tests/reads`) on SQLite, PostgreSQL and MariaDB, by every
//! reader: the store's live reads (at the head), the time machine (`as_of`,
//! at the head and at every past point the suite names, through a snapshot
//! and through replay alone), and the HTTP routes (live and `?as_of=`). Every
//! answer must be the file's.

mod support;

use std::path::Path;

use flux_capacitor::testing::reads::{Answer, Read, ReadSuite};
use flux_capacitor_server::testing::{BACKENDS, TestDb, conformance_store};
use support::{Readers, http_expected};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_suite_on_every_backend() {
    let suite = ReadSuite::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests"));
    assert!(suite.cases.len() >= 7, "the read suite has its files");
    let mut failures = Vec::new();
    let mut checked = 0;
    for dialect in BACKENDS {
        for case in &suite.cases {
            let scenario = &case.scenario;
            let db = TestDb::new(dialect).await;
            let pool = db.pool_with_tables(&scenario.schema).await;
            let store = conformance_store(&db).await;
            let head = scenario.events.len() as u64;
            for event in &scenario.events {
                store
                    .dispatch(event.clone())
                    .await
                    .expect("a read scenario's events apply");
            }
            let readers = Readers::new(store.clone(), scenario.schema.clone());
            for (index, read) in scenario.reads.iter().enumerate() {
                let expected = read.expected();
                let mut check = |path: &str, got: Answer, expected: &Answer| {
                    checked += 1;
                    if &got != expected {
                        failures.push(format!(
                            "{dialect:?} {} read #{index} by {path}: {}\n  expected {expected:?}\n  got      {got:?}",
                            case.name,
                            serde_json::to_string(read).unwrap_or_default()
                        ));
                    }
                };
                let point = read.point(head);
                if point == head
                    && let Some(got) = readers.live(read).await
                {
                    check("the live store", got, &expected);
                }
                if let Some(got) = readers.as_of(read, point).await {
                    check("as_of", got, &expected);
                }
                let http = http_expected(read, &expected);
                for as_of in http_points(read, point, head) {
                    if let Some(got) = readers.http(read, as_of).await {
                        let path = format!("HTTP (as_of {as_of:?})");
                        check(&path, got, &http);
                    }
                }
            }
            drop(readers);
            drop(store);
            pool.close().await;
            db.drop_db().await;
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 500, "only {checked} answers checked");
}

/// The `as_of` parameters an HTTP read is made with: none (live) at the
/// head, and the point itself — unless the read names its own `as_of`.
fn http_points(read: &Read, point: u64, head: u64) -> Vec<Option<u64>> {
    if read.http.as_deref().is_some_and(|q| q.contains("as_of=")) {
        return vec![None];
    }
    let mut points = vec![Some(point)];
    if point == head {
        points.push(None);
    }
    points
}

/// The row whose key is "" over HTTP: fetched, its history read and, once
/// destroyed, restored, through the routes whose `{id}` segment is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_empty_key_is_reachable_over_http() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use flux_capacitor::testing::conformance;
    use flux_capacitor::{Event, aggregate_reducers, boxed, restore};
    use flux_capacitor_server::Store;
    use flux_capacitor_server::http::{HttpConfig, app};
    use flux_capacitor_server::testing::{for_each_backend, test_config};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    for_each_backend(|db| async move {
        let schema =
            serde_json::from_value(json!({ "items": { "fields": { "id": "text", "label": "text" } } })).unwrap();
        db.create_tables(&db.pool().await, &schema).await;
        let reducer = aggregate_reducers([boxed(restore()), boxed(conformance::reducer())]);
        let store = Store::builder(reducer)
            .config(test_config())
            .open(db.pool().await)
            .await
            .unwrap();
        let apply = |ops: Value| Event::new("conformance/apply", json!({ "ops": ops }));
        store
            .dispatch(apply(json!([
                { "op": "create", "collection": "items", "row": { "id": "", "label": "empty" } },
                { "op": "create", "collection": "items", "row": { "id": "x", "label": "x" } }
            ])))
            .await
            .unwrap();
        let router = app(store.clone(), HttpConfig::default());
        let call = |method: &'static str, uri: &'static str| {
            let router = router.clone();
            async move {
                // POSTs (restore) say JSON, as the service requires of every POST.
                let request = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("content-type", "application/json")
                    .body(Body::empty())
                    .unwrap();
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }
        };
        assert_eq!(
            call("GET", "/collections/items/").await,
            (StatusCode::OK, json!({ "id": "", "label": "empty" }))
        );
        assert_eq!(call("GET", "/collections/items/x").await.1["label"], "x");
        store
            .dispatch(apply(
                json!([{ "op": "destroy_by_id", "collection": "items", "id": "" }]),
            ))
            .await
            .unwrap();
        let (status, body) = call("GET", "/collections/items/").await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("not_found"))
        );
        let (status, history) = call("GET", "/collections/items//history").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
        let (status, restored) = call("POST", "/collections/items//restore").await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(store.find_by_id("items", "").await.unwrap().unwrap()["label"], "empty");
        assert_eq!(call("GET", "/collections/items/").await.0, StatusCode::OK);
    })
    .await;
}

/// Live reads, `as_of` (replay alone and from a snapshot) and HTTP give the
/// same JSON for the same `real` values, whatever form they were written in
/// (which forms a `real` column keeps is the value domain's rule; here only
/// the agreement between the readers is checked). A value the store refuses
/// is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_gives_the_same_numbers() {
    use flux_capacitor::Event;
    use flux_capacitor_server::FindOptions;
    use flux_capacitor_server::testing::for_each_backend;
    use serde_json::json;

    for_each_backend(|db| async move {
        let schema: flux_capacitor::Schema =
            serde_json::from_value(json!({ "items": { "fields": { "id": "text", "score": "real" } } })).unwrap();
        db.create_tables(&db.pool().await, &schema).await;
        let store = conformance_store(&db).await;
        let values = [
            json!(3.0),
            json!(3),
            json!(-0.0),
            json!(9007199254740993u64),
            json!(1e17),
            json!(0.1),
            json!(-2.5e-8),
        ];
        let mut kept = 0;
        for (index, value) in values.iter().enumerate() {
            let row = json!({ "id": format!("r{index}"), "score": value });
            let event = Event::new(
                "conformance/apply",
                json!({ "ops": [{ "op": "create", "collection": "items", "row": row }] }),
            );
            kept += usize::from(store.dispatch(event).await.is_ok());
        }
        assert!(kept >= 4, "the store keeps most of these reals");
        let live = store.find_all("items", FindOptions::all()).await.unwrap();
        assert_eq!(live.len(), kept);
        let replayed = store.as_of(store.head()).await.unwrap();
        assert_eq!(replayed.find_all("items", &FindOptions::all()).await.unwrap(), live);
        for row in &live {
            let id = row["id"].as_str().unwrap();
            assert_eq!(replayed.find_by_id("items", id).await.unwrap().as_ref(), Some(row));
        }
        let readers = support::Readers::new(store.clone(), schema);
        let read: Read = serde_json::from_value(json!({ "collection": "items", "find_all": {}, "rows": [] })).unwrap();
        for as_of in [None, Some(store.head())] {
            assert_eq!(
                readers.http(&read, as_of).await,
                Some(Answer::Rows(live.clone())),
                "as_of {as_of:?}"
            );
        }
    })
    .await;
}
