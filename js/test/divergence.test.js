// The divergence check: a committed event carries the hash of the changeset the server
// applied; an adapter hashes the changeset it computed for it and reports a mismatch
// (callback, console warning, MobX counter). A deliberately non-deterministic reducer
// (the notes wasm reducer with Math.random() in every new note) diverges; the real
// one does not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { configureStore } from "@reduxjs/toolkit";
import { committed, local, reduxify, reduxifyAll, selectConfirmed, selectDivergences, selectLastSeq, selectPending, uuidv7 } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

/** The notes reducer, except that every new note's text is random: not deterministic. */
const flaky = {
  reduce: (event) => notesWasm.reduce(event).map((op) => (op.op === "create" ? { ...op, row: { ...op.row, text: String(Math.random()) } } : op)),
  changesetHash: notesWasm.changesetHash,
};

let seq = 0;
/** What the server pushes: the stored event with the hash of the changeset it applied (the real reducer's). */
function stored(type, payload, { withHash = true } = {}) {
  const event = { type, payload, meta: { user: "Mary" }, id: uuidv7(), seq: ++seq, timestamp: "2026-11-30T10:00:00Z" };
  if (withHash) event.hash = notesWasm.changesetHash(notesWasm.reduce(event));
  return event;
}
const add = (id) => stored("addNote", { id, title: id, text: "" });

/** Runs `body` with console.warn captured; resolves after the microtasks the reports are queued in. */
async function capturingWarnings(body) {
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    await body();
    await new Promise((done) => setTimeout(done, 0));
  } finally {
    console.warn = original;
  }
  return warnings;
}

test("reduxify: a non-deterministic reducer's committed events are reported once each; the hash of a faithful one matches", async () => {
  const divergences = [];
  const onDivergence = (d) => divergences.push(d);
  const events = [add("a"), stored("editNoteTitle", { id: "a", title: "A" }), add("b")];
  const warnings = await capturingWarnings(() => {
    const store = configureStore({
      reducer: {
        // two slices and a reduxifyAll, one callback: each event reported once
        notes: reduxify(flaky, "notes", { onDivergence }),
        again: reduxify(flaky, "notes", { onDivergence }),
        all: reduxifyAll(flaky, { onDivergence }),
      },
    });
    store.dispatch(committed(events));
    assert.equal(divergences.length, 0, "reported after the reducer, not during it");
  });
  assert.deepEqual(divergences.map((d) => d.seq), [events[0].seq, events[2].seq]);
  const [first] = divergences;
  assert.equal(first.expected, events[0].hash);
  assert.match(first.actual, /^[0-9a-f]{16}$/);
  assert.notEqual(first.actual, first.expected);
  assert.equal(first.id, events[0].id);
  assert.equal(notesWasm.changesetHash(first.changeset), first.actual);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], new RegExp(`divergence at seq ${events[0].seq}`));

  const faithful = [];
  const quiet = await capturingWarnings(() => {
    const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { onDivergence: (d) => faithful.push(d) }) } });
    store.dispatch(committed([add("c"), stored("removeNote", { id: "c" })]));
  });
  assert.deepEqual(faithful, []);
  assert.deepEqual(quiet, []);
});

test("only committed events that carry a hash are checked; pending ones are not", async () => {
  const divergences = [];
  await capturingWarnings(() => {
    const store = configureStore({ reducer: { notes: reduxify(flaky, "notes", { onDivergence: (d) => divergences.push(d) }) } });
    store.dispatch(local({ type: "addNote", payload: { id: "p", title: "p", text: "" } }));
    store.dispatch(committed([stored("addNote", { id: "old", title: "old", text: "" }, { withHash: false })]));
  });
  assert.deepEqual(divergences, []);
});

test("Redux: the divergence counter is in the state (selectDivergences), serializable, kept under pending events and across slices", async () => {
  const warnings = await capturingWarnings(() => {
    // RTK's default middleware: the serializability and immutability checks run on every dispatch
    const store = configureStore({
      reducer: {
        notes: reduxify(flaky, "notes", { localEvents: false }),
        faithful: reduxify(notesWasm, "notes", { localEvents: false }),
        all: reduxifyAll(flaky),
      },
    });
    const state = () => store.getState();
    assert.equal(selectDivergences(state().notes), 0, "none yet");
    assert.equal(Object.hasOwn(state().notes, "flux/divergences"), false, "no key until a divergence");

    const first = add("a1");
    store.dispatch(committed([first, stored("editNoteTitle", { id: "a1", title: "A" })]));
    assert.equal(selectDivergences(state().notes), 1, "the add diverges (random text), the edit does not");
    assert.equal(selectDivergences(state().all), 1);
    assert.equal(selectDivergences(state().faithful), 0);
    assert.equal(selectLastSeq(state().all), seq, "the counter is not a collection");
    assert.deepEqual(Object.keys(state().all).sort(), ["flux/divergences", "notes"]);

    store.dispatch(committed([first])); // a replay: applied once, counted once
    assert.equal(selectDivergences(state().notes), 1);

    // under a pending event: the confirmed state and the visible one both count
    store.dispatch(local({ type: "addNote", payload: { id: "p1", title: "p", text: "" } }));
    store.dispatch(committed([add("a2"), add("a3")]));
    assert.equal(selectPending(state().notes).length, 1);
    assert.equal(selectDivergences(state().notes), 3);
    assert.equal(selectDivergences(selectConfirmed(state().notes)), 3);
    assert.equal(selectDivergences(state().all), 3);
    assert.equal(selectDivergences(state().faithful), 0);
    // plain data, as RTK's serializability check demands (it would have thrown above)
    assert.deepEqual(JSON.parse(JSON.stringify(state().notes))["flux/divergences"], 3);
  });
  assert.equal(warnings.length, 3, "one console warning per divergent event");
});

test("reduxifyAll refuses a collection named like its divergence counter", () => {
  const reducer = reduxifyAll(() => [{ op: "create", collection: "flux/divergences", row: { id: "x" } }]);
  assert.throws(() => reducer(undefined, committed([{ type: "t", payload: null, id: uuidv7(), seq: 1, timestamp: "2026-11-30T10:00:00Z" }])), /flux\/divergences/);
});

test("MobX: divergences is an observable count; onDivergence is told", async () => {
  const told = [];
  const notes = new ObservableCollection(flaky, "notes", { onDivergence: (d) => told.push(d.seq) });
  const events = [add("x"), add("y")];
  await capturingWarnings(() => {
    notes.apply(events);
    notes.local({ type: "addNote", payload: { id: "z", title: "z", text: "" } });
    notes.apply([add("w")]); // under pending: checked too
  });
  assert.equal(notes.divergences, 3);
  assert.deepEqual(told, [events[0].seq, events[1].seq, seq]);
  const faithful = new ObservableCollection(notesWasm, "notes");
  faithful.apply([add("v")]);
  assert.equal(faithful.divergences, 0);
});

test("options.changesetHash stands in for a reducer given as a bare function", async () => {
  const told = [];
  await capturingWarnings(() => {
    const reducer = reduxify(flaky.reduce, "notes", { changesetHash: notesWasm.changesetHash, onDivergence: (d) => told.push(d.seq) });
    reducer(undefined, committed([add("f")]));
    const unchecked = reduxify(flaky.reduce, "notes", { onDivergence: (d) => told.push(d.seq) });
    unchecked(undefined, committed([add("g")]));
  });
  assert.deepEqual(told, [seq - 1]);
});
