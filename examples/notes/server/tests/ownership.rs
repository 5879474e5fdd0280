//! The notes app's ownership rule ([`notes_server::NotesAccess`]) through the
//! HTTP service, on SQLite, PostgreSQL and MariaDB: everyone reads every
//! note; only its author edits, removes and restores it; a refusal is 403
//! `forbidden` and writes nothing.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flux_capacitor_server::testing::for_each_backend;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// `POST`s `body` (if any) as `user`, `Content-Type: application/json`;
/// answers the status and the JSON body.
async fn post(router: &Router, uri: &str, user: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {user}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get(router: &Router, uri: &str, user: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {user}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn assert_forbidden(answer: &(StatusCode, Value), message: &str) {
    assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    assert_eq!(
        answer.1,
        json!({ "error": { "code": "forbidden", "message": message } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_edits_removes_and_restores_a_note() {
    for_each_backend(|db| async move {
        // The whole `TestDb` kept to the end (a SQLite file lives in its directory).
        let db = db;
        let store = notes_server::open(&db.url).await.unwrap();
        let router = flux_capacitor_server::http::app(store.clone(), notes_server::http_config(notes_server::WEB_DIR));
        let dispatch = |command: &str, user: &'static str, payload: Value| {
            let uri = format!("/dispatch/{command}");
            let router = router.clone();
            async move { post(&router, &uri, user, Some(payload)).await }
        };
        let (status, _) = dispatch("addNote", "Mary", json!({ "id": "n1", "title": "Mine", "text": "a" })).await;
        assert_eq!(status, StatusCode::OK);
        let original = store.find_by_id("notes", "n1").await.unwrap().unwrap();
        assert_eq!(original["author"], "Mary");

        // Everyone reads it.
        for user in ["George", "Tony", "Mary"] {
            assert_eq!(
                get(&router, "/collections/notes/n1", user).await.1,
                Value::Object(original.clone())
            );
        }

        // Nobody else changes it: 403, nothing written.
        let head = store.head();
        for (command, payload, action) in [
            ("editNoteTitle", json!({ "id": "n1", "title": "George's" }), "edit"),
            ("editNoteText", json!({ "id": "n1", "text": "b" }), "edit"),
            ("removeNote", json!({ "id": "n1" }), "remove"),
        ] {
            for user in ["George", "Tony"] {
                assert_forbidden(
                    &dispatch(command, user, payload.clone()).await,
                    &format!("only its author, Mary, may {action} note `n1`"),
                );
            }
        }
        assert_eq!(store.head(), head, "nothing logged");
        assert_eq!(store.find_by_id("notes", "n1").await.unwrap().unwrap(), original);

        // A note that does not exist is the command's refusal (422), whoever asks.
        let missing = dispatch("editNoteTitle", "George", json!({ "id": "zz", "title": "?" })).await;
        assert_eq!(missing.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.1);

        // George's own note is his to change.
        assert_eq!(
            dispatch("addNote", "George", json!({ "id": "g1", "title": "His" }))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            dispatch("editNoteTitle", "George", json!({ "id": "g1", "title": "Still his" }))
                .await
                .0,
            StatusCode::OK
        );
        assert_forbidden(
            &dispatch("removeNote", "Mary", json!({ "id": "g1" })).await,
            "only its author, George, may remove note `g1`",
        );

        // The author edits and removes hers.
        let (status, edited) = dispatch("editNoteTitle", "Mary", json!({ "id": "n1", "title": "Still mine" })).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!(edited[0]["meta"]["user"], "Mary");
        assert_eq!(
            dispatch("removeNote", "Mary", json!({ "id": "n1" })).await.0,
            StatusCode::OK
        );
        assert_eq!(store.find_by_id("notes", "n1").await.unwrap(), None);

        // Restoring it is hers too.
        let head = store.head();
        assert_forbidden(
            &post(&router, "/collections/notes/n1/restore", "George", None).await,
            "only its author, Mary, may restore note `n1`",
        );
        assert_eq!(store.head(), head, "nothing logged");
        assert_eq!(store.find_by_id("notes", "n1").await.unwrap(), None);
        let (status, restored) = post(&router, "/collections/notes/n1/restore", "Mary", Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(
            (restored["type"].clone(), restored["meta"]["user"].clone()),
            (json!("flux/restore"), json!("Mary"))
        );
        let back = store.find_by_id("notes", "n1").await.unwrap().unwrap();
        assert_eq!(
            (back["title"].clone(), back["author"].clone()),
            (json!("Still mine"), json!("Mary"))
        );
        let types: Vec<_> = store
            .events(Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event_type.clone(), e.meta.as_ref().unwrap()["user"].clone()))
            .collect();
        assert_eq!(
            types,
            [
                ("addNote".to_owned(), json!("Mary")),
                ("addNote".to_owned(), json!("George")),
                ("editNoteTitle".to_owned(), json!("George")),
                ("editNoteTitle".to_owned(), json!("Mary")),
                ("removeNote".to_owned(), json!("Mary")),
                ("flux/restore".to_owned(), json!("Mary")),
            ]
        );
    })
    .await;
}
