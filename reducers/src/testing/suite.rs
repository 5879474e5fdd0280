//! Loading scenario files and checking them against their snapshots.

use std::fmt::Display;
use std::format;
use std::fs;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use super::diff::unified_diff;
use super::{Scenario, Snapshot, run_scenario};
use crate::Reducer;

/// The environment variable that makes a check record snapshots instead of
/// failing on them: `UPDATE_SNAPSHOTS=1`.
pub const UPDATE_SNAPSHOTS: &str = "UPDATE_SNAPSHOTS";

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
    /// The directory holding `scenarios/` and `snapshots/`.
    pub dir: PathBuf,
    /// The cases, sorted by name.
    pub cases: Vec<ScenarioCase>,
    /// Record snapshots instead of failing on them: set by [`ScenarioSuite::load`]
    /// from `UPDATE_SNAPSHOTS=1`.
    pub update: bool,
}

impl ScenarioSuite {
    /// Loads every scenario under `dir/scenarios` and its snapshot under
    /// `dir/snapshots` (a relative `dir` is relative to the working
    /// directory: the crate's own directory under `cargo test`). Panics with
    /// the file name on unreadable or malformed files: this is test support.
    pub fn load(dir: impl AsRef<Path>) -> ScenarioSuite {
        let dir = dir.as_ref();
        let scenarios = dir.join("scenarios");
        let mut cases: Vec<ScenarioCase> = fs::read_dir(&scenarios)
            .unwrap_or_else(|e| panic!("cannot read the scenarios in {}: {e}", scenarios.display()))
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
        ScenarioSuite {
            dir: dir.to_path_buf(),
            cases,
            update: std::env::var(UPDATE_SNAPSHOTS).is_ok_and(|v| v == "1"),
        }
    }

    /// Runs every scenario through `reducer` over a
    /// [`MemoryDatabase`](crate::MemoryDatabase) ([`run_scenario`]) and
    /// checks it: see [`ScenarioSuite::check_with`].
    pub fn check(&self, reducer: &(impl Reducer + ?Sized)) {
        self.check_with(|case| run_scenario(reducer, &case.scenario));
    }

    /// Checks every case against what `actual` gives for it (the SQL and JS
    /// runners compute it elsewhere) and panics with one report for all the
    /// failures: each with a unified diff of the snapshot, the events whose
    /// `expect` did not hold, or — for a scenario without a snapshot yet —
    /// the snapshot it would record. With `UPDATE_SNAPSHOTS=1` snapshots
    /// are recorded instead (a case whose `expect`s fail is not).
    pub fn check_with<E: Display>(&self, actual: impl FnMut(&ScenarioCase) -> Result<Snapshot, E>) {
        let failures = self.failures(actual);
        if !failures.is_empty() {
            panic!(
                "{} of {} scenario(s) in {} failed ({UPDATE_SNAPSHOTS}=1 records the snapshots):\n\n{}",
                failures.len(),
                self.cases.len(),
                self.dir.display(),
                failures.join("\n\n")
            );
        }
    }

    /// What [`ScenarioSuite::check_with`] would report, one message per
    /// failed case, without panicking (records snapshots alike).
    pub fn failures<E: Display>(&self, mut actual: impl FnMut(&ScenarioCase) -> Result<Snapshot, E>) -> Vec<String> {
        let mut failures = Vec::new();
        for case in &self.cases {
            let title = format!("scenario `{}` ({})", case.name, case.scenario.description);
            let got = match actual(case) {
                Ok(got) => got,
                Err(err) => {
                    failures.push(format!("{title}: {err}"));
                    continue;
                }
            };
            let unmet = case.scenario.unmet_expectations(&got.results);
            if !unmet.is_empty() {
                failures.push(format!("{title}: {}", unmet.join("; ")));
                continue;
            }
            if case.expected.as_ref() == Some(&got) {
                continue;
            }
            if self.update {
                record(&case.snapshot_path, &got);
                continue;
            }
            let path = case.snapshot_path.display();
            failures.push(match &case.expected {
                None => format!(
                    "{title}: no snapshot yet; {UPDATE_SNAPSHOTS}=1 records this one at {path}:\n{}",
                    to_pretty(&got)
                ),
                Some(expected) => format!(
                    "{title}: {path} differs\n{}",
                    unified_diff(&to_pretty(expected), &to_pretty(&got))
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

/// The snapshot file's text: pretty JSON, keys sorted, two-space indent.
fn to_pretty(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).expect("snapshot serializes") + "\n"
}

fn record(path: &Path, snapshot: &Snapshot) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    fs::write(path, to_pretty(snapshot)).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    std::eprintln!("recorded {}", path.display());
}
