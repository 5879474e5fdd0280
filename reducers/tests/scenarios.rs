//! The shared conformance suite (`tests/` at the repository root) through the
//! reference `MemoryDatabase`, and the runner's own behaviour on scenarios
//! written for the occasion. Record snapshots with `UPDATE_SNAPSHOTS=1`.

use flux_capacitor::testing::{ScenarioSuite, conformance};

fn conformance_suite() -> ScenarioSuite {
    ScenarioSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests"))
}

#[test]
fn conformance_scenarios_match_their_snapshots() {
    let suite = conformance_suite();
    assert!(
        suite.cases.len() >= 25,
        "expected at least 25 scenarios, found {}",
        suite.cases.len()
    );
    suite.check(&conformance::reducer());
}

#[test]
fn every_operation_and_error_kind_is_covered_by_a_scenario() {
    let suite = conformance_suite();
    let all = serde_json::to_string(&suite.cases.iter().map(|c| &c.scenario).collect::<Vec<_>>()).unwrap();
    for op in [
        "create",
        "update_by_id",
        "destroy_by_id",
        "update_where",
        "destroy_where",
    ] {
        assert!(all.contains(&format!(r#""op":"{op}""#)), "no scenario uses {op}");
    }
    for op in [
        "eq", "ne", "lt", "lte", "gt", "gte", "in", "is_null", "and", "or", "not",
    ] {
        assert!(all.contains(&format!(r#""op":"{op}""#)), "no scenario uses filter {op}");
    }
    let outcomes: Vec<&str> = suite
        .cases
        .iter()
        .flat_map(|c| c.expected.iter().flat_map(|e| e.results.iter().map(String::as_str)))
        .collect();
    for kind in [
        "duplicate_key",
        "missing_key",
        "key_change",
        "unknown_collection",
        "unknown_field",
        "type_mismatch",
        "key_field_mismatch",
        "invalid_filter",
        "invalid_payload",
        "rejected",
    ] {
        assert!(outcomes.contains(&kind), "no scenario expects {kind}");
    }
}
