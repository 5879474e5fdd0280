// The notes example's wasm package in a Redux store and a MobX collection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import { committed, reduxify } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const events = [
  { type: "addNote", payload: { id: "n1", title: "Hi", text: "x" }, meta: { user: "Mary" }, seq: 1, timestamp: "2026-11-22T10:00:00Z" },
  { type: "editNoteTitle", payload: { id: "n1", title: "Hello" }, meta: { user: "Tony" }, seq: 2, timestamp: "2026-11-22T10:01:00Z" },
  { type: "addNote", payload: { id: "n0", title: "First" }, meta: { user: "George" }, seq: 3, timestamp: "2026-11-22T10:02:00Z" },
];
const expected = [
  { id: "n0", title: "First", text: "", author: "George", created: "2026-11-22T10:02:00Z", updated: "2026-11-22T10:02:00Z" },
  { id: "n1", title: "Hello", text: "x", author: "Mary", created: "2026-11-22T10:00:00Z", updated: "2026-11-22T10:01:00Z" },
];

test("notes in Redux", () => {
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes") } });
  store.dispatch(committed(events));
  assert.deepEqual(createEntityAdapter().getSelectors((s) => s.notes).selectAll(store.getState()), expected);
  store.dispatch({ type: "removeNote", payload: { id: "n0" } });
  assert.deepEqual(store.getState().notes.ids, ["n1"]);
});

test("notes in MobX", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  notes.apply(events);
  assert.deepEqual(notes.rows, expected);
});
