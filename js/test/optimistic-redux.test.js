// Pending (optimistic) events in reduxify and reduxifyAll with real Redux Toolkit:
// applied at once, confirmed by the server's commit, rebased on other users'
// events, rejected one by one, local reducer errors refused before anything queues.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import {
  committed, dismissed, local, rejected, reduxify, reduxifyAll, rowsOf,
  selectConfirmed, selectLastSeq, selectOptimistic, selectPending, uuidv7,
} from "../src/index.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

let seq = 0;
/** The server's stored form of `event` (as the feed pushes it). */
const commit = (event, user = "Mary") => ({
  type: event.type, payload: event.payload, meta: { user }, id: event.id ?? uuidv7(), seq: ++seq,
  timestamp: `2026-11-30T10:00:${String(seq % 60).padStart(2, "0")}Z`,
});
const add = (id, title) => ({ type: "addNote", payload: { id, title, text: "" } });
const titles = (slice) => rowsOf(slice).map((r) => r.title);
const notesStore = () => configureStore({ reducer: { notes: reduxify(notesWasm, "notes") } });

test("uuidv7: version 7, variant 10, time first", () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.equal(a.slice(0, 13).replace("-", ""), (1_700_000_000_000).toString(16).padStart(12, "0"));
  assert.notEqual(uuidv7(), uuidv7());
});

test("local(event) stamps an id and a provisional timestamp, and refuses what is not an event", () => {
  const action = local(add("n1", "Hi"));
  assert.equal(action.type, "flux/local");
  assert.match(action.payload.id, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(action.payload.timestamp)));
  assert.equal(action.payload.seq, undefined);
  assert.equal(local({ ...add("n1", "Hi"), id: "given" }).payload.id, "given");
  assert.throws(() => local({ payload: {} }), TypeError);
  assert.throws(() => local({ ...add("n1", "x"), seq: 3 }), /no `seq`/);
});

test("a local event shows at once, is pending, and leaves the queue when its commit arrives", () => {
  const store = notesStore();
  const action = local(add("n1", "Mine"));
  store.dispatch(action);
  let s = store.getState().notes;
  assert.deepEqual(titles(s), ["Mine"]);
  assert.deepEqual(titles(selectConfirmed(s)), []);
  assert.deepEqual(selectPending(s).map((p) => [p.id, p.status]), [[action.payload.id, "sending"]]);
  // RTK's entity selectors read the optimistic state
  assert.equal(createEntityAdapter().getSelectors().selectById(s, "n1").title, "Mine");
  store.dispatch(committed([commit(action.payload)]));
  s = store.getState().notes;
  assert.deepEqual(titles(s), ["Mine"]);
  assert.equal(s.entities.n1.author, "Mary", "the committed row, as the server wrote it");
  assert.equal(selectPending(s).length, 0);
  assert.equal(selectPending(s), selectPending(store.getState().notes), "the empty list is one stable array");
  assert.deepEqual(Object.keys(s).sort(), ["entities", "ids", "lastSeq"], "nothing pending: the slice is as before");
  assert.equal(selectConfirmed(s), s);
  assert.equal(selectOptimistic(s), s);
});

test("other users' events rebase the pending queue", () => {
  const store = notesStore();
  store.dispatch(committed([commit(add("a", "A"), "George")]));
  const mine = local({ type: "editNoteTitle", payload: { id: "a", title: "A, mine" } });
  store.dispatch(mine);
  store.dispatch(local(add("m", "M")));
  assert.deepEqual(titles(store.getState().notes), ["A, mine", "M"]);
  // George's rename commits before mine: mine is re-applied on top
  store.dispatch(committed([commit({ type: "editNoteTitle", payload: { id: "a", title: "A, George's" } }, "George")]));
  let s = store.getState().notes;
  assert.deepEqual(titles(selectConfirmed(s)), ["A, George's"]);
  assert.deepEqual(titles(s), ["A, mine", "M"]);
  assert.equal(selectPending(s).length, 2);
  assert.equal(s.lastSeq, selectConfirmed(s).lastSeq);
  // George adds a note: it shows beside mine
  store.dispatch(committed([commit(add("g", "G"), "George")]));
  assert.deepEqual(titles(store.getState().notes), ["A, mine", "G", "M"]);
  // my rename commits: the server's order wins (it came after George's)
  store.dispatch(committed([commit(mine.payload)]));
  s = store.getState().notes;
  assert.deepEqual(titles(s), ["A, mine", "G", "M"]);
  assert.deepEqual(titles(selectConfirmed(s)), ["A, mine", "G"]);
  assert.equal(selectPending(s).length, 1);
});

test("a pending event that no longer applies after a rebase is left out with its error, never thrown", () => {
  const store = notesStore();
  const mine = local(add("x", "Mine"));
  store.dispatch(mine);
  store.dispatch(local({ type: "editNoteTitle", payload: { id: "x", title: "Mine 2" } }));
  // someone else creates "x" first: my create now collides
  store.dispatch(committed([commit(add("x", "Theirs"), "George")]));
  const s = store.getState().notes;
  const [first, second] = selectPending(s);
  assert.equal(first.status, "sending");
  assert.equal(first.error.kind, "duplicate_key");
  assert.equal(second.error, undefined);
  assert.deepEqual(titles(s), ["Mine 2"], "the edit still applies to their note");
  // the server refuses mine
  store.dispatch(rejected(first.id, { status: 409, kind: "duplicate_key", message: "exists" }));
  assert.deepEqual(selectPending(store.getState().notes)[0], {
    id: first.id, event: mine.payload, status: "rejected", error: { kind: "duplicate_key", message: "exists", status: 409 },
  });
});

test("a rejected event is marked for itself only: the events after it stay and apply", () => {
  const store = notesStore();
  const a = local(add("a", "A"));
  const b = local(add("b", "B"));
  const c = local(add("c", "C"));
  for (const action of [a, b, c]) store.dispatch(action);
  store.dispatch(rejected(b.payload.id, Object.assign(new Error("may not"), { status: 403, code: "forbidden" })));
  let s = store.getState().notes;
  assert.deepEqual(titles(s), ["A", "C"]);
  assert.deepEqual(selectPending(s).map((p) => p.status), ["sending", "rejected", "sending"]);
  assert.deepEqual(selectPending(s)[1].error, { kind: "forbidden", message: "may not", status: 403 });
  store.dispatch(committed([commit(a.payload), commit(c.payload)]));
  s = store.getState().notes;
  assert.deepEqual(titles(s), ["A", "C"]);
  assert.deepEqual(selectPending(s).map((p) => [p.id, p.status]), [[b.payload.id, "rejected"]]);
  store.dispatch(dismissed(b.payload.id));
  s = store.getState().notes;
  assert.equal(selectPending(s).length, 0);
  assert.deepEqual(Object.keys(s).sort(), ["entities", "ids", "lastSeq"]);
  // dismissing an event still sending takes it out too (the server answered without a commit)
  const d = local(add("d", "D"));
  store.dispatch(d);
  store.dispatch(dismissed(d.payload.id));
  assert.deepEqual(titles(store.getState().notes), ["A", "C"]);
  const before = store.getState();
  store.dispatch(dismissed("not-pending"));
  assert.equal(store.getState(), before);
});

test("a local reducer error rejects only that event, before anything is queued", () => {
  const store = notesStore();
  store.dispatch(local(add("a", "A")));
  const before = store.getState();
  assert.throws(() => store.dispatch(local(add("a", "again"))), (err) => err instanceof Error && err.kind === "duplicate_key");
  assert.throws(() => store.dispatch(local({ type: "addNote", payload: { nope: 1 } })), (err) => err instanceof Error && typeof err.kind === "string");
  assert.equal(store.getState(), before);
  store.dispatch(local(add("b", "B")));
  assert.deepEqual(titles(store.getState().notes), ["A", "B"]);
  assert.equal(selectPending(store.getState().notes).length, 2);
});

test("several slices and reduxifyAll keep the same queue; reduxifyAll keeps it under flux/optimistic", () => {
  const store = configureStore({
    reducer: { notes: reduxify(notesWasm, "notes"), all: reduxifyAll(notesWasm), other: reduxify(notesWasm, "other") },
  });
  const a = local(add("a", "A"));
  store.dispatch(a);
  let { notes, all, other } = store.getState();
  for (const s of [notes, all, other]) assert.deepEqual(selectPending(s).map((p) => p.id), [a.payload.id]);
  assert.deepEqual(titles(selectOptimistic(all).notes), ["A"]);
  assert.deepEqual(Object.keys(selectOptimistic(all)), ["notes"]);
  assert.deepEqual(selectConfirmed(all), {});
  assert.equal(other.ids.length, 0);
  store.dispatch(committed([commit(add("g", "G"), "George"), commit(a.payload)]));
  ({ notes, all, other } = store.getState());
  assert.deepEqual(Object.keys(all), ["notes"]);
  assert.deepEqual(titles(all.notes), ["A", "G"]);
  assert.equal(selectLastSeq(all), seq);
  assert.equal(selectLastSeq(other), seq);
  for (const s of [notes, all, other]) assert.equal(selectPending(s).length, 0);
});

test("a replayed commit after the queue emptied changes nothing; plain local actions still apply for good", () => {
  const store = notesStore();
  const a = local(add("a", "A"));
  store.dispatch(a);
  const stored = commit(a.payload);
  store.dispatch(committed([stored]));
  const s = store.getState();
  store.dispatch(committed([stored]));
  assert.equal(store.getState(), s);
  // the legacy path (localEvents: true): applied to the confirmed state, not pending
  store.dispatch(local(add("p", "P")));
  store.dispatch({ type: "editNoteTitle", payload: { id: "a", title: "A2" } });
  const now = store.getState().notes;
  assert.deepEqual(titles(selectConfirmed(now)), ["A2"]);
  assert.deepEqual(titles(now), ["A2", "P"]);
});

test("every flux/ action and state passes RTK's serializability and immutability checks (what DevTools shows)", () => {
  const complaints = [];
  const original = console.error;
  console.error = (...args) => complaints.push(args.join(" "));
  try {
    const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes"), all: reduxifyAll(notesWasm) } });
    const a = local(add("s1", "S1"));
    const b = local(add("s2", "S2"));
    store.dispatch(a);
    store.dispatch(b);
    store.dispatch(rejected(b.payload.id, Object.assign(new Error("nope"), { status: 422, kind: "rejected" })));
    store.dispatch(committed([commit(add("s3", "S3"), "George"), commit(a.payload)]));
    store.dispatch(dismissed(b.payload.id));
    assert.equal(selectPending(store.getState().notes).length, 0);
    assert.equal(selectPending(store.getState().all).length, 0);
  } finally {
    console.error = original;
  }
  assert.deepEqual(complaints, []);
});

test("a local event whose id is already pending is applied once (a second client over the same stored queue)", () => {
  const store = notesStore();
  const action = local(add("twice", "once"));
  store.dispatch(action);
  const before = store.getState().notes;
  store.dispatch(action); // e.g. a remount's client showing the stored queue again
  assert.equal(store.getState().notes, before, "nothing changed");
  const edit = local({ type: "editNoteText", payload: { id: "twice", text: "x" } });
  store.dispatch(edit);
  store.dispatch(edit);
  assert.deepEqual(selectPending(store.getState().notes).map((p) => p.id), [action.payload.id, edit.payload.id]);
  store.dispatch(committed([commit(action.payload), commit(edit.payload)]));
  assert.deepEqual(selectPending(store.getState().notes), []);
  assert.equal(store.getState().notes.entities.twice.text, "x");
});
