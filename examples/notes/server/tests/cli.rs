//! The `notes` binary's commands on a real SQLite file: events, as-of,
//! history, restore and replay.

use std::process::Command;

use flux_capacitor_server::testing::TestDb;
use flux_capacitor_server::{Context, Dialect};
use serde_json::{Value, json};

fn notes(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_notes"))
        .args(["--database", url])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run notes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[tokio::test]
async fn the_cli_travels_in_time_restores_and_replays() {
    let db = TestDb::new(Dialect::Sqlite).await;
    let url = db.url.clone();
    {
        let store = notes_server::open(&url).await.unwrap();
        let (mary, tony) = (Context::user("Mary"), Context::user("Tony"));
        store
            .command("addNote", json!({ "id": "n1", "title": "One", "text": "" }), &mary)
            .await
            .unwrap();
        store
            .command("addNote", json!({ "id": "n2", "title": "Two", "text": "x" }), &mary)
            .await
            .unwrap();
        store
            .command("editNoteTitle", json!({ "id": "n2", "title": "Deux" }), &tony)
            .await
            .unwrap();
        store.command("removeNote", json!({ "id": "n2" }), &tony).await.unwrap();
    }

    let (ok, out, err) = notes(&url, &["events", "--after", "2", "--type", "removeNote"]);
    assert!(ok, "{err}");
    let events = lines(&out);
    assert_eq!((events.len(), &events[0]["seq"]), (1, &json!(4)));

    let (ok, out, err) = notes(&url, &["as-of", "3", "notes"]);
    assert!(ok, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        rows.iter().map(|r| r["title"].clone()).collect::<Vec<_>>(),
        [json!("One"), json!("Deux")]
    );
    assert!(err.contains("as of seq 3"), "{err}");

    let (ok, out, err) = notes(&url, &["history", "notes", "n2"]);
    assert!(ok, "{err}");
    let who: Vec<Value> = lines(&out).iter().map(|c| c["event"]["meta"]["user"].clone()).collect();
    assert_eq!(who, [json!("Mary"), json!("Tony"), json!("Tony")]);

    let (ok, out, err) = notes(&url, &["restore", "notes", "n2", "--user", "George"]);
    assert!(ok, "{err}");
    let restore = &lines(&out)[0];
    assert_eq!(
        (&restore["type"], &restore["payload"]["row"]["title"]),
        (&json!("flux/restore"), &json!("Deux"))
    );
    let (ok, _, err) = notes(&url, &["restore", "notes", "n2"]);
    assert!(!ok && err.contains("it exists"), "{err}");

    // Replay into a new table made by a "new migration", then switch.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TABLE notes_next (id TEXT NOT NULL PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
         author TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (ok, _, err) = notes(&url, &["replay", "--table", "notes=notes_next"]);
    assert!(
        ok && err.contains("replayed 5 events") && err.contains("notes_before_5"),
        "{err}"
    );
    let titles: Vec<(String,)> = sqlx::query_as("SELECT title FROM notes ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(titles, [("One".to_owned(),), ("Deux".to_owned(),)]);
    let (ok, _, err) = notes(&url, &["replay", "--table", "notes"]);
    assert!(!ok && err.contains("COLLECTION=TABLE"), "{err}");
}

#[tokio::test]
async fn events_follow_prints_new_events_as_they_commit() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::new(Dialect::Sqlite).await;
    let url = db.url.clone();
    let store = notes_server::open(&url).await.unwrap();
    let mary = Context::user("Mary");
    store
        .command("addNote", json!({ "id": "n1", "title": "Before", "text": "" }), &mary)
        .await
        .unwrap();
    let mut follower = Command::new(env!("CARGO_BIN_EXE_notes"))
        .args(["--database", &url, "events", "--follow", "--type", "addNote"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["payload"]["title"], "Before");
    // Committed by this process; the follower (another process) polls the log.
    store.command("removeNote", json!({ "id": "n1" }), &mary).await.unwrap();
    store
        .command("addNote", json!({ "id": "n2", "title": "After", "text": "" }), &mary)
        .await
        .unwrap();
    let next = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let next: Value = serde_json::from_str(&next).unwrap();
    assert_eq!(
        (next["seq"].clone(), next["payload"]["title"].clone()),
        (json!(3), json!("After"))
    );
    follower.kill().unwrap();
    follower.wait().unwrap();
}
