//! Schemas: which collections exist, their key field and their fields' types.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::domain::Num;

/// The type of a field, as declared in a [`Schema`] and as a SQL column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A string.
    Text,
    /// An integer within ±(2^53−1) (a 64-bit `BIGINT` column in SQL; see
    /// [`crate::domain`] for why not the whole `i64` range).
    Integer,
    /// A number (64-bit float in SQL).
    Real,
    /// `true` / `false`.
    Boolean,
    /// Any JSON value (a native JSON column where the database has one).
    Json,
}

impl FieldType {
    /// The type's name as written in schemas.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Real => "real",
            FieldType::Boolean => "boolean",
            FieldType::Json => "json",
        }
    }

    /// Whether `value` fits this type. `null` fits every type; numbers count
    /// by their canonical value ([`crate::domain`]): `3.0` is an integer,
    /// `9007199254740992` (beyond ±(2^53−1)) is not.
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (FieldType::Json, _) => true,
            (FieldType::Text, Value::String(_)) => true,
            (FieldType::Integer, Value::Number(n)) => matches!(Num::of(n), Ok(Num::Int(_))),
            (FieldType::Real, Value::Number(_)) => true,
            (FieldType::Boolean, Value::Bool(_)) => true,
            _ => false,
        }
    }
}

fn default_key() -> String {
    String::from(crate::DEFAULT_KEY)
}

/// One collection's shape: its key field and every field's type (the key included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    /// The key field (primary key column); `id` unless set.
    #[serde(default = "default_key")]
    pub key: String,
    /// Every field and its type.
    pub fields: BTreeMap<String, FieldType>,
}

impl CollectionSchema {
    /// The type of `field` in `collection`, or [`Error::UnknownField`].
    pub fn field(&self, collection: &str, field: &str) -> Result<FieldType, Error> {
        self.fields.get(field).copied().ok_or_else(|| Error::UnknownField {
            collection: collection.into(),
            field: field.into(),
        })
    }

    /// Checks that `value` may be stored in `field`.
    pub fn check_value(&self, collection: &str, field: &str, value: &Value) -> Result<(), Error> {
        let ty = self.field(collection, field)?;
        if ty.accepts(value) {
            Ok(())
        } else {
            Err(Error::TypeMismatch {
                collection: collection.into(),
                field: field.into(),
                expected: ty.name(),
                value: value.to_string(),
            })
        }
    }
}

/// The collections a database holds. Optional for
/// [`MemoryDatabase`](crate::MemoryDatabase) (schemaless without it); the SQL
/// store reads the same information from the database itself.
///
/// Wire form: `{ "notes": { "key": "id", "fields": { "id": "text", "title": "text" } } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Schema {
    /// Collections by name.
    pub collections: BTreeMap<String, CollectionSchema>,
}

impl Schema {
    /// The schema of `collection`, or [`Error::UnknownCollection`].
    pub fn collection(&self, collection: &str) -> Result<&CollectionSchema, Error> {
        self.collections
            .get(collection)
            .ok_or_else(|| Error::UnknownCollection {
                collection: collection.into(),
            })
    }
}
