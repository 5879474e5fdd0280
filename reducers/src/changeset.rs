//! Changesets: what a reducer returns, as plain data.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Filter, Key};

/// A JSON object: one row, or a patch of some of its top-level fields.
pub type Row = Map<String, Value>;

/// The default key field of a collection.
pub const DEFAULT_KEY: &str = "id";

fn default_key() -> String {
    String::from(DEFAULT_KEY)
}

fn is_default_key(key: &str) -> bool {
    key == DEFAULT_KEY
}

/// One database operation on a named collection.
///
/// Wire form (`key` is written only when it is not `"id"`):
///
/// ```json
/// { "op": "create",        "collection": "notes", "row": { "id": "n1", "title": "Hi" } }
/// { "op": "update_by_id",  "collection": "notes", "id": "n1", "patch": { "title": "Hello" } }
/// { "op": "destroy_by_id", "collection": "notes", "id": "n1" }
/// { "op": "update_where",  "collection": "notes", "filter": { "op": "eq", "field": "done", "value": true }, "patch": { "archived": true } }
/// { "op": "destroy_where", "collection": "notes", "filter": { "op": "is_null", "field": "title" } }
/// ```
///
/// What each operation means is defined once, by
/// [`MemoryDatabase`](crate::MemoryDatabase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Insert a row.
    Create {
        /// Collection (table) name.
        collection: String,
        /// The key field of the collection.
        #[serde(default = "default_key", skip_serializing_if = "is_default_key")]
        key: String,
        /// The new row; must hold the key field.
        row: Row,
    },
    /// Shallow-merge `patch` into the row with key `id`.
    UpdateById {
        /// Collection (table) name.
        collection: String,
        /// The key field of the collection.
        #[serde(default = "default_key", skip_serializing_if = "is_default_key")]
        key: String,
        /// The row's key.
        id: Key,
        /// Top-level fields to set; `null` clears a field.
        patch: Row,
    },
    /// Remove the row with key `id`.
    DestroyById {
        /// Collection (table) name.
        collection: String,
        /// The key field of the collection.
        #[serde(default = "default_key", skip_serializing_if = "is_default_key")]
        key: String,
        /// The row's key.
        id: Key,
    },
    /// Shallow-merge `patch` into every row matching `filter`.
    UpdateWhere {
        /// Collection (table) name.
        collection: String,
        /// The key field of the collection.
        #[serde(default = "default_key", skip_serializing_if = "is_default_key")]
        key: String,
        /// Which rows.
        filter: Filter,
        /// Top-level fields to set; `null` clears a field. Must not hold the key field.
        patch: Row,
    },
    /// Remove every row matching `filter`.
    DestroyWhere {
        /// Collection (table) name.
        collection: String,
        /// The key field of the collection.
        #[serde(default = "default_key", skip_serializing_if = "is_default_key")]
        key: String,
        /// Which rows.
        filter: Filter,
    },
}

impl Operation {
    /// The collection this operation writes to.
    pub fn collection(&self) -> &str {
        match self {
            Operation::Create { collection, .. }
            | Operation::UpdateById { collection, .. }
            | Operation::DestroyById { collection, .. }
            | Operation::UpdateWhere { collection, .. }
            | Operation::DestroyWhere { collection, .. } => collection,
        }
    }

    /// The key field named by this operation.
    pub fn key_field(&self) -> &str {
        match self {
            Operation::Create { key, .. }
            | Operation::UpdateById { key, .. }
            | Operation::DestroyById { key, .. }
            | Operation::UpdateWhere { key, .. }
            | Operation::DestroyWhere { key, .. } => key,
        }
    }

    /// The operation's name as on the wire: `create`, `update_by_id`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "create",
            Operation::UpdateById { .. } => "update_by_id",
            Operation::DestroyById { .. } => "destroy_by_id",
            Operation::UpdateWhere { .. } => "update_where",
            Operation::DestroyWhere { .. } => "destroy_where",
        }
    }
}

/// An ordered list of [`Operation`]s — what a reducer returns for one event.
///
/// The empty changeset is "no change". Changesets combine by concatenation,
/// which keeps the order: applying `a` then `b` is the same as applying
/// `a.then(b)`. Serializes as a JSON array of operations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Changeset {
    operations: Vec<Operation>,
}

impl Changeset {
    /// The empty changeset: no change.
    pub fn no_change() -> Self {
        Changeset::default()
    }

    /// A changeset of one operation.
    pub fn single(operation: Operation) -> Self {
        Changeset {
            operations: alloc::vec![operation],
        }
    }

    /// `self`'s operations followed by `other`'s.
    #[must_use]
    pub fn then(mut self, other: Changeset) -> Self {
        self.operations.extend(other.operations);
        self
    }

    /// Appends one operation.
    pub fn push(&mut self, operation: Operation) {
        self.operations.push(operation);
    }

    /// The operations, in order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Whether this is the empty changeset.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.operations.len()
    }
}

impl From<Vec<Operation>> for Changeset {
    fn from(operations: Vec<Operation>) -> Self {
        Changeset { operations }
    }
}

impl From<Operation> for Changeset {
    fn from(operation: Operation) -> Self {
        Changeset::single(operation)
    }
}

impl IntoIterator for Changeset {
    type Item = Operation;
    type IntoIter = alloc::vec::IntoIter<Operation>;

    fn into_iter(self) -> Self::IntoIter {
        self.operations.into_iter()
    }
}

impl Extend<Operation> for Changeset {
    fn extend<I: IntoIterator<Item = Operation>>(&mut self, iter: I) {
        self.operations.extend(iter);
    }
}

impl Extend<Changeset> for Changeset {
    fn extend<I: IntoIterator<Item = Changeset>>(&mut self, iter: I) {
        for changeset in iter {
            self.operations.extend(changeset.operations);
        }
    }
}

impl FromIterator<Changeset> for Changeset {
    fn from_iter<I: IntoIterator<Item = Changeset>>(iter: I) -> Self {
        let mut all = Changeset::no_change();
        all.extend(iter);
        all
    }
}

impl FromIterator<Operation> for Changeset {
    fn from_iter<I: IntoIterator<Item = Operation>>(iter: I) -> Self {
        Changeset {
            operations: iter.into_iter().collect(),
        }
    }
}

impl fmt::Display for Changeset {
    /// One operation per line, as compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operations.is_empty() {
            return f.write_str("no_change");
        }
        for (i, op) in self.operations.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let json = serde_json::to_string(op).map_err(|_| fmt::Error)?;
            f.write_str(&json)?;
        }
        Ok(())
    }
}
