//! The reducers of {{name}} (`no_std`): one `todos` collection.
//!
//! A reducer turns an event into a changeset without reading the state, so
//! `setTodoDone` carries the new value (a toggle in the page sends `!done`).

#![no_std]

extern crate alloc;

use alloc::string::String;

use flux_capacitor::{Changeset, Collection, Combined, Error, StoredEvent, combine_reducers};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A todo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Todo {
    /// Key.
    pub id: String,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

/// The events, FSA on the wire: `{ "type": "addTodo", "payload": { ... } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum TodoEvent {
    AddTodo { id: String, title: String },
    SetTodoDone { id: String, done: bool },
    RemoveTodo { id: String },
}

/// The `todos` collection.
pub const TODOS: Collection<Todo> = Collection::new("todos");

/// Reducer of `todos`.
pub fn todos(todos: &Collection<Todo>, event: &StoredEvent) -> Result<Changeset, Error> {
    Ok(match event.decode::<TodoEvent>()? {
        Some(TodoEvent::AddTodo { id, title }) => todos.create(&Todo { id, title, done: false })?,
        Some(TodoEvent::SetTodoDone { id, done }) => todos.update_by_id(id, json!({ "done": done }))?,
        Some(TodoEvent::RemoveTodo { id }) => todos.destroy_by_id(id),
        None => todos.no_change(),
    })
}

/// The root reducer: what the server, the wasm package and the tests run.
pub fn root() -> Combined {
    combine_reducers().collection(TODOS, todos)
}
