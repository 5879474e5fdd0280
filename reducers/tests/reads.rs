//! The read suite (`tests/reads` at the repository root) through the
//! reference `MemoryDatabase`: every read's answer, at its point.

use flux_capacitor::testing::conformance;
use flux_capacitor::testing::reads::{ReadSuite, run_read, states};

fn suite() -> ReadSuite {
    ReadSuite::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests"))
}

#[test]
fn read_scenarios_answer_as_written() {
    let suite = suite();
    assert!(suite.cases.len() >= 7, "the read suite has its files");
    let reducer = conformance::reducer();
    let states: Vec<_> = suite
        .cases
        .iter()
        .map(|case| states(&reducer, &case.scenario))
        .collect();
    let mut index = 0;
    let failures = suite.check(|case, read| {
        while suite.cases[index].name != case.name {
            index += 1;
        }
        let states = &states[index];
        let head = states.len() as u64 - 1;
        run_read(&states[read.point(head) as usize], read)
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_read_rule_and_error_kind_has_a_read() {
    let suite = suite();
    let reads: Vec<_> = suite.cases.iter().flat_map(|c| &c.scenario.reads).collect();
    for kind in [
        "unknown_collection",
        "unknown_field",
        "invalid_filter",
        "invalid_order",
        "type_mismatch",
        "invalid_parameter",
        "invalid_point",
    ] {
        assert!(
            reads.iter().any(|r| r.error.as_deref() == Some(kind)),
            "no read expects {kind}"
        );
    }
    let has = |test: &dyn Fn(&flux_capacitor::testing::reads::Read) -> bool| reads.iter().any(|r| test(r));
    assert!(has(&|r| r.at.is_some_and(|at| at > 0)), "a read at a past point");
    assert!(has(&|r| r
        .find_all
        .as_ref()
        .is_some_and(|f| f.order.iter().any(|o| o.starts_with('-')))));
    assert!(has(&|r| r
        .find_all
        .as_ref()
        .is_some_and(|f| f.offset > 0 && f.limit.is_some())));
    assert!(has(&|r| r
        .find_by_id
        .as_ref()
        .is_some_and(|k| *k == flux_capacitor::Key::from(""))));
    for rule in [
        "rank=05",
        "rank=%2B5",
        "flag=1",
        "score=-0",
        "limit=1",
        "order=order",
        "rank=5&rank=50",
    ] {
        assert!(has(&|r| r.http.as_deref() == Some(rule)), "no read of ?{rule}");
    }
}

#[test]
fn a_malformed_read_is_refused_by_the_loader() {
    let text = r#"{ "collection": "c", "find_all": {}, "find_by_id": "a", "rows": [] }"#;
    let read: flux_capacitor::testing::reads::Read = serde_json::from_str(text).unwrap();
    assert!(std::panic::catch_unwind(|| read.expected()).is_err());
}
