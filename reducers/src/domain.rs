//! The portable value domain: the values every applier (this crate's
//! [`MemoryDatabase`](crate::MemoryDatabase), SQLite, PostgreSQL, MariaDB, and
//! JavaScript through wasm) holds exactly, and their one canonical form.
//!
//! # The domain
//!
//! * **Numbers are 64-bit floats**, the numbers JavaScript has. A JSON number
//!   must denote one exactly: an integer literal a double would round (beyond
//!   ±2^53, e.g. `9007199254740993` or `i64::MAX`) is
//!   [`Error::UnsupportedValue`]. Integers stay exact end to end only within
//!   ±(2^53−1) ([`MAX_SAFE_INTEGER`], JavaScript's safe integers): a 64-bit id
//!   beyond that range (a snowflake, a `BIGINT` sequence) belongs in a `text`
//!   field — browsers read JSON numbers as doubles, and Redux state must not
//!   hold `BigInt`s, so no JS state could keep it exact.
//! * **One canonical form per number**: a number whose value is an integer
//!   within ±(2^53−1) *is* that integer (`3.0` is `3`, `-0.0` is `0`); every
//!   other number is a float (`0.5`, `1e20`, `9007199254740992.0`). Appliers
//!   store, compare and return the canonical form, so `3.0` fits an `integer`
//!   field and reads back as `3`.
//! * **Strings hold no NUL** (U+0000), in values, object keys and names:
//!   PostgreSQL's `text` and `jsonb` cannot.
//! * **Arrays and objects nest at most [`MAX_DEPTH`] levels** (MariaDB's
//!   `JSON_VALID` fails at 32, and the store wraps values in a few levels of
//!   its own in snapshots and logged payloads).
//!
//! Events (type, payload, meta) and changesets (names, rows, patches, ids,
//! filter values) are checked before anything is reduced or written, with the
//! same error on every applier.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;

use serde_json::{Map, Number, Value};

use crate::{Changeset, Error, Event, Filter, Key, Operation};

/// The largest integer every applier holds exactly: `2^53 − 1`
/// (JavaScript's `Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// How deep arrays and objects may nest in one value (`[[1]]` is 2 deep).
pub const MAX_DEPTH: usize = 16;

/// The rules of the domain, as named in [`Error::UnsupportedValue`].
pub mod rule {
    /// An integer literal that a 64-bit float would round.
    pub const INEXACT_NUMBER: &str = "a number must be exactly a 64-bit float: integers beyond ±2^53 would be rounded";
    /// An integer key beyond the safe integers.
    pub const UNSAFE_INTEGER_KEY: &str = "an integer key must be within ±(2^53−1)";
    /// A NUL character.
    pub const NUL: &str = "strings must not contain NUL (U+0000)";
    /// Too deep.
    pub const TOO_DEEP: &str = "arrays and objects must not nest more than 16 levels";
}

/// A number's value: an integer within ±(2^53−1) or any other double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer within ±(2^53−1).
    Int(i64),
    /// Any other finite double.
    Float(f64),
}

impl Num {
    /// The canonical value of `n`, or the rule it breaks.
    pub fn of(n: &Number) -> Result<Num, &'static str> {
        if let Some(i) = n.as_i64() {
            if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
                return Ok(Num::Int(i));
            }
            let f = i as f64;
            return if f as i128 == i128::from(i) {
                Ok(Num::Float(f))
            } else {
                Err(rule::INEXACT_NUMBER)
            };
        }
        if let Some(u) = n.as_u64() {
            let f = u as f64;
            return if f as i128 == i128::from(u) {
                Ok(Num::Float(f))
            } else {
                Err(rule::INEXACT_NUMBER)
            };
        }
        let f = n.as_f64().ok_or(rule::INEXACT_NUMBER)?;
        Ok(Num::from_f64(f))
    }

    /// The canonical value of a finite double.
    pub fn from_f64(f: f64) -> Num {
        // `as i64` truncates; `trunc()` itself is not in `core`.
        if f.abs() <= MAX_SAFE_INTEGER as f64 && f == (f as i64) as f64 {
            Num::Int(f as i64)
        } else {
            Num::Float(f)
        }
    }

    /// As a JSON number (`None` for a non-finite float).
    pub fn to_number(self) -> Option<Number> {
        match self {
            Num::Int(i) => Some(Number::from(i)),
            Num::Float(f) => Number::from_f64(f),
        }
    }

    /// As a double (exact: both forms are doubles).
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// Whether `n` is already written in its canonical form.
    fn is_canonical_form(self, n: &Number) -> bool {
        match self {
            Num::Int(_) => n.is_i64() || n.is_u64(),
            Num::Float(_) => n.is_f64(),
        }
    }
}

/// The first integer literal of the JSON `text` that lies beyond the 64-bit
/// integers and that a double would round, with its byte offset:
/// `-9223372036854775809`, `18446744073709551617` (not `18446744073709551616`,
/// which is 2^64 exactly). `serde_json` reads such a literal straight into
/// the nearest double, so [`check_value`] never sees it; a service checks
/// text it receives with this after parsing it. (Literals within the 64-bit
/// integers reach [`check_value`] as written.) `text` is taken to be valid
/// JSON.
pub fn inexact_big_integer(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    // An escape's next byte is never the string's end.
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len() && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    at += 1;
                }
                let literal = &text[start..at];
                if is_inexact_big_integer(literal) {
                    return Some((start, literal));
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// Whether `literal` (a JSON number) is an integer beyond `i64` and `u64`
/// that a double would round.
fn is_inexact_big_integer(literal: &str) -> bool {
    // 19 digits and a sign at least: anything shorter fits an `i64`.
    if literal.len() < 19 || !literal.bytes().all(|b| b == b'-' || b.is_ascii_digit()) {
        return false;
    }
    if literal.parse::<i64>().is_ok() || literal.parse::<u64>().is_ok() {
        return false;
    }
    // The nearest double, written out in full (`{:.0}` is exact), is the
    // literal itself only if the double holds it exactly.
    literal.parse::<f64>().is_ok_and(|f| format!("{f:.0}") != literal)
}

/// Checks `value` against the domain; `at` names where it is (for the error).
pub fn check_value(value: &Value, at: impl FnOnce() -> String) -> Result<(), Error> {
    walk(value, 0).map_err(|rule| Error::UnsupportedValue { at: at(), rule })
}

/// Checks a name (collection, field, key field, object key).
pub fn check_name(name: &str, at: impl FnOnce() -> String) -> Result<(), Error> {
    if name.contains('\0') {
        return Err(Error::UnsupportedValue {
            at: at(),
            rule: rule::NUL,
        });
    }
    Ok(())
}

fn walk(value: &Value, depth: usize) -> Result<(), &'static str> {
    match value {
        Value::Null | Value::Bool(_) => Ok(()),
        Value::Number(n) => Num::of(n).map(drop),
        Value::String(s) => check_str(s),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(rule::TOO_DEEP);
            }
            items.iter().try_for_each(|v| walk(v, depth + 1))
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(rule::TOO_DEEP);
            }
            map.iter().try_for_each(|(k, v)| {
                check_str(k)?;
                walk(v, depth + 1)
            })
        }
    }
}

fn check_str(s: &str) -> Result<(), &'static str> {
    if s.contains('\0') { Err(rule::NUL) } else { Ok(()) }
}

/// `value` in canonical form (checked beforehand): borrowed when it already
/// is, so the common case copies nothing.
pub fn canonical(value: &Value) -> Cow<'_, Value> {
    if is_canonical(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(to_canonical(value))
    }
}

fn is_canonical(value: &Value) -> bool {
    match value {
        Value::Number(n) => Num::of(n).is_ok_and(|num| num.is_canonical_form(n)),
        Value::Array(items) => items.iter().all(is_canonical),
        Value::Object(map) => map.values().all(is_canonical),
        _ => true,
    }
}

fn to_canonical(value: &Value) -> Value {
    match value {
        Value::Number(n) => match Num::of(n).ok().and_then(Num::to_number) {
            Some(number) => Value::Number(number),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(to_canonical).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_canonical(v))).collect()),
        other => other.clone(),
    }
}

/// A row or patch in canonical form.
pub fn canonical_row(row: &Map<String, Value>) -> Map<String, Value> {
    row.iter()
        .map(|(k, v)| (k.clone(), canonical(v).into_owned()))
        .collect()
}

impl Event {
    /// Checks the event's type, payload and meta against the domain
    /// ([`Error::UnsupportedValue`]).
    pub fn check_domain(&self) -> Result<(), Error> {
        let at = |part: &str| format!("event `{}` {part}", self.event_type.replace('\0', "\\u0000"));
        check_name(&self.event_type, || at("type"))?;
        check_value(&self.payload, || at("payload"))?;
        if let Some(meta) = &self.meta {
            check_value(meta, || at("meta"))?;
        }
        Ok(())
    }
}

impl Changeset {
    /// Checks every name and value of every operation against the domain
    /// ([`Error::UnsupportedValue`]). Appliers call it before applying any
    /// operation, so a changeset outside the domain changes nothing anywhere.
    pub fn check_domain(&self) -> Result<(), Error> {
        self.operations().iter().try_for_each(Operation::check_domain)
    }

    /// The changeset with every value in canonical form (checked beforehand).
    pub fn canonical(&self) -> Cow<'_, Changeset> {
        if self.operations().iter().all(Operation::is_canonical) {
            Cow::Borrowed(self)
        } else {
            Cow::Owned(self.operations().iter().map(Operation::to_canonical).collect())
        }
    }
}

impl Operation {
    /// Checks this operation's names and values against the domain.
    pub fn check_domain(&self) -> Result<(), Error> {
        let collection = self.collection();
        let shown = collection.replace('\0', "\\u0000");
        let field_at = |field: &str| format!("collection `{shown}`, field `{}`", field.replace('\0', "\\u0000"));
        check_name(collection, || format!("collection `{shown}`"))?;
        check_name(self.key_field(), || field_at(self.key_field()))?;
        let check_row = |row: &Map<String, Value>| {
            row.iter().try_for_each(|(field, value)| {
                check_name(field, || field_at(field))?;
                check_value(value, || field_at(field))
            })
        };
        let check_key = |id: &Key| match id {
            Key::Int(i) if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(i) => Err(Error::UnsupportedValue {
                at: field_at(self.key_field()),
                rule: rule::UNSAFE_INTEGER_KEY,
            }),
            Key::Str(s) => check_name(s, || field_at(self.key_field())),
            Key::Int(_) => Ok(()),
        };
        match self {
            Operation::Create { row, .. } => check_row(row),
            Operation::UpdateById { id, patch, .. } => {
                check_key(id)?;
                check_row(patch)
            }
            Operation::DestroyById { id, .. } => check_key(id),
            Operation::UpdateWhere { filter, patch, .. } => {
                check_filter(filter, &field_at)?;
                check_row(patch)
            }
            Operation::DestroyWhere { filter, .. } => check_filter(filter, &field_at),
        }
    }

    fn is_canonical(&self) -> bool {
        match self {
            Operation::Create { row, .. } => row.values().all(is_canonical),
            Operation::UpdateById { patch, .. } | Operation::UpdateWhere { patch, .. } => {
                patch.values().all(is_canonical)
            }
            Operation::DestroyById { .. } | Operation::DestroyWhere { .. } => true,
        }
    }

    fn to_canonical(&self) -> Operation {
        let mut out = self.clone();
        match &mut out {
            Operation::Create { row, .. } => *row = canonical_row(row),
            Operation::UpdateById { patch, .. } | Operation::UpdateWhere { patch, .. } => *patch = canonical_row(patch),
            Operation::DestroyById { .. } | Operation::DestroyWhere { .. } => {}
        }
        out
    }
}

fn check_filter(filter: &Filter, field_at: &dyn Fn(&str) -> String) -> Result<(), Error> {
    filter.try_for_each_leaf(&mut |field, values| {
        check_name(field, || field_at(field))?;
        values
            .iter()
            .try_for_each(|v| check_value(v, || format!("filter on {}", field_at(field))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use serde_json::json;

    fn num(text: &str) -> Result<Num, &'static str> {
        Num::of(&serde_json::from_str::<Number>(text).unwrap())
    }

    #[test]
    fn numbers_have_one_canonical_value() {
        assert_eq!(num("3"), Ok(Num::Int(3)));
        assert_eq!(num("3.0"), Ok(Num::Int(3)));
        assert_eq!(num("-0.0"), Ok(Num::Int(0)));
        assert_eq!(num("9007199254740991"), Ok(Num::Int(MAX_SAFE_INTEGER)));
        assert_eq!(num("-9007199254740991"), Ok(Num::Int(-MAX_SAFE_INTEGER)));
        assert_eq!(num("9007199254740992"), Ok(Num::Float(9_007_199_254_740_992.0)));
        assert_eq!(num("9007199254740992.0"), Ok(Num::Float(9_007_199_254_740_992.0)));
        assert_eq!(num("100000000000000000000"), Ok(Num::Float(1e20)));
        assert_eq!(num("-9223372036854775808"), Ok(Num::Float(-9.223_372_036_854_776e18)));
        assert_eq!(num("9007199254740993"), Err(rule::INEXACT_NUMBER));
        assert_eq!(num("9223372036854775807"), Err(rule::INEXACT_NUMBER));
        assert_eq!(num("12345678901234567890"), Err(rule::INEXACT_NUMBER));
        assert_eq!(num("1e308"), Ok(Num::Float(1e308)));
        assert_eq!(num("5e-324"), Ok(Num::Float(5e-324)));
        assert_eq!(num("0.5"), Ok(Num::Float(0.5)));
    }

    #[test]
    fn integer_literals_beyond_64_bits_are_found_when_a_double_rounds_them() {
        for (text, found) in [
            (r#"{"n":-9223372036854775809}"#, Some((5, "-9223372036854775809"))),
            ("[18446744073709551617]", Some((1, "18446744073709551617"))),
            (
                "[1, 123456789012345678901234567891]",
                Some((4, "123456789012345678901234567891")),
            ),
            // Doubles exactly: 2^64, -2^64 and 2^70.
            (
                "[18446744073709551616, -18446744073709551616, 1180591620717411303424]",
                None,
            ),
            // Within the 64-bit integers: left to `check_value`, which sees them as written.
            ("[9007199254740993, 18446744073709551615, -9223372036854775808]", None),
            // Not integer literals; numbers inside strings and keys are text.
            ("[1.8446744073709551617e19, 123456789012345678901.5]", None),
            (
                r#"{"-9223372036854775809":"18446744073709551617 \" 18446744073709551617"}"#,
                None,
            ),
        ] {
            assert_eq!(inexact_big_integer(text), found, "{text}");
        }
        // What serde_json makes of one: the nearest double, silently.
        let value: Value = serde_json::from_str("-9223372036854775809").unwrap();
        assert!(check_value(&value, String::new).is_ok());
    }

    #[test]
    fn canonical_values_are_borrowed_others_rewritten() {
        let v = json!({"a": [1, 2.5, "x"]});
        assert!(matches!(canonical(&v), Cow::Borrowed(_)));
        let v: Value = serde_json::from_str(r#"{"a": [3.0, -0.0, 9007199254740992]}"#).unwrap();
        let c = canonical(&v).into_owned();
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"a":[3,0,9007199254740992.0]}"#);
    }

    #[test]
    fn nul_depth_and_inexact_numbers_are_named() {
        let deep = (0..MAX_DEPTH).fold(json!(1), |v, _| json!([v]));
        assert!(check_value(&deep, String::new).is_ok());
        let too_deep = json!([deep]);
        let err = check_value(&too_deep, || "here".into()).unwrap_err();
        assert_eq!(err.kind(), "unsupported_value");
        assert!(err.to_string().contains("here") && err.to_string().contains("16 levels"));
        assert!(check_value(&json!({"a\u{0}": 1}), String::new).is_err());
        assert!(check_value(&json!(["\u{0}"]), String::new).is_err());
        let op: Operation = serde_json::from_value(
            json!({"op": "update_by_id", "collection": "c", "id": 9007199254740992_i64, "patch": {}}),
        )
        .unwrap();
        assert_eq!(op.check_domain().unwrap_err().kind(), "unsupported_value");
    }
}
