//! Filters: a small predicate language over a row's top-level fields.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::{Error, Row};

/// A predicate over a row's top-level fields, used by `update_where` and
/// `destroy_where`. Runs in memory here; the server compiles the same value to
/// parameterised SQL.
///
/// Wire form: `{ "op": "eq", "field": "done", "value": true }`,
/// `{ "op": "in", "field": "id", "values": [1, 2] }`,
/// `{ "op": "is_null", "field": "title" }`,
/// `{ "op": "and", "filters": [ ... ] }`, `{ "op": "or", "filters": [ ... ] }`,
/// `{ "op": "not", "filter": { ... } }`.
///
/// # Semantics (two-valued; the same on every backend)
///
/// * Compared values must be scalars: a string, a number or a boolean. A
///   filter comparing with `null`, an array or an object is
///   [`Error::InvalidFilter`] — use [`Filter::is_null`] for null checks.
/// * A field that is missing or `null` makes `eq`, `lt`, `lte`, `gt`, `gte`
///   and `in` **false**. `ne` is exactly `not(eq)`, so it is **true** for a
///   missing field (like `!==` in JavaScript, `IS DISTINCT FROM` in SQL).
/// * Values of different types are never equal and never ordered: `1` and
///   `"1"` do not match, `lt(n, "5")` on a number is false. Numbers compare
///   by value (`1 == 1.0`), strings by Unicode code point (case-sensitive,
///   binary collation), `false < true`.
/// * A field holding an array or object never matches a comparison.
/// * `and([])` is true, `or([])` is false, `in` with no values is false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Filter {
    /// `field == value`.
    Eq {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `not(field == value)`.
    Ne {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `field < value`.
    Lt {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `field <= value`.
    Lte {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `field > value`.
    Gt {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `field >= value`.
    Gte {
        /// The field.
        field: String,
        /// A scalar.
        value: Value,
    },
    /// `field` equals one of `values`.
    In {
        /// The field.
        field: String,
        /// Scalars.
        values: Vec<Value>,
    },
    /// `field` is missing or `null`.
    IsNull {
        /// The field.
        field: String,
    },
    /// All of the filters (true when empty).
    And {
        /// The operands.
        filters: Vec<Filter>,
    },
    /// Any of the filters (false when empty).
    Or {
        /// The operands.
        filters: Vec<Filter>,
    },
    /// The negation of a filter.
    Not {
        /// The operand.
        filter: Box<Filter>,
    },
}

/// The comparison operators of [`Filter`], for code that compiles filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl Comparison {
    /// Whether an ordering satisfies this comparison.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Eq => ordering == Ordering::Equal,
            Comparison::Lt => ordering == Ordering::Less,
            Comparison::Lte => ordering != Ordering::Greater,
            Comparison::Gt => ordering == Ordering::Greater,
            Comparison::Gte => ordering != Ordering::Less,
        }
    }
}

impl Filter {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Eq {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field != value` (true when the field is missing).
    pub fn ne(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Ne {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Lt {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field <= value`.
    pub fn lte(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Lte {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Gt {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field >= value`.
    pub fn gte(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Gte {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field` is one of `values`.
    pub fn is_in<V: Into<Value>>(field: impl Into<String>, values: impl IntoIterator<Item = V>) -> Self {
        Filter::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
    /// `field` is missing or null.
    pub fn is_null(field: impl Into<String>) -> Self {
        Filter::IsNull { field: field.into() }
    }
    /// All of `filters`.
    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::And {
            filters: filters.into_iter().collect(),
        }
    }
    /// Any of `filters`.
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::Or {
            filters: filters.into_iter().collect(),
        }
    }
    /// The negation of `filter`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(filter: Filter) -> Self {
        Filter::Not {
            filter: Box::new(filter),
        }
    }

    /// Every field this filter reads, in order of appearance (with repeats).
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let _ = self.try_for_each_leaf(&mut |field, _| {
            out.push(field);
            Ok::<(), core::convert::Infallible>(())
        });
        out
    }

    /// Walks the filter's leaves depth first, calling `visit(field, values)`
    /// with the values each compares its field with (one for a comparison,
    /// an `in`'s list, none for `is_null`). The first error stops the walk.
    /// Every check of a filter's fields and values goes through here.
    pub(crate) fn try_for_each_leaf<'a, E>(
        &'a self,
        visit: &mut impl FnMut(&'a str, &'a [Value]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Filter::Eq { field, value }
            | Filter::Ne { field, value }
            | Filter::Lt { field, value }
            | Filter::Lte { field, value }
            | Filter::Gt { field, value }
            | Filter::Gte { field, value } => visit(field, core::slice::from_ref(value)),
            Filter::In { field, values } => visit(field, values),
            Filter::IsNull { field } => visit(field, &[]),
            Filter::And { filters } | Filter::Or { filters } => {
                filters.iter().try_for_each(|f| f.try_for_each_leaf(visit))
            }
            Filter::Not { filter } => filter.try_for_each_leaf(visit),
        }
    }

    /// Checks that every compared value is a scalar.
    pub fn validate(&self) -> Result<(), Error> {
        self.try_for_each_leaf(&mut |field, values| values.iter().try_for_each(|v| check_scalar(field, v)))
    }

    /// Whether `row` satisfies this filter. Call [`Filter::validate`] first;
    /// an invalid comparison here is simply false.
    pub fn matches(&self, row: &Row) -> bool {
        match self {
            Filter::Eq { field, value } => compares(row.get(field), value, Comparison::Eq),
            Filter::Ne { field, value } => !compares(row.get(field), value, Comparison::Eq),
            Filter::Lt { field, value } => compares(row.get(field), value, Comparison::Lt),
            Filter::Lte { field, value } => compares(row.get(field), value, Comparison::Lte),
            Filter::Gt { field, value } => compares(row.get(field), value, Comparison::Gt),
            Filter::Gte { field, value } => compares(row.get(field), value, Comparison::Gte),
            Filter::In { field, values } => values.iter().any(|v| compares(row.get(field), v, Comparison::Eq)),
            Filter::IsNull { field } => row.get(field).is_none_or(Value::is_null),
            Filter::And { filters } => filters.iter().all(|f| f.matches(row)),
            Filter::Or { filters } => filters.iter().any(|f| f.matches(row)),
            Filter::Not { filter } => !filter.matches(row),
        }
    }
}

fn check_scalar(field: &str, value: &Value) -> Result<(), Error> {
    let reason = match value {
        Value::Null => "cannot compare with null; use is_null",
        Value::Array(_) => "cannot compare with an array",
        Value::Object(_) => "cannot compare with an object",
        _ => return Ok(()),
    };
    Err(Error::InvalidFilter {
        field: field.into(),
        reason,
    })
}

fn compares(field: Option<&Value>, value: &Value, comparison: Comparison) -> bool {
    field
        .and_then(|f| compare_scalars(f, value))
        .is_some_and(|ordering| comparison.holds(ordering))
}

/// Orders two scalars of the same JSON type; `None` for different types,
/// nulls, arrays and objects. This is the one definition every backend follows.
///
/// Numbers compare exactly by value, never rounded through `f64`: `i64::MAX`
/// is less than `9223372036854775808.0`, `2^53 + 1` more than `2^53`.
pub fn compare_scalars(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A JSON number as an exact integer, or a float.
enum Exact {
    Int(i128),
    Float(f64),
}

fn exact(n: &Number) -> Option<Exact> {
    if let Some(i) = n.as_i64() {
        Some(Exact::Int(i128::from(i)))
    } else if let Some(u) = n.as_u64() {
        Some(Exact::Int(i128::from(u)))
    } else {
        n.as_f64().map(Exact::Float)
    }
}

/// Orders two numbers exactly (integers of any size against doubles).
fn compare_numbers(x: &Number, y: &Number) -> Option<Ordering> {
    match (exact(x)?, exact(y)?) {
        (Exact::Int(a), Exact::Int(b)) => Some(a.cmp(&b)),
        (Exact::Float(a), Exact::Float(b)) => a.partial_cmp(&b),
        (Exact::Int(a), Exact::Float(b)) => int_vs_float(a, b),
        (Exact::Float(a), Exact::Int(b)) => int_vs_float(b, a).map(Ordering::reverse),
    }
}

/// `int` compared with `float`, exactly: integers beyond 2^53 are not
/// rounded to the nearest double first.
fn int_vs_float(int: i128, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    // Every i64/u64 is within ±2^64, far inside these bounds.
    if float >= 1e30 {
        return Some(Ordering::Less);
    }
    if float <= -1e30 {
        return Some(Ordering::Greater);
    }
    // `as i128` truncates toward zero, exactly (|float| < 2^100); `floor()`
    // itself is not in `core`.
    let truncated = float as i128;
    let floor = if truncated as f64 > float {
        truncated - 1
    } else {
        truncated
    };
    match int.cmp(&floor) {
        Ordering::Equal if float != floor as f64 => Some(Ordering::Less),
        ordering => Some(ordering),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Option<Ordering> {
        compare_scalars(&serde_json::from_str(a).unwrap(), &serde_json::from_str(b).unwrap())
    }

    #[test]
    fn integers_and_floats_compare_exactly() {
        assert_eq!(
            cmp("9223372036854775807", "9223372036854775808.0"),
            Some(Ordering::Less)
        );
        assert_eq!(cmp("9007199254740993", "9007199254740992.0"), Some(Ordering::Greater));
        assert_eq!(cmp("9007199254740992.0", "9007199254740993"), Some(Ordering::Less));
        assert_eq!(cmp("9007199254740992", "9007199254740992.0"), Some(Ordering::Equal));
        assert_eq!(
            cmp("18446744073709551615", "1.8446744073709552e19"),
            Some(Ordering::Less)
        );
        assert_eq!(cmp("-3", "-2.5"), Some(Ordering::Less));
        assert_eq!(cmp("-2", "-2.5"), Some(Ordering::Greater));
        assert_eq!(cmp("5", "5.0"), Some(Ordering::Equal));
        assert_eq!(cmp("0", "-0.0"), Some(Ordering::Equal));
        assert_eq!(cmp("1", "1e300"), Some(Ordering::Less));
        assert_eq!(cmp("1", "-1e300"), Some(Ordering::Greater));
    }
}
