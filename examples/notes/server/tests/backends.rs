//! The notes app's migrations and commands on PostgreSQL and MariaDB (SQLite
//! is covered by the CLI and browser tests), each in a fresh database.

use flux_capacitor_server::testing::TestDb;
use flux_capacitor_server::{Context, Dialect, FindOptions, StoreError};
use serde_json::json;

async fn the_notes_flow(db: TestDb) {
    let url = db.url;
    let store = notes_server::open(&url).await.unwrap();
    let (mary, tony) = (Context::user("Mary"), Context::user("Tony"));
    store
        .command("addNote", json!({ "id": "b", "title": "Bee", "text": "" }), &mary)
        .await
        .unwrap();
    store
        .command("addNote", json!({ "id": "a", "title": "Ay", "text": "x" }), &tony)
        .await
        .unwrap();
    store
        .command("editNoteText", json!({ "id": "a", "text": "y" }), &mary)
        .await
        .unwrap();
    let missing = store
        .command("editNoteTitle", json!({ "id": "zz", "title": "?" }), &mary)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::Rejected { .. }), "{missing}");
    store.command("removeNote", json!({ "id": "b" }), &tony).await.unwrap();
    let rows = store.find_all("notes", FindOptions::all()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["author"].clone(), rows[0]["text"].clone()),
        (json!("Tony"), json!("y"))
    );
    store.restore("notes", "b", &mary).await.unwrap();
    let ids: Vec<_> = store
        .find_all("notes", FindOptions::all())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b")]);
    assert_eq!(store.as_of(2).await.unwrap().snapshot().await.unwrap(), {
        let mut live = store.snapshot().await.unwrap();
        live["notes"][0]["text"] = json!("x");
        live["notes"][0]["updated"] = live["notes"][0]["created"].clone();
        live
    });
    // Opening again (a second process, a restart) finds the migrations applied.
    drop(store);
    notes_server::open(&url).await.unwrap();
}

#[tokio::test]
async fn notes_on_postgres() {
    TestDb::new(Dialect::Postgres).await.run(the_notes_flow).await;
}

#[tokio::test]
async fn notes_on_mariadb() {
    // The server's default collation, as in a user's database: the migration
    // sets the collations it needs.
    TestDb::with_options(Dialect::MySql, "CHARACTER SET utf8mb4")
        .await
        .run(the_notes_flow)
        .await;
}
