//! The scenario runner itself: initial state, expected outcomes, the diff of
//! a failed snapshot, a scenario without a snapshot, and recording — on
//! scenario files written for each test into a directory of its own.

use std::fs;
use std::path::{Path, PathBuf};

use flux_capacitor::testing::{ScenarioSuite, conformance, run_scenario};
use serde_json::{Value, json};

/// A fresh directory holding `scenarios/<name>.json` (and the snapshot, if given).
fn suite_dir(test: &str, name: &str, scenario: Value, snapshot: Option<Value>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flux-scenario-runner-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("scenarios")).unwrap();
    fs::write(dir.join(format!("scenarios/{name}.json")), scenario.to_string()).unwrap();
    if let Some(snapshot) = snapshot {
        fs::create_dir_all(dir.join("snapshots")).unwrap();
        fs::write(dir.join(format!("snapshots/{name}.json")), snapshot.to_string()).unwrap();
    }
    dir
}

fn rename_scenario() -> Value {
    json!({
        "description": "renaming an issue of the initial state; a rename without a title is refused",
        "initial": { "issues": [ { "id": "1", "title": "Leak", "author": "mary", "closed": false } ] },
        "events": [
            { "type": "renameIssue", "payload": { "id": "1", "title": "Big leak" }, "expect": "ok" },
            { "type": "renameIssue", "payload": { "id": "1" }, "expect": "invalid_payload" }
        ]
    })
}

fn rename_snapshot(title: &str) -> Value {
    json!({
        "results": ["ok", "invalid_payload"],
        "state": { "issues": [ { "author": "mary", "closed": false, "id": "1", "title": title } ] }
    })
}

fn failures(dir: &Path) -> Vec<String> {
    let reducer = conformance::reducer();
    ScenarioSuite::load(dir).failures(|case| run_scenario(&reducer, &case.scenario))
}

#[test]
fn a_scenario_starts_from_its_initial_state_and_meets_its_expectations() {
    let dir = suite_dir("pass", "rename", rename_scenario(), Some(rename_snapshot("Big leak")));
    ScenarioSuite::load(&dir).check(&conformance::reducer());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_different_state_fails_with_a_unified_diff_of_the_snapshot() {
    let dir = suite_dir("diff", "rename", rename_scenario(), Some(rename_snapshot("Small leak")));
    let failures = failures(&dir);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let report = &failures[0];
    assert!(report.starts_with("scenario `rename` (renaming an issue"), "{report}");
    assert!(report.contains("--- expected\n+++ actual\n@@"), "{report}");
    assert!(report.contains("\n-        \"title\": \"Small leak\"\n"), "{report}");
    assert!(report.contains("\n+        \"title\": \"Big leak\"\n"), "{report}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
#[should_panic(expected = "1 of 1 scenario(s)")]
fn check_panics_with_the_report() {
    let dir = suite_dir(
        "panic",
        "rename",
        rename_scenario(),
        Some(rename_snapshot("Small leak")),
    );
    ScenarioSuite::load(&dir).check(&conformance::reducer());
}

#[test]
fn a_new_scenario_fails_showing_its_snapshot_and_is_recorded_on_request() {
    let dir = suite_dir("record", "rename", rename_scenario(), None);
    let failures = failures(&dir);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("no snapshot yet; UPDATE_SNAPSHOTS=1 records this one at"),
        "{}",
        failures[0]
    );
    assert!(failures[0].contains("\"title\": \"Big leak\""), "{}", failures[0]);
    assert!(!dir.join("snapshots/rename.json").exists());

    let mut suite = ScenarioSuite::load(&dir);
    suite.update = true;
    suite.check(&conformance::reducer());
    let recorded = fs::read_to_string(dir.join("snapshots/rename.json")).unwrap();
    assert_eq!(
        recorded,
        serde_json::to_string_pretty(&rename_snapshot("Big leak")).unwrap() + "\n"
    );
    assert!(self::failures(&dir).is_empty());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unmet_expectation_fails_and_is_never_recorded() {
    let mut scenario = rename_scenario();
    scenario["events"][1]["expect"] = json!("ok");
    let dir = suite_dir("expect", "rename", scenario, None);
    let mut suite = ScenarioSuite::load(&dir);
    suite.update = true;
    let reducer = conformance::reducer();
    let failures = suite.failures(|case| run_scenario(&reducer, &case.scenario));
    assert_eq!(
        failures,
        [
            "scenario `rename` (renaming an issue of the initial state; a rename without a title is refused): \
          event 2 (`renameIssue`): expected `ok`, got `invalid_payload`"
        ]
    );
    assert!(!dir.join("snapshots/rename.json").exists());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_initial_state_the_schema_refuses_names_the_error() {
    let mut scenario = rename_scenario();
    scenario["schema"] = json!({ "issues": { "fields": { "id": "text", "title": "text" } } });
    let dir = suite_dir("initial", "rename", scenario, None);
    let failures = failures(&dir);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].ends_with("collection `issues`: unknown field `author`"),
        "{}",
        failures[0]
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
#[should_panic(expected = "unknown field `expcet` in an event")]
fn a_misspelt_event_field_is_refused_when_loading() {
    let mut scenario = rename_scenario();
    scenario["events"][0] = json!({ "type": "renameIssue", "payload": {}, "expcet": "ok" });
    ScenarioSuite::load(suite_dir("misspelt", "rename", scenario, None));
}

#[test]
#[should_panic(expected = "unknown field `inital`")]
fn a_misspelt_scenario_field_is_refused_when_loading() {
    let mut scenario = rename_scenario();
    scenario["inital"] = json!({});
    ScenarioSuite::load(suite_dir("misspelt-top", "rename", scenario, None));
}
