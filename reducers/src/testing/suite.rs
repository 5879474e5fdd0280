//! Loading scenario files and checking them against their snapshots.

use std::format;
use std::fs;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use super::{Scenario, Snapshot};

/// One scenario file and its expected snapshot.
#[derive(Debug, Clone)]
pub struct ScenarioCase {
    /// The file stem, e.g. `create-basic`.
    pub name: String,
    /// The scenario.
    pub scenario: Scenario,
    /// The expected outcome, if the snapshot file exists.
    pub expected: Option<Snapshot>,
    /// Where the snapshot lives (or will be written).
    pub snapshot_path: PathBuf,
}

/// The scenario files of a directory (`<dir>/scenarios/*.json`) with their
/// snapshots (`<dir>/snapshots/*.json`).
#[derive(Debug, Clone)]
pub struct ScenarioSuite {
    /// The cases, sorted by name.
    pub cases: Vec<ScenarioCase>,
}

impl ScenarioSuite {
    /// Loads every scenario under `dir/scenarios` and its snapshot under
    /// `dir/snapshots`. Panics with the file name on unreadable or malformed
    /// files: this is test support.
    pub fn load(dir: impl AsRef<Path>) -> ScenarioSuite {
        let dir = dir.as_ref();
        let mut cases: Vec<ScenarioCase> = fs::read_dir(dir.join("scenarios"))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join("scenarios").display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| {
                let name = path.file_stem().expect("file stem").to_string_lossy().to_string();
                let scenario: Scenario = read_json(&path);
                let snapshot_path = dir.join("snapshots").join(format!("{name}.json"));
                let expected = snapshot_path.exists().then(|| read_json(&snapshot_path));
                ScenarioCase {
                    name,
                    scenario,
                    expected,
                    snapshot_path,
                }
            })
            .collect();
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        ScenarioSuite { cases }
    }

    /// Compares `actual(case)` with every case's snapshot and returns one
    /// message per mismatch (with both sides, pretty-printed). With the
    /// environment variable `UPDATE_SNAPSHOTS=1`, missing or different
    /// snapshots are (re)written instead.
    pub fn check(&self, mut actual: impl FnMut(&ScenarioCase) -> Snapshot) -> Vec<String> {
        let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
        let mut failures = Vec::new();
        for case in &self.cases {
            let got = actual(case);
            if case.expected.as_ref() == Some(&got) {
                continue;
            }
            if update {
                let text = to_pretty(&got);
                fs::write(&case.snapshot_path, text + "\n").expect("write snapshot");
                continue;
            }
            failures.push(match &case.expected {
                None => format!(
                    "{}: no snapshot at {} (run with UPDATE_SNAPSHOTS=1)",
                    case.name,
                    case.snapshot_path.display()
                ),
                Some(expected) => format!(
                    "{}: {}\n--- expected\n{}\n+++ actual\n{}",
                    case.name,
                    case.scenario.description,
                    to_pretty(expected),
                    to_pretty(&got)
                ),
            });
        }
        failures
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn to_pretty(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).expect("snapshot serializes")
}
