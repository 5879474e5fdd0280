//! Row keys: a string or an integer.

use alloc::string::{String, ToString};
use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Num;

/// The key of a row: a string or an integer.
///
/// Integer keys must lie within ±(2^53−1) ([`crate::domain`]); a number
/// whose value is such an integer is that key whatever its spelling (`3.0`
/// is `3`). Keep wider ids (snowflakes, unsigned 64-bit) as strings.
///
/// Keys order integers before strings, integers numerically, strings by
/// Unicode code point (byte order of UTF-8) — the order SQLite gives a mixed
/// column and the order every backend returns rows in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A string key.
    Str(String),
}

impl Key {
    /// Reads a key from a JSON value: a string, or a number whose canonical
    /// value is an integer (within ±(2^53−1); `3.0` is `3`).
    pub fn from_value(value: &Value) -> Option<Key> {
        match value {
            Value::String(s) => Some(Key::Str(s.clone())),
            Value::Number(n) => match Num::of(n) {
                Ok(Num::Int(i)) => Some(Key::Int(i)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The key as a JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Int(i) => Value::from(*i),
            Key::Str(s) => Value::String(s.clone()),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Key {
    fn from(value: i64) -> Self {
        Key::Int(value)
    }
}

impl From<&str> for Key {
    fn from(value: &str) -> Self {
        Key::Str(value.to_string())
    }
}

impl From<String> for Key {
    fn from(value: String) -> Self {
        Key::Str(value)
    }
}

impl From<uuid::Uuid> for Key {
    fn from(value: uuid::Uuid) -> Self {
        Key::Str(value.to_string())
    }
}

/// A string or an integer; an integral float (`3.0`) is that integer, as in
/// JavaScript. Integers beyond ±(2^53−1) are read as they are and refused by
/// the domain check ([`crate::domain`]) with a clear error.
impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                i64::try_from(v)
                    .map(Key::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                match Num::from_f64(v) {
                    Num::Int(i) => Ok(Key::Int(i)),
                    Num::Float(_) => Err(E::invalid_value(de::Unexpected::Float(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::Str(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
                Ok(Key::Str(v))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_are_integer_keys() {
        let key = |s: &str| serde_json::from_str::<Key>(s).ok();
        assert_eq!(key("3.0"), Some(Key::Int(3)));
        assert_eq!(key("-0.0"), Some(Key::Int(0)));
        assert_eq!(key("2.5"), None);
        assert_eq!(key("1e20"), None);
        assert_eq!(key("\"a\""), Some(Key::from("a")));
        assert_eq!(Key::from_value(&serde_json::json!(3.0)), Some(Key::Int(3)));
        assert_eq!(Key::from_value(&serde_json::json!(9_007_199_254_740_992_i64)), None);
    }
}
