//! The notes app's migrations and commands on PostgreSQL and MariaDB (SQLite
//! is covered by the CLI and browser tests), each in a fresh database.

use flux_capacitor_server::{Context, FindOptions, StoreError};
use serde_json::json;
use sqlx::{Connection, Executor};

async fn on_fresh_database(admin: &str, create_suffix: &str, test: impl AsyncFnOnce(String)) {
    let name = format!("notes_test_{}", std::process::id());
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let drop = format!("DROP DATABASE IF EXISTS {name}");
    if admin.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL is up");
        conn.execute(drop.as_str()).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}{create_suffix}").as_str())
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin).await.expect("MariaDB is up");
        conn.execute(drop.as_str()).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}{create_suffix}").as_str())
            .await
            .unwrap();
    }
    test(url).await;
    if admin.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        conn.execute(format!("{drop} WITH (FORCE)").as_str()).await.unwrap();
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin).await.unwrap();
        conn.execute(drop.as_str()).await.unwrap();
    }
}

async fn the_notes_flow(url: String) {
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
    assert_eq!(store.as_of(2).await.unwrap().db.snapshot(), {
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
    let admin =
        std::env::var("DATABASE_URL_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    on_fresh_database(&admin, "", the_notes_flow).await;
}

#[tokio::test]
async fn notes_on_mariadb() {
    let admin = std::env::var("DATABASE_URL_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    on_fresh_database(&admin, " CHARACTER SET utf8mb4", the_notes_flow).await;
}
