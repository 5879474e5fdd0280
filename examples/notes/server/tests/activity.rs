//! The notes app's Activity saga on SQLite, PostgreSQL and MariaDB: another
//! user's edit and removal of Mary's note become `notes/notify` events and
//! rows of `notifications` for her, and so does his restoring it; one's own edits notify nobody; the
//! daily digest's timer is set; `notes sagas list` shows the saga.

use std::process::Command;
use std::time::Duration;

use flux_capacitor_server::testing::sagas::{events_of, wait_until};
use flux_capacitor_server::testing::{TestDb, for_each_backend};
use flux_capacitor_server::{Context, FindOptions};
use serde_json::{Value, json};

async fn notifies_the_author(db: TestDb) {
    let store = notes_server::open(&db.url).await.unwrap();
    let runner = store.run_sagas();
    let (mary, tony) = (Context::user("Mary"), Context::user("Tony"));
    store
        .command("addNote", json!({ "id": "n1", "title": "Mine", "text": "" }), &mary)
        .await
        .unwrap();
    store
        .command("editNoteTitle", json!({ "id": "n1", "title": "Still mine" }), &mary)
        .await
        .unwrap();
    store
        .command("editNoteText", json!({ "id": "n1", "text": "Tony was here" }), &tony)
        .await
        .unwrap();
    store.command("removeNote", json!({ "id": "n1" }), &tony).await.unwrap();
    store.restore("notes", "n1", &tony).await.unwrap();
    let within = Duration::from_secs(20);
    wait_until(within, "three notifications", || async {
        events_of(&store, "notes/notify").await.len() == 3
    })
    .await;
    let rows = store.find_all("notifications", FindOptions::all()).await.unwrap();
    let mut seen: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|r| (r["recipient"].clone(), r["actor"].clone(), r["action"].clone()))
        .collect();
    seen.sort_by_key(|t| t.2.to_string());
    assert_eq!(
        seen,
        [
            (json!("Mary"), json!("Tony"), json!("edited")),
            (json!("Mary"), json!("Tony"), json!("removed")),
            (json!("Mary"), json!("Tony"), json!("restored")),
        ]
    );
    wait_until(within, "the digest timer", || async {
        let sagas = store.sagas().await.unwrap();
        sagas.len() == 1 && sagas[0].timers == 1 && sagas[0].lag == 0
    })
    .await;
    runner.stop().await;

    // The CLI lists it (a command that does not run sagas).
    let out = Command::new(env!("CARGO_BIN_EXE_notes"))
        .args(["--database", &db.url, "sagas", "list"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run notes");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["name"], "activity");
    assert_eq!(line["timers"], 1);
    assert_eq!(line["lag"], 0);
    assert_eq!(line["holder"], Value::Null);
}

#[tokio::test]
async fn the_activity_saga_notifies_authors() {
    for_each_backend(notifies_the_author).await;
}
