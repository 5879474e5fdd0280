// Each committed event applies once: reduxify, reduxifyAll and the MobX adapter
// remember the last applied seq, so overlapping feeds, resubscriptions and replays
// from any point are safe (issue 18: a second `connectLive({ after: 0 })` used to
// throw duplicate_key).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { configureStore, createEntityAdapter, createSelector } from "@reduxjs/toolkit";
import { autorun, toJS } from "mobx";
import { committed, reduxify, reduxifyAll, rowsOf, selectLastSeq } from "../src/index.js";
import { connectLive } from "../src/live.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const at = (seq, type, payload, user = "Mary") => ({
  type, payload, meta: { user }, seq, id: `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`,
  timestamp: `2026-11-22T10:00:${String(seq).padStart(2, "0")}Z`,
});
/** The log: 6 committed events, including a remove and an edit of an older note. */
const log = [
  at(1, "addNote", { id: "n1", title: "Gigawatts", text: "1.21" }),
  at(2, "addNote", { id: "n2", title: "Clock tower", text: "" }, "George"),
  at(3, "editNoteTitle", { id: "n1", title: "1.21 gigawatts" }, "Tony"),
  at(4, "addNote", { id: "n3", title: "Lightning", text: "10:04" }),
  at(5, "removeNote", { id: "n2" }, "George"),
  at(6, "editNoteText", { id: "n3", text: "10:04 pm" }),
];
const slice = (events) => reduxify(notesWasm, "notes")(undefined, committed(events));

test("a slice holds lastSeq beside { ids, entities }; RTK's entity selectors work on it", () => {
  const reducer = reduxify(notesWasm, "notes");
  assert.deepEqual(reducer(undefined, { type: "@@INIT" }), { ids: [], entities: {}, lastSeq: 0 });
  const store = configureStore({ reducer: { notes: reducer } });
  store.dispatch(committed(log));
  const state = store.getState().notes;
  assert.equal(state.lastSeq, 6);
  assert.equal(selectLastSeq(state), 6);
  const notes = createEntityAdapter().getSelectors((s) => s.notes);
  assert.deepEqual(notes.selectIds(store.getState()), ["n1", "n3"]);
  assert.equal(notes.selectById(store.getState(), "n1").title, "1.21 gigawatts");
  assert.equal(notes.selectTotal(store.getState()), 2);
});

test("the same batch twice, a replay from 0 and overlapping batches apply each event once", () => {
  const reducer = reduxify(notesWasm, "notes");
  const once = slice(log);
  let state = reducer(undefined, committed(log));
  assert.equal(reducer(state, committed(log)), state, "a full replay is a no-op: the very same state");
  assert.equal(reducer(state, committed(log.slice(2, 4))), state);
  // two feeds interleaved, each from 0, in overlapping batches
  state = undefined;
  for (const batch of [log.slice(0, 2), log.slice(0, 3), log.slice(1, 2), log.slice(2, 5), log.slice(0, 6), log.slice(4)]) {
    state = reducer(state, committed(batch));
  }
  assert.deepEqual(state, once);
  // within one batch: a repeated or older seq is skipped too
  assert.deepEqual(reducer(undefined, committed([log[0], log[1], log[0], log[2], log[1], ...log.slice(3)])), once);
});

test("committed events that change nothing still advance lastSeq; skipped batches keep the state", () => {
  const reducer = reduxify(notesWasm, "notes");
  const s1 = reducer(undefined, committed(log.slice(0, 2)));
  const other = at(3, "somebodyElsesEvent", {});
  const s2 = reducer(s1, committed([other]));
  assert.notEqual(s2, s1);
  assert.equal(s2.lastSeq, 3);
  assert.equal(s2.ids, s1.ids, "ids and entities shared: entity selectors do not recompute");
  assert.equal(s2.entities, s1.entities);
  assert.equal(reducer(s2, committed([other])), s2);
});

test("local events (no seq) always apply and leave lastSeq alone", () => {
  const reducer = reduxify(notesWasm, "notes");
  const s1 = reducer(undefined, committed(log.slice(0, 1)));
  const s2 = reducer(s1, { type: "editNoteTitle", payload: { id: "n1", title: "local" } });
  assert.equal(s2.lastSeq, 1);
  assert.equal(s2.entities.n1.title, "local");
  const s3 = reducer(s2, committed([{ type: "addNote", payload: { id: "x", title: "x" } }, log[1]]));
  assert.deepEqual(s3.ids, ["n1", "n2", "x"]);
  assert.equal(s3.lastSeq, 2);
});

test("a failed batch changes nothing, lastSeq included; the same batch can then be fixed and retried", () => {
  const reducer = reduxify(notesWasm, "notes");
  const s1 = reducer(undefined, committed(log.slice(0, 2)));
  const clash = at(3, "addNote", { id: "n1", title: "again" });
  assert.throws(() => reducer(s1, committed([clash])), (e) => e.kind === "duplicate_key");
  assert.equal(s1.lastSeq, 2);
  assert.equal(reducer(s1, committed([log[2]])).lastSeq, 3);
});

test("state from RTK's getInitialState() (no lastSeq) is taken as lastSeq 0", () => {
  const reducer = reduxify(notesWasm, "notes");
  const state = reducer(createEntityAdapter().getInitialState(), committed(log));
  assert.deepEqual(state, slice(log));
  assert.equal(selectLastSeq(createEntityAdapter().getInitialState()), 0);
  assert.equal(selectLastSeq(undefined), 0);
});

test("a sorted view through createSelector over the entity selectors (ids stay in key order)", () => {
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes") } });
  store.dispatch(committed(log));
  const { selectAll } = createEntityAdapter().getSelectors((s) => s.notes);
  const selectByTitle = createSelector([selectAll], (notes) => [...notes].sort((a, b) => a.title.localeCompare(b.title)));
  const sorted = selectByTitle(store.getState());
  assert.deepEqual(sorted.map((n) => n.title), ["1.21 gigawatts", "Lightning"]);
  store.dispatch(committed(log)); // a replay: nothing changes, the selector's result is the same array
  assert.equal(selectByTitle(store.getState()), sorted);
  store.dispatch(committed([at(7, "somebodyElsesEvent", {})])); // lastSeq only: still the same array
  assert.equal(selectByTitle(store.getState()), sorted);
});

test("reduxifyAll: replays skipped, every collection carries the same lastSeq", () => {
  const reducer = reduxifyAll(wasm);
  const add = (seq, id) => ({ type: "addIssue", payload: { id, title: id, author: "mary", priority: null }, seq });
  const user = (seq, handle) => ({ type: "addUser", payload: { handle, name: handle }, seq });
  let state = reducer(undefined, committed([add(1, "a"), user(2, "mary"), add(3, "b")]));
  assert.equal(selectLastSeq(state), 3);
  assert.deepEqual(Object.keys(state).sort(), ["issues", "users"]);
  for (const name of Object.keys(state)) assert.equal(state[name].lastSeq, 3, name);
  assert.equal(reducer(state, committed([add(1, "a"), user(2, "mary"), add(3, "b")])), state);
  state = reducer(state, committed([add(3, "b"), add(4, "c")]));
  assert.deepEqual(state.issues.ids, ["a", "b", "c"]);
  assert.equal(state.users.lastSeq, 4, "a collection the batch did not touch advances too");
  // a collection written and emptied in one batch is kept (empty), so its lastSeq is not lost
  const apply = (seq, ops) => ({ type: "conformance/apply", payload: { ops }, seq });
  const s = reducer(undefined, committed([
    apply(1, [{ op: "create", collection: "things", row: { id: 1 } }]),
    apply(2, [{ op: "destroy_by_id", collection: "things", id: 1 }]),
  ]));
  assert.deepEqual(s, { things: { ids: [], entities: {}, lastSeq: 2 } });
  assert.equal(reducer(s, committed([apply(1, [{ op: "create", collection: "things", row: { id: 1 } }])])), s);
  assert.deepEqual(rowsOf(reducer(s, committed([apply(3, [{ op: "create", collection: "things", row: { id: 2 } }])])).things), [{ id: 2 }]);
});

test("MobX: replays skipped, lastSeq observable, no reaction for a batch seen already", () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  let runs = 0;
  autorun(() => {
    runs++;
    for (const id of notes.ids) notes.entities.get(id).title;
  });
  const seqs = [];
  autorun(() => seqs.push(notes.lastSeq));
  notes.apply(log.slice(0, 3));
  assert.equal(runs, 2);
  notes.apply(log); // overlapping: 4..6 only
  assert.equal(runs, 3);
  notes.apply(log);
  notes.dispatch(committed(log.slice(2)));
  notes.check(log); // a replay checks nothing: it would apply nothing
  assert.equal(runs, 3);
  assert.deepEqual(seqs, [0, 3, 6]);
  assert.deepEqual(toJS(notes.ids), ["n1", "n3"]);
  assert.deepEqual(notes.rows, rowsOf(slice(log)));
});

/** A WebSocket the test drives by hand (as in live.test.js). */
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = new URL(url);
    FakeSocket.all.push(this);
  }
  close() {}
  push(events) {
    this.onmessage?.({ data: JSON.stringify(events) });
  }
}

test("two live feeds from 0 into one store (a remount, a second component), then a resume from selectLastSeq", () => {
  FakeSocket.all = [];
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
  const feed = (after) => connectLive({
    url: "ws://127.0.0.1:1/events/live", after, WebSocket: FakeSocket, retry: false,
    onEvents: (events) => store.dispatch(committed(events)),
    onError: (err) => assert.fail(err),
  });
  const first = feed(0);
  FakeSocket.all[0].push(log.slice(0, 4));
  const second = feed(0); // as StrictMode's second mount would, before the first one is closed
  FakeSocket.all[1].push(log.slice(0, 5));
  FakeSocket.all[0].push(log.slice(4));
  FakeSocket.all[1].push(log.slice(5));
  first.close();
  second.close();
  assert.deepEqual(store.getState().notes, slice(log));
  const resumed = feed(selectLastSeq(store.getState().notes));
  assert.equal(FakeSocket.all[2].url.searchParams.get("after"), "6");
  FakeSocket.all[2].push([at(7, "addNote", { id: "n7", title: "DeLorean", text: "" })]);
  resumed.close();
  assert.equal(store.getState().notes.lastSeq, 7);
  assert.deepEqual(store.getState().notes.ids, ["n1", "n3", "n7"]);
});
