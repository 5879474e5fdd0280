//! `SqlScenarios` itself, on scenario files written for each test: the
//! initial state written into the tables, expected outcomes, and a failure
//! that names the database and shows the snapshot's diff.

use std::fs;
use std::path::PathBuf;

use flux_capacitor::testing::{ScenarioSuite, conformance};
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::{BACKENDS, ScenarioError, SqlScenarios, TestDb};
use futures::FutureExt;
use serde_json::{Value, json};

fn suite_dir(test: &str, scenario: Value, snapshot: Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flux-sql-scenarios-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("scenarios")).unwrap();
    fs::create_dir_all(dir.join("snapshots")).unwrap();
    fs::write(dir.join("scenarios/rename.json"), scenario.to_string()).unwrap();
    fs::write(dir.join("snapshots/rename.json"), snapshot.to_string()).unwrap();
    dir
}

/// Starts from an issue and a user keyed by `handle` (its schema says so).
fn rename_scenario() -> Value {
    json!({
        "description": "renaming an issue of the initial state; a rename without a title is refused",
        "schema": {
            "issues": { "fields": { "author": "text", "closed": "boolean", "id": "text", "priority": "integer", "title": "text" } },
            "users": { "key": "handle", "fields": { "handle": "text", "name": "text" } }
        },
        "initial": {
            "issues": [ { "id": "1", "title": "Leak", "author": "mary", "closed": false, "priority": 2 } ],
            "users": [ { "handle": "mary", "name": "Mary" } ]
        },
        "events": [
            { "type": "renameIssue", "payload": { "id": "1", "title": "Big leak" }, "expect": "ok" },
            { "type": "renameIssue", "payload": { "id": "1" }, "expect": "invalid_payload" },
            { "type": "addUser", "payload": { "handle": "mary", "name": "Mary again" }, "expect": "duplicate_key" }
        ]
    })
}

fn rename_snapshot(title: &str) -> Value {
    json!({
        "results": ["ok", "invalid_payload", "duplicate_key"],
        "state": {
            "issues": [ { "author": "mary", "closed": false, "id": "1", "priority": 2, "title": title } ],
            "users": [ { "handle": "mary", "name": "Mary" } ]
        }
    })
}

#[tokio::test]
async fn the_initial_state_and_the_events_give_the_snapshot_on_every_backend() {
    let dir = suite_dir("pass", rename_scenario(), rename_snapshot("Big leak"));
    let suite = ScenarioSuite::load(&dir);
    // The in-memory reference agrees with the snapshot first.
    suite.check(&conformance::reducer());
    let runner = SqlScenarios::new(conformance::reducer);
    for dialect in BACKENDS {
        runner.check_on(&suite, dialect).await;
    }
    fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_differing_table_fails_naming_the_database_with_a_diff() {
    let dir = suite_dir("diff", rename_scenario(), rename_snapshot("Small leak"));
    let suite = ScenarioSuite::load(&dir);
    let panic = std::panic::AssertUnwindSafe(SqlScenarios::new(conformance::reducer).check_on(&suite, Dialect::Sqlite))
        .catch_unwind()
        .await
        .expect_err("the check fails");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.starts_with("1 of 1 scenario(s) in "), "{message}");
    assert!(message.contains("failed on Sqlite"), "{message}");
    assert!(
        message.contains("\n-        \"title\": \"Small leak\"\n+        \"title\": \"Big leak\"\n"),
        "{message}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_initial_state_the_tables_refuse_is_reported() {
    let mut scenario = rename_scenario();
    scenario["initial"]["issues"][0]["priority"] = json!("high");
    let dir = suite_dir("initial", scenario, rename_snapshot("Big leak"));
    let suite = ScenarioSuite::load(&dir);
    let db = TestDb::new(Dialect::Sqlite).await;
    let err = SqlScenarios::new(conformance::reducer)
        .run_on(&suite.cases[0], &db)
        .await
        .expect_err("a text priority does not fit an integer column");
    assert!(
        matches!(&err, ScenarioError::InitialState(e) if e.kind() == "type_mismatch"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("the initial state: collection `issues`"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}
