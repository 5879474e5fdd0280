// Frontend benchmarks: reduxify and the MobX adapter beside their baselines.
//
//   node --expose-gc js/bench/frontend.js   (from the repository root; ESM; prints figures)
//   QUICK=1 node js/bench/frontend.js       (fewer iterations: a smoke run, ~1 minute)
//   RTK_EVENTS=100 ...                      (RTK applies 100 of the batch's 1,000 events, scaled)
//
// A full run takes ~7 minutes on 2 cores, most of it RTK applying 1,000 events one by one at
// 100,000 entities. --expose-gc is optional (a collection between phases).
//
// The reducer is the notes example compiled to wasm (js/pkg-notes/nodejs, built by
// scripts/build-wasm-packages.sh). Baselines: Redux Toolkit's createEntityAdapter in a
// createSlice reducer (the same stored events, one action each, computing the same
// rows in JS), and a hand-written MobX store (observable map + key-ordered ids).
// Every system applies exactly the same event sequence. Both Redux reducers are called
// directly, not through configureStore (whose development-mode checks walk the whole
// state on every action). A figure, never a test.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import os from "node:os";
import { createEntityAdapter, createSlice } from "@reduxjs/toolkit";
import { action, makeObservable, observable } from "mobx";
import { committed, reduxify } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
let notesWasm;
try {
  notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");
} catch (e) {
  console.error("js/pkg-notes/nodejs is missing: build it with `bash scripts/build-wasm-packages.sh`.\n" + e.message);
  process.exit(1);
}

const QUICK = !!process.env.QUICK;
const SIZES = [1_000, 100_000];
// per-action runs: warm-up and measured events per system and size
const RUNS = QUICK
  ? { 1000: { warm: 200, n: 500 }, 100000: { warm: 3, n: 20 } }
  : { 1000: { warm: 1000, n: 3000 }, 100000: { warm: 10, n: 100 } };
const BATCH = 1_000;
const BATCHES = QUICK ? 3 : 10; // batches of 1,000 events at 100,000 entities, applied in turn
// RTK applies the first RTK_EVENTS events of the first batch one by one (~0.1-0.3 s each at
// 100,000 entities); fewer than 1,000 are scaled to 1,000 and the output says so.
const RTK_EVENTS = Number(process.env.RTK_EVENTS ?? (QUICK ? 100 : BATCH));

// ---- deterministic events ---------------------------------------------------------------------

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(42);
const hex = (n) => Array.from({ length: n }, () => ((rand() * 16) | 0).toString(16)).join("");
const USERS = ["Mary", "Tony", "George", "Ada"];
const T0 = Date.UTC(2026, 0, 1);
let seq = 0;
/** A stored event as the server pushes it: id, seq, timestamp, meta.user. */
const stored = (type, payload) => {
  seq++;
  return {
    id: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
    type, payload, meta: { user: USERS[seq % USERS.length] },
    seq, timestamp: new Date(T0 + seq * 1000).toISOString(),
  };
};

/** The ids present (the generator's model of the collection). */
class Ids {
  constructor() { this.list = []; this.set = new Set(); }
  fresh() {
    for (;;) {
      const id = `n${hex(10)}`; // random position in key order
      if (!this.set.has(id)) return id;
    }
  }
  add(id) { this.set.add(id); this.list.push(id); }
  pick() { return this.list[(rand() * this.list.length) | 0]; }
  removeRandom() {
    const i = (rand() * this.list.length) | 0, id = this.list[i];
    this.list[i] = this.list[this.list.length - 1]; this.list.pop(); this.set.delete(id);
    return id;
  }
}
let model = new Ids();
const addNote = () => { const id = model.fresh(); model.add(id); return stored("addNote", { id, title: `title ${seq}`, text: `text of ${id}` }); };
const editTitle = () => stored("editNoteTitle", { id: model.pick(), title: `title ${seq + 1}` });
const editText = () => stored("editNoteText", { id: model.pick(), text: `text ${seq + 1}` });
const removeNote = () => stored("removeNote", { id: model.removeRandom() });
/** An addNote of an id not present, left out of the model (applied, timed, then taken back). */
const probeNote = () => { const id = model.fresh(); return stored("addNote", { id, title: `title ${seq}`, text: `text of ${id}` }); };
const undo = (e) => stored("removeNote", { id: e.payload.id });
const times = (n, f) => Array.from({ length: n }, f);
const edits = (n) => times(n, (_, i) => (i % 3 ? editTitle() : editText()));
/** A pushed batch: 30% addNote, 40% editNoteTitle, 20% editNoteText, 10% removeNote. */
const mixed = (n) => times(n, (_, i) => [addNote, editTitle, editTitle, editText, addNote, editTitle, removeNote, editText, addNote, editTitle][i % 10]());

// ---- the systems ------------------------------------------------------------------------------

const rowOf = (e) => ({ id: e.payload.id, title: e.payload.title, text: e.payload.text ?? "",
  author: e.meta?.user ?? "anonymous", created: e.timestamp, updated: e.timestamp });

function rtkSlice(sortComparer) {
  const adapter = createEntityAdapter(sortComparer ? { sortComparer } : undefined);
  return createSlice({
    name: "notes",
    initialState: adapter.getInitialState(),
    reducers: { load: (s, a) => adapter.setAll(s, a.payload) },
    extraReducers: (b) => b
      .addCase("addNote", (s, e) => adapter.addOne(s, rowOf(e)))
      .addCase("editNoteTitle", (s, e) => adapter.updateOne(s, { id: e.payload.id, changes: { title: e.payload.title, updated: e.timestamp } }))
      .addCase("editNoteText", (s, e) => adapter.updateOne(s, { id: e.payload.id, changes: { text: e.payload.text, updated: e.timestamp } }))
      .addCase("removeNote", (s, e) => adapter.removeOne(s, e.payload.id)),
  });
}

/** What a MobX user writes by hand: observable rows in a map, ids kept in key order. */
class HandMobx {
  constructor() {
    this.ids = observable.array([], { deep: false });
    this.entities = observable.map();
    makeObservable(this, { apply: action });
  }
  index(id) { // ids are ASCII here, so `<` is key order
    let lo = 0, hi = this.ids.length;
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.ids[m] < id) lo = m + 1; else hi = m; }
    return lo;
  }
  apply(events) {
    for (const e of events) {
      const { id } = e.payload, row = this.entities.get(id);
      switch (e.type) {
        case "addNote": if (!row) { this.entities.set(id, rowOf(e)); this.ids.splice(this.index(id), 0, id); } break;
        case "editNoteTitle": if (row) { row.title = e.payload.title; row.updated = e.timestamp; } break;
        case "editNoteText": if (row) { row.text = e.payload.text; row.updated = e.timestamp; } break;
        case "removeNote": if (row) { this.entities.delete(id); this.ids.splice(this.index(id), 1); } break;
      }
    }
  }
}

function makeSystems() {
  const ours = reduxify(notesWasm, "notes");
  const rtk = rtkSlice(), rtkSorted = rtkSlice((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const systems = {
    reduxify: { pure: true, state: undefined, one: (s, e) => ours(s, committed([e])), batch: (s, es) => ours(s, committed(es)) },
    "RTK entity adapter": { pure: true, state: rtk.reducer(undefined, { type: "@@init" }), one: rtk.reducer, load: (s, rows) => rtk.reducer(s, rtk.actions.load(rows)) },
    "RTK adapter, sortComparer": { pure: true, state: rtkSorted.reducer(undefined, { type: "@@init" }), one: rtkSorted.reducer, load: (s, rows) => rtkSorted.reducer(s, rtkSorted.actions.load(rows)) },
    "MobX adapter": { obj: new ObservableCollection(notesWasm, "notes"), one: (c, e) => (c.apply([e]), c), batch: (c, es) => (c.apply(es), c) },
    "MobX by hand": { obj: new HandMobx(), one: (c, e) => (c.apply([e]), c), batch: (c, es) => (c.apply(es), c) },
  };
  for (const s of Object.values(systems)) if (s.obj) s.state = s.obj;
  return systems;
}

// ---- measuring --------------------------------------------------------------------------------

const stats = (samples) => {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { mean, p50: q(0.5), p99: q(0.99), n: samples.length };
};
const gc = () => globalThis.gc?.();
const progress = (msg) => process.stderr.write(`  ... ${msg}\n`);

/** Applies `events` in turn, one action each; per-action times in ms. */
function perAction(sys, events) {
  const out = new Array(events.length);
  let s = sys.state;
  for (let i = 0; i < events.length; i++) {
    const t = performance.now();
    s = sys.one(s, events[i]);
    out[i] = performance.now() - t;
  }
  sys.state = s;
  return out;
}

/**
 * Inserts at a constant size: a pure reducer applies each insert to the same state
 * (result dropped); a mutable store applies it, then (untimed) removes it again.
 */
function perInsert(sys, events) {
  const out = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const t = performance.now();
    const s = sys.one(sys.state, events[i]);
    out[i] = performance.now() - t;
    if (!sys.pure) sys.one(s, undo(events[i]));
  }
  return out;
}

const fmt = (x, d = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
const table = [];
function record(op, size, name, st, { perItem = 1, baseline, baselineName, note = "" } = {}) {
  const meanUs = (st.mean / perItem) * 1000;
  const r = { op, size, name, meanUs, p50Us: (st.p50 / perItem) * 1000, p99Us: (st.p99 / perItem) * 1000, n: st.n,
    eventsPerSec: 1e6 / meanUs, ratio: baseline ? st.mean / baseline.mean : null, baselineName, note };
  table.push(r);
  const vs = r.ratio === null ? "" : `  ${r.ratio.toFixed(3)} of ${baselineName}` + (r.ratio < 0.05 ? ` (${(1 / r.ratio).toFixed(0)}x faster)` : "");
  const q = st.n > 1 ? `p50 ${fmt(r.p50Us).padStart(8)}  p99 ${fmt(r.p99Us).padStart(8)}` : " ".repeat(27);
  console.log(`${op.padEnd(22)} ${size.toLocaleString("en").padStart(7)}  ${name.padEnd(27)} mean ${fmt(r.meanUs).padStart(8)} µs  ${q}  ${fmt(r.eventsPerSec, 0).padStart(8)} ev/s  n=${String(st.n).padEnd(5)}${vs}${note}`);
  return r;
}

// ---- run --------------------------------------------------------------------------------------

const cpu = os.cpus()[0]?.model ?? "?";
console.log(`# frontend benchmarks: node ${process.version}, ${os.cpus().length} cpus (${cpu}), ${new Date().toISOString().slice(0, 10)}${QUICK ? ", QUICK" : ""}`);
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`# load average at start: ${loadavg()} (other processes on the machine skew the figures)`);
console.log(`# RTK ${require("@reduxjs/toolkit/package.json").version}, immer ${require("immer/package.json").version}, mobx ${require("mobx/package.json").version}; times per action (per event for batches), in µs`);

const results = {};
let systems = null;
for (const size of SIZES) {
  systems = makeSystems();
  model = new Ids();
  // `size` notes: one committed batch through reduxify and the MobX adapter; the same rows into the baselines
  progress(`loading ${size} notes`);
  const load = times(size, addNote);
  const t = performance.now();
  systems.reduxify.state = systems.reduxify.batch(undefined, load);
  const loadMs = performance.now() - t;
  const loaded = systems.reduxify.state.ids.map((id) => systems.reduxify.state.entities[id]);
  for (const name of ["RTK entity adapter", "RTK adapter, sortComparer"]) systems[name].state = systems[name].load(systems[name].state, loaded);
  systems["MobX adapter"].batch(systems["MobX adapter"].obj, load);
  systems["MobX by hand"].batch(systems["MobX by hand"].obj, load);
  console.log(`\n## ${size.toLocaleString("en")} entities (reduxify took ${loadMs.toFixed(0)} ms to load them from one committed batch)`);
  const { warm, n } = RUNS[size];
  for (const [op, make, run] of [["update (editNoteTitle)", editTitle, perAction], ["insert (addNote)", probeNote, perInsert]]) {
    const warmEvents = times(warm, make), events = times(n, make);
    const res = {};
    for (const [name, sys] of Object.entries(systems)) {
      if (name === "RTK adapter, sortComparer" && run !== perInsert) continue;
      progress(`${op} at ${size}: ${name}`);
      run(sys, warmEvents);
      gc();
      res[name] = stats(run(sys, events));
    }
    const rtk = { baseline: res["RTK entity adapter"], baselineName: "RTK" };
    record(op, size, "RTK entity adapter", res["RTK entity adapter"]);
    if (res["RTK adapter, sortComparer"]) record(op, size, "RTK adapter, sortComparer", res["RTK adapter, sortComparer"], rtk);
    record(op, size, "reduxify", res.reduxify, rtk);
    record(op, size, "MobX by hand", res["MobX by hand"], rtk);
    record(op, size, "MobX adapter", res["MobX adapter"], { baseline: res["MobX by hand"], baselineName: "MobX by hand" });
    results[`${op}@${size}`] = res;
  }
}

// batches of 1,000 mixed pushed events at 100,000 entities
{
  console.log(`\n## a batch of ${BATCH} pushed events at ${model.list.length.toLocaleString("en")} entities (30% add, 60% edit, 10% remove)`);
  const warmBatch = edits(BATCH); // edits only: the ids stay those RTK has
  const batches = times(BATCHES, () => mixed(BATCH));
  const timed = (f) => { const t = performance.now(); f(); return performance.now() - t; };
  const res = {};
  for (const name of ["reduxify", "MobX adapter", "MobX by hand"]) {
    progress(`${BATCHES} batches: ${name}`);
    const sys = systems[name];
    sys.state = sys.batch(sys.state, warmBatch);
    gc();
    res[name] = stats(batches.map((b) => timed(() => { sys.state = sys.batch(sys.state, b); })));
  }
  progress(`RTK: ${RTK_EVENTS} events one by one (the slow part)`);
  const rtk = systems["RTK entity adapter"];
  gc();
  const rtkMs = timed(() => perAction(rtk, batches[0].slice(0, RTK_EVENTS)));
  res.rtk = stats([(rtkMs * BATCH) / RTK_EVENTS]);
  const note = RTK_EVENTS < BATCH ? `  (${RTK_EVENTS} of the ${BATCH} events measured, scaled)` : "";
  const vsRtk = { perItem: BATCH, baseline: res.rtk, baselineName: "RTK" };
  record("batch of 1,000", 100_000, "RTK, one action per event", res.rtk, { perItem: BATCH, note });
  record("batch of 1,000", 100_000, "reduxify committed(batch)", res.reduxify, vsRtk);
  record("batch of 1,000", 100_000, "MobX by hand, one action", res["MobX by hand"], vsRtk);
  record("batch of 1,000", 100_000, "MobX adapter apply(batch)", res["MobX adapter"], { ...vsRtk, baseline: res["MobX by hand"], baselineName: "MobX by hand" });
  console.log(`(whole batch: RTK ${(res.rtk.mean / 1000).toFixed(1)} s${note.replace("  ", " ")}; reduxify ${res.reduxify.mean.toFixed(1)} ms, MobX adapter ${res["MobX adapter"].mean.toFixed(1)} ms, MobX by hand ${res["MobX by hand"].mean.toFixed(1)} ms)`);
  results.batch = res;
}

// ---- targets ----------------------------------------------------------------------------------

console.log("\n## targets");
for (const size of SIZES) {
  for (const op of ["update (editNoteTitle)", "insert (addNote)"]) {
    const res = results[`${op}@${size}`];
    const r = res.reduxify.mean / res["RTK entity adapter"].mean;
    console.log(`reduxify ${op} at ${size.toLocaleString("en")}: ${r.toFixed(3)} of RTK's time (target <= 0.5): ${r <= 0.5 ? "met" : "MISSED"}`);
  }
}
const speedup = results.batch.rtk.mean / results.batch.reduxify.mean;
console.log(`batch of ${BATCH} at 100,000: ${speedup.toFixed(0)}x faster than RTK one by one (target >= 100x): ${speedup >= 100 ? "met" : "MISSED"}`);
console.log(`# load average at end: ${loadavg()}`);
if (process.env.JSON) console.log(JSON.stringify(table));
