// Pending (optimistic) events in the MobX adapter with real mobx: the observables
// show confirmed rows plus pending events, reactions once per change, rebase,
// rejection of one event, local errors refused before anything is pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { autorun, reaction, toJS } from "mobx";
import { committed, dismissed, local, rejected, uuidv7 } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

let seq = 0;
const commit = (event, user = "Mary") => ({
  type: event.type, payload: event.payload, meta: { user }, id: event.id ?? uuidv7(), seq: ++seq, timestamp: "2026-11-30T10:00:00Z",
});
const add = (id, title) => ({ type: "addNote", payload: { id, title, text: "" } });
const titles = (c) => c.ids.map((id) => c.entities.get(id).title);
const plainTitles = (state) => state.ids.map((id) => state.entities[id].title);

test("local events show at once and leave pending when committed; reactions run once per change", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  let runs = 0;
  autorun(() => { runs++; for (const id of notes.ids) notes.entities.get(id).title; notes.pending.length; });
  const a = notes.local(add("a", "A"));
  assert.equal(runs, 2);
  assert.deepEqual(titles(notes), ["A"]);
  assert.deepEqual(notes.pending.map((p) => [p.id, p.status]), [[a.id, "sending"]]);
  assert.deepEqual(plainTitles(notes.confirmed), []);
  const rowA = notes.entities.get("a");
  notes.apply([commit(add("g", "G"), "George")]);
  assert.equal(runs, 3);
  assert.deepEqual(titles(notes), ["A", "G"]);
  assert.equal(notes.entities.get("a"), rowA, "a row that stays keeps its observable");
  notes.apply([commit(a)]);
  assert.deepEqual(titles(notes), ["A", "G"]);
  assert.equal(notes.entities.get("a").author, "Mary");
  assert.equal(notes.pending.length, 0);
  assert.equal(notes.confirmed, notes.state);
  assert.equal(notes.lastSeq, seq);
  // back in place: an ordinary batch works as before
  notes.apply([commit({ type: "removeNote", payload: { id: "g" } })]);
  assert.deepEqual(toJS(notes.ids), ["a"]);
});

test("rebase, a rejected event in the middle, dismiss; the rows equal the confirmed ones once settled", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  notes.apply([commit(add("x", "X"), "George")]);
  const e1 = notes.local({ type: "editNoteTitle", payload: { id: "x", title: "X mine" } });
  const e2 = notes.local(add("y", "Y"));
  const e3 = notes.local(add("z", "Z"));
  notes.dispatch(rejected(e2.id, { status: 403, code: "forbidden", message: "no" }));
  assert.deepEqual(titles(notes), ["X mine", "Z"]);
  assert.deepEqual(notes.pending.map((p) => p.status), ["sending", "rejected", "sending"]);
  assert.deepEqual(notes.pending[1].error, { kind: "forbidden", message: "no", status: 403 });
  notes.apply([commit({ type: "removeNote", payload: { id: "x" } }, "George")]);
  assert.deepEqual(titles(notes), ["Z"]);
  assert.equal(notes.pending[0].error, undefined, "the edit of a removed note: a no-op here, not an error");
  notes.apply([commit(e3)]);
  notes.apply([commit({ ...e1, payload: e1.payload })]);
  assert.deepEqual(notes.pending.map((p) => p.id), [e2.id]);
  notes.dispatch(dismissed(e2.id));
  assert.equal(notes.pending.length, 0);
  assert.deepEqual(titles(notes), ["Z"]);
  assert.deepEqual(notes.rows, notes.confirmed.ids.map((id) => notes.confirmed.entities[id]));
});

test("a local reducer error throws and nothing is pending; dispatch(local(...)) works too", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  notes.dispatch(local(add("a", "A")));
  const changes = [];
  reaction(() => notes.pending, (p) => changes.push(p.length));
  assert.throws(() => notes.local(add("a", "again")), (err) => err.kind === "duplicate_key");
  assert.deepEqual(changes, []);
  assert.equal(notes.pending.length, 1);
  assert.deepEqual(titles(notes), ["A"]);
});

test("check() and plain local events under pending go to the confirmed rows", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  const p = notes.local(add("p", "P"));
  // a committed create of "p" checks against the confirmed rows, where "p" is not yet
  notes.check([commit(p)]);
  notes.dispatch({ type: "addNote", payload: { id: "q", title: "Q", text: "" } }); // applied for good
  assert.deepEqual(plainTitles(notes.confirmed), ["Q"]);
  assert.deepEqual(titles(notes), ["P", "Q"]);
  assert.throws(() => notes.check([commit(add("q", "again"))]), (err) => err.kind === "duplicate_key");
  assert.deepEqual(titles(notes), ["P", "Q"]);
});

test("a local event whose id is already pending is applied once", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  const event = notes.local(add("twice", "once"));
  notes.local(event); // e.g. a remount's client showing the stored queue again: no duplicate-key error
  assert.deepEqual(notes.pending.map((p) => p.id), [event.id]);
  assert.deepEqual(titles(notes), ["once"]);
  notes.apply([commit(event)]);
  assert.deepEqual(notes.pending, []);
});
