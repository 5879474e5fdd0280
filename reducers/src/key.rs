//! Row keys: a string or an integer.

use alloc::string::{String, ToString};
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The key of a row: a string or a 64-bit integer.
///
/// Keys order integers before strings, integers numerically, strings by
/// Unicode code point (byte order of UTF-8) — the order SQLite gives a mixed
/// column and the order every backend returns rows in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A string key.
    Str(String),
}

impl Key {
    /// Reads a key from a JSON value: a string or an integer that fits `i64`.
    pub fn from_value(value: &Value) -> Option<Key> {
        match value {
            Value::String(s) => Some(Key::Str(s.clone())),
            Value::Number(n) => n.as_i64().map(Key::Int),
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
