//! Reducers: pure functions from an event to a changeset, and ways to combine them.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::{Changeset, Collection, Error, Operation, StoredEvent};

/// A pure function from an event to the [`Changeset`] it causes.
///
/// Reducers must be deterministic: no I/O, no clock, no randomness (use the
/// event's `id`, `seq` and `timestamp` instead). Unknown event types give the
/// empty changeset. A reducer may refuse an event with an [`Error`]; the store
/// then writes nothing for the whole dispatch.
///
/// Any `Fn(&StoredEvent) -> Changeset` or `Fn(&StoredEvent) -> Result<Changeset, Error>`
/// is a reducer.
pub trait Reducer: Send + Sync {
    /// The changeset `event` causes.
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error>;
}

/// What a reducer function may return: a [`Changeset`] or `Result<Changeset, Error>`.
pub trait Reduction {
    /// As a result.
    fn into_result(self) -> Result<Changeset, Error>;
}

impl Reduction for Changeset {
    fn into_result(self) -> Result<Changeset, Error> {
        Ok(self)
    }
}

impl Reduction for Result<Changeset, Error> {
    fn into_result(self) -> Result<Changeset, Error> {
        self
    }
}

impl<F, R> Reducer for F
where
    F: Fn(&StoredEvent) -> R + Send + Sync,
    R: Reduction,
{
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        self(event).into_result()
    }
}

/// A boxed reducer, as held by [`Aggregate`] and [`Combined`].
pub type BoxReducer = Box<dyn Reducer>;

/// Boxes a reducer, for [`aggregate_reducers`].
pub fn boxed(reducer: impl Reducer + 'static) -> BoxReducer {
    Box::new(reducer)
}

impl Reducer for BoxReducer {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        (**self).reduce(event)
    }
}

impl Reducer for Arc<dyn Reducer> {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        (**self).reduce(event)
    }
}

/// A reducer function `(collection, event) -> changeset` bound to its collection;
/// made by [`Collection::reducer`].
pub struct BoundReducer<T, F> {
    collection: Collection<T>,
    reduce: F,
}

impl<T, F> BoundReducer<T, F> {
    pub(crate) fn new(collection: Collection<T>, reduce: F) -> Self {
        BoundReducer { collection, reduce }
    }
}

impl<T, F, R> Reducer for BoundReducer<T, F>
where
    F: Fn(&Collection<T>, &StoredEvent) -> R + Send + Sync,
    R: Reduction,
{
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        (self.reduce)(&self.collection, event).into_result()
    }
}

/// Several reducers run one after the other on every event; their changesets
/// are concatenated in list order. The first error stops the run.
#[derive(Default)]
pub struct Aggregate {
    reducers: Vec<BoxReducer>,
}

impl Aggregate {
    /// Adds a reducer at the end of the list.
    #[must_use]
    pub fn with(mut self, reducer: impl Reducer + 'static) -> Self {
        self.reducers.push(Box::new(reducer));
        self
    }
}

impl Reducer for Aggregate {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        self.reducers.iter().map(|r| r.reduce(event)).collect()
    }
}

/// The original library's `aggregateReducers([a, b, c])`: one reducer that runs
/// every reducer of the list in order and concatenates their changesets.
///
/// ```
/// use flux_capacitor::{aggregate_reducers, boxed, event_log, Changeset, StoredEvent};
/// let root = aggregate_reducers([boxed(event_log("events")), boxed(|_: &StoredEvent| Changeset::no_change())]);
/// # let _ = root;
/// ```
pub fn aggregate_reducers(reducers: impl IntoIterator<Item = BoxReducer>) -> Aggregate {
    Aggregate {
        reducers: reducers.into_iter().collect(),
    }
}

/// Reducers keyed by the collection they own, like Redux's `combineReducers`:
/// each reducer function `(collection, event) -> changeset` receives the
/// [`Collection`] handle of its name. They run in the order they were added.
#[derive(Default)]
pub struct Combined {
    reducers: Vec<(String, BoxReducer)>,
}

impl Combined {
    /// Adds the reducer function of the collection `collection` (a name, or a
    /// `Collection` with a custom key).
    #[must_use]
    pub fn collection<T, F, R>(mut self, collection: impl Into<Collection<T>>, reduce: F) -> Self
    where
        T: 'static,
        F: Fn(&Collection<T>, &StoredEvent) -> R + Send + Sync + 'static,
        R: Reduction + 'static,
    {
        let collection = collection.into();
        let name = String::from(collection.name());
        self.reducers.push((name, Box::new(collection.reducer(reduce))));
        self
    }

    /// The collection names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.reducers.iter().map(|(name, _)| name.as_str())
    }
}

impl Reducer for Combined {
    fn reduce(&self, event: &StoredEvent) -> Result<Changeset, Error> {
        self.reducers.iter().map(|(_, r)| r.reduce(event)).collect()
    }
}

impl<T> From<&'static str> for Collection<T> {
    fn from(name: &'static str) -> Self {
        Collection::new(name)
    }
}

/// Starts a [`Combined`] reducer: `combine_reducers().collection("notes", notes)`.
pub fn combine_reducers() -> Combined {
    Combined::default()
}

/// The reducer that records every event itself in `collection`, keyed by `seq`:
/// rows `{ seq, id, timestamp, type, payload, meta?, error? }`. Persisting the
/// event is also just a reducer.
pub fn event_log(collection: &'static str) -> impl Reducer {
    move |event: &StoredEvent| -> Changeset {
        let mut row = Map::new();
        row.insert("seq".into(), Value::from(event.seq));
        row.insert("id".into(), Value::String(event.id.to_string()));
        row.insert("timestamp".into(), Value::String(event.timestamp.clone()));
        row.insert("type".into(), Value::String(event.event_type.clone()));
        row.insert("payload".into(), event.payload.clone());
        if let Some(meta) = &event.meta {
            row.insert("meta".into(), meta.clone());
        }
        if event.error {
            row.insert("error".into(), Value::Bool(true));
        }
        Changeset::single(Operation::Create {
            collection: collection.into(),
            key: "seq".into(),
            row,
        })
    }
}

/// The event type of a restore: payload `{ "collection", "key", "row" }`.
/// The server's `Store::restore` dispatches it to bring a destroyed row back;
/// the [`restore`] reducer turns it into a `create`.
pub const RESTORE_EVENT: &str = "flux/restore";

/// The reducer of [`RESTORE_EVENT`]: creates `row` (keyed by `key`, default
/// `id`) in `collection`; every other event is no change. Add it to your root
/// reducer (`aggregate_reducers([boxed(restore()), boxed(root)])`) to let the
/// store restore destroyed rows with an ordinary, logged event — the browser
/// then applies it too. Only trusted code should dispatch this event (the
/// HTTP service dispatches only what command handlers return).
pub fn restore() -> impl Reducer {
    |event: &StoredEvent| -> Result<Changeset, Error> {
        if event.event_type != RESTORE_EVENT {
            return Ok(Changeset::no_change());
        }
        let invalid = |message: &str| Error::InvalidPayload {
            event_type: RESTORE_EVENT.into(),
            message: message.into(),
        };
        let collection = event
            .payload
            .get("collection")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`collection` must be a string"))?;
        let key = match event.payload.get("key") {
            None | Some(Value::Null) => crate::DEFAULT_KEY,
            Some(Value::String(key)) => key.as_str(),
            Some(_) => return Err(invalid("`key` must be a string")),
        };
        let row = event
            .payload
            .get("row")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("`row` must be an object"))?;
        Ok(Changeset::single(Operation::Create {
            collection: collection.into(),
            key: key.into(),
            row: row.clone(),
        }))
    }
}
