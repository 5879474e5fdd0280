//! Filter semantics: two-valued, typed comparisons, missing fields.

use flux_capacitor::{Filter, Row};
use serde_json::{Value, json};

fn row(value: Value) -> Row {
    value.as_object().unwrap().clone()
}

#[test]
fn comparisons_on_numbers_strings_and_booleans() {
    let r = row(json!({ "n": 5, "x": 1.5, "s": "b", "t": true }));
    assert!(Filter::eq("n", 5).matches(&r));
    assert!(Filter::eq("n", 5.0).matches(&r));
    assert!(Filter::gt("n", 4.5).matches(&r));
    assert!(Filter::lte("x", 1.5).matches(&r) && !Filter::lt("x", 1.5).matches(&r));
    assert!(Filter::gte("s", "b").matches(&r) && Filter::lt("s", "c").matches(&r));
    assert!(Filter::gt("s", "B").matches(&r), "binary collation: 'B' < 'b'");
    assert!(!Filter::eq("s", "B").matches(&r), "case-sensitive");
    assert!(Filter::gt("t", false).matches(&r) && Filter::eq("t", true).matches(&r));
}

#[test]
fn different_types_never_match() {
    let r = row(json!({ "n": 5, "s": "5", "arr": [5], "obj": { "n": 5 } }));
    for filter in [
        Filter::eq("n", "5"),
        Filter::eq("s", 5),
        Filter::lt("n", "9"),
        Filter::gt("s", 0),
        Filter::eq("arr", 5),
        Filter::eq("obj", 5),
        Filter::eq("n", true),
    ] {
        assert!(!filter.matches(&r), "{filter:?}");
    }
    assert!(Filter::ne("n", "5").matches(&r));
}

#[test]
fn missing_and_null_fields() {
    let r = row(json!({ "present": 1, "nul": null }));
    for field in ["missing", "nul"] {
        assert!(!Filter::eq(field, 1).matches(&r));
        assert!(!Filter::lt(field, 1).matches(&r));
        assert!(!Filter::gte(field, 1).matches(&r));
        assert!(!Filter::is_in(field, [1]).matches(&r));
        assert!(
            Filter::ne(field, 1).matches(&r),
            "ne is not(eq): true on a missing field"
        );
        assert!(Filter::is_null(field).matches(&r));
    }
    assert!(!Filter::is_null("present").matches(&r));
}

#[test]
fn boolean_combinators_and_their_empty_cases() {
    let r = row(json!({ "a": 1, "b": 2 }));
    assert!(Filter::and([]).matches(&r));
    assert!(!Filter::or([]).matches(&r));
    assert!(!Filter::is_in("a", Vec::<i64>::new()).matches(&r));
    assert!(Filter::and([Filter::eq("a", 1), Filter::eq("b", 2)]).matches(&r));
    assert!(!Filter::and([Filter::eq("a", 1), Filter::eq("b", 3)]).matches(&r));
    assert!(Filter::or([Filter::eq("a", 0), Filter::eq("b", 2)]).matches(&r));
    assert!(Filter::not(Filter::eq("a", 0)).matches(&r));
}

#[test]
fn only_scalars_may_be_compared() {
    for filter in [
        Filter::eq("a", Value::Null),
        Filter::lt("a", json!([1])),
        Filter::is_in("a", [json!({})]),
        Filter::not(Filter::and([Filter::gt("a", Value::Null)])),
    ] {
        let err = filter.validate().unwrap_err();
        assert_eq!(err.kind(), "invalid_filter");
        assert!(err.to_string().contains("`a`"), "{err}");
    }
    Filter::and([Filter::eq("a", 1), Filter::is_null("b")])
        .validate()
        .unwrap();
}

#[test]
fn filters_have_a_readable_wire_form() {
    let f = Filter::or([Filter::is_in("id", [1, 2]), Filter::not(Filter::is_null("t"))]);
    let wire = json!({ "op": "or", "filters": [
        { "op": "in", "field": "id", "values": [1, 2] },
        { "op": "not", "filter": { "op": "is_null", "field": "t" } }
    ] });
    assert_eq!(serde_json::to_value(&f).unwrap(), wire);
    assert_eq!(serde_json::from_value::<Filter>(wire).unwrap(), f);
    assert_eq!(f.fields(), ["id", "t"]);
}
