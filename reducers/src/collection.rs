//! `Collection<T>`: a typed handle whose methods build changesets.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use core::fmt;
use core::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use crate::{Changeset, Error, Filter, Key, Operation, Row, StoredEvent};

/// A typed handle on a named collection; its methods build [`Changeset`]s.
///
/// The Rust spelling of the original JavaScript library's `Notes.create(...)`,
/// `Notes.updateById(...)`, `Notes.destroyById(...)` and `Notes.noChange()`.
/// Building a changeset touches no database: it is plain data.
///
/// ```
/// use flux_capacitor::{Collection, Filter};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Note { id: String, title: String }
///
/// const NOTES: Collection<Note> = Collection::new("notes");
///
/// let add = NOTES.create(&Note { id: "n1".into(), title: "Hi".into() }).unwrap();
/// let edit = NOTES.update_by_id("n1", serde_json::json!({ "title": "Hello" })).unwrap();
/// let both = add.then(edit).then(NOTES.destroy_where(Filter::eq("title", "old")));
/// assert_eq!(both.len(), 3);
/// ```
pub struct Collection<T> {
    name: Cow<'static, str>,
    key: Cow<'static, str>,
    rows: PhantomData<fn() -> T>,
}

impl<T> Collection<T> {
    /// A handle on the collection `name`, keyed by `id`.
    pub const fn new(name: &'static str) -> Self {
        Collection {
            name: Cow::Borrowed(name),
            key: Cow::Borrowed(crate::DEFAULT_KEY),
            rows: PhantomData,
        }
    }

    /// A handle on a collection whose name is known only at run time.
    pub fn named(name: impl Into<String>) -> Self {
        Collection {
            name: Cow::Owned(name.into()),
            key: Cow::Borrowed(crate::DEFAULT_KEY),
            rows: PhantomData,
        }
    }

    /// A handle on the collection `name`, keyed by the field `key`.
    pub const fn keyed(name: &'static str, key: &'static str) -> Self {
        Collection {
            name: Cow::Borrowed(name),
            key: Cow::Borrowed(key),
            rows: PhantomData,
        }
    }

    /// The same handle, keyed by `key` instead of `id`.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Cow::Owned(key.into());
        self
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The collection's key field.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Removes the row with key `id` (no change if there is none).
    pub fn destroy_by_id(&self, id: impl Into<Key>) -> Changeset {
        Changeset::single(Operation::DestroyById {
            collection: self.name.to_string(),
            key: self.key.to_string(),
            id: id.into(),
        })
    }

    /// Removes every row matching `filter`.
    pub fn destroy_where(&self, filter: Filter) -> Changeset {
        Changeset::single(Operation::DestroyWhere {
            collection: self.name.to_string(),
            key: self.key.to_string(),
            filter,
        })
    }

    /// Changes nothing.
    pub fn no_change(&self) -> Changeset {
        Changeset::no_change()
    }

    /// Binds a reducer function `(collection, event) -> changeset` to this
    /// collection, giving a [`Reducer`](crate::Reducer).
    pub fn reducer<F, R>(self, reduce: F) -> crate::reducer::BoundReducer<T, F>
    where
        F: Fn(&Collection<T>, &StoredEvent) -> R,
    {
        crate::reducer::BoundReducer::new(self, reduce)
    }

    fn to_object(&self, value: &impl Serialize, what: &str) -> Result<Row, Error> {
        match serde_json::to_value(value) {
            Ok(Value::Object(row)) => Ok(row),
            Ok(other) => Err(Error::Serialize {
                collection: self.name.to_string(),
                message: alloc::format!("a {what} must be a JSON object, got {other}"),
            }),
            Err(err) => Err(Error::Serialize {
                collection: self.name.to_string(),
                message: err.to_string(),
            }),
        }
    }
}

impl<T: Serialize> Collection<T> {
    /// Inserts `row` (it must hold the key field).
    pub fn create(&self, row: &T) -> Result<Changeset, Error> {
        Ok(Changeset::single(Operation::Create {
            collection: self.name.to_string(),
            key: self.key.to_string(),
            row: self.to_object(row, "row")?,
        }))
    }

    /// Shallow-merges `patch` (any value serializing to a JSON object) into the
    /// row with key `id` (no change if there is none).
    pub fn update_by_id(&self, id: impl Into<Key>, patch: impl Serialize) -> Result<Changeset, Error> {
        Ok(Changeset::single(Operation::UpdateById {
            collection: self.name.to_string(),
            key: self.key.to_string(),
            id: id.into(),
            patch: self.to_object(&patch, "patch")?,
        }))
    }

    /// Shallow-merges `patch` into every row matching `filter`.
    pub fn update_where(&self, filter: Filter, patch: impl Serialize) -> Result<Changeset, Error> {
        Ok(Changeset::single(Operation::UpdateWhere {
            collection: self.name.to_string(),
            key: self.key.to_string(),
            filter,
            patch: self.to_object(&patch, "patch")?,
        }))
    }
}

impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        Collection {
            name: self.name.clone(),
            key: self.key.clone(),
            rows: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish()
    }
}
