//! The scenarios (`../scenarios` → `../snapshots`) through the reducers over
//! `MemoryDatabase`. Record snapshots with `UPDATE_SNAPSHOTS=1 cargo test`.

use flux_capacitor::testing::ScenarioSuite;

#[test]
fn scenarios_match_their_snapshots() {
    let suite = ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    assert!(!suite.cases.is_empty(), "no scenarios in ../scenarios");
    suite.check(&{{crate}}_reducers::root());
}
