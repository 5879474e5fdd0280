//! The notes scenarios (`examples/notes/scenarios` → `examples/notes/snapshots`)
//! through the notes reducers over `MemoryDatabase`. The JS runner
//! (`js/test/notes-scenarios.test.js`, the wasm package) and the SQL runner
//! (`examples/notes/server/tests/scenarios.rs`, the migrations) check the
//! very same files. Record snapshots with `UPDATE_SNAPSHOTS=1`.

use flux_capacitor::testing::ScenarioSuite;

#[test]
fn notes_scenarios_match_their_snapshots() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    assert!(suite.cases.len() >= 5, "the notes scenarios are there");
    suite.check(&notes_reducers::root());
}
