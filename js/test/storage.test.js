// Where createClient keeps its pending queue (storage.js): the Web Storage queue writes
// one entry at a time (two writers of one key never lose each other's events), the
// `storage` option's forms, and an asynchronous queue storage (as IndexedDB is; the
// browser's own runs in examples/notes/web/test/client-storage.test.js) against the
// real notes server: the stored events are shown once read and sent before the ones
// dispatched meanwhile, each once, in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import WebSocket from "ws";
import { configureStore } from "@reduxjs/toolkit";
import { reduxify, rowsOf, selectPending } from "../src/index.js";
import { createClient, indexedDBStorage } from "../src/live.js";
import { queueOf, webStorageQueue } from "../src/storage.js";
import { getJson, until } from "../../examples/notes/web/test/server.js";
import { MemoryStorage } from "./support/memory-storage.js";
import { useNotesServer } from "./support/notes-server.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const env = useNotesServer({ proxy: false });

const entry = (id, title = id) => ({ id, event: { type: "addNote", payload: { id, title, text: "" }, id, timestamp: "2026-12-01T00:00:00Z" } });

test("Web Storage queue: appends and removes one entry, so two writers of one key keep each other's events", () => {
  const storage = new MemoryStorage();
  const tabA = webStorageQueue(storage, "k");
  const tabB = webStorageQueue(storage, "k");
  tabA.append(entry("a"));
  tabB.append(entry("b"));
  tabA.append(entry("a")); // already stored: left alone
  assert.deepEqual(tabB.load().map((e) => e.id), ["a", "b"]);
  tabB.remove("a");
  tabB.remove("nothing");
  assert.deepEqual(tabA.load().map((e) => e.id), ["b"]);
  tabA.remove("b");
  assert.equal(storage.length, 0, "an empty queue leaves no key behind");
  assert.deepEqual(webStorageQueue(storage, "other").load(), []);
});

test("Web Storage queue: malformed entries are dropped; a value that is not a list throws on load and is replaced by the next write", () => {
  const storage = new MemoryStorage();
  storage.setItem("k", JSON.stringify([entry("ok"), { id: 1 }, { id: "x", event: {} }, null]));
  assert.deepEqual(webStorageQueue(storage, "k").load().map((e) => e.id), ["ok"]);
  storage.setItem("k", "{oops");
  const q = webStorageQueue(storage, "k");
  assert.throws(() => q.load(), SyntaxError);
  q.append(entry("fresh"));
  assert.deepEqual(q.load().map((e) => e.id), ["fresh"]);
});

test("the storage option: its forms, and a typed error for anything else", () => {
  assert.equal(queueOf(null, "k"), null);
  assert.equal(queueOf(undefined, "k"), null, "no localStorage in Node: memory only");
  assert.equal(queueOf("localstorage", "k"), null);
  const storage = new MemoryStorage();
  queueOf(storage, "k").append(entry("w"));
  assert.equal(JSON.parse(storage.getItem("k"))[0].id, "w");
  const opened = [];
  const custom = { open: (key) => (opened.push(key), { load: () => [], append() {}, remove() {} }) };
  queueOf(custom, "the key");
  assert.deepEqual(opened, ["the key"]);
  assert.throws(() => queueOf("sessionstorage", "k"), { name: "TypeError", message: /`storage` must be/ });
  assert.throws(() => queueOf({}, "k"), TypeError);
  // Node has no IndexedDB: said at once, not at the first write
  assert.throws(() => indexedDBStorage(), { name: "TypeError", message: /no IndexedDB/ });
  assert.throws(
    () => createClient({ url: "http://127.0.0.1:1", dispatch: () => {}, storage: "indexeddb", WebSocket }),
    /no IndexedDB/,
  );
});

/** A queue storage whose every operation answers later (as IndexedDB does), over a Map shared by its clients. */
class SlowQueueStorage {
  queues = new Map();
  open(key) {
    const later = (f) => new Promise((done) => setTimeout(() => done(f()), 15));
    const list = () => this.queues.get(key) ?? [];
    return {
      load: () => later(() => list().map((e) => ({ ...e }))),
      append: (e) => later(() => {
        if (!list().some((x) => x.id === e.id)) this.queues.set(key, [...list(), { id: e.id, event: e.event }]);
      }),
      remove: (id) => later(() => this.queues.set(key, list().filter((x) => x.id !== id))),
    };
  }
}

test("an asynchronous storage: the stored queue is shown once read, sent first, each once and in order", async () => {
  const storage = new SlowQueueStorage();
  const key = `flux-capacitor/pending ${env.server.url}/ Mary`;
  const note = crypto.randomUUID();
  const stored = [
    { id: crypto.randomUUID(), event: { type: "addNote", payload: { id: note, title: "stored", text: "" } } },
    { id: crypto.randomUUID(), event: { type: "editNoteText", payload: { id: note, text: "stored edit" } } },
  ].map((e) => ({ id: e.id, event: { ...e.event, id: e.id, timestamp: new Date().toISOString(), meta: { user: "Mary" } } }));
  storage.queues.set(key, stored);

  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
  const errors = [];
  const client = createClient({
    url: env.server.url, token: "Mary", user: "Mary", dispatch: store.dispatch, WebSocket, storage, reducer: notesWasm,
    onError: (err) => errors.push(err), retry: { minDelay: 20, maxDelay: 100, jitter: false },
  });
  try {
    // before the queue is read: nothing of it shown yet; an event dispatched now shows at once
    assert.equal(selectPending(store.getState().notes).length, 0);
    const meanwhile = client.dispatch({ type: "editNoteTitle", payload: { id: note, title: "dispatched meanwhile" } });
    await until(() => selectPending(store.getState().notes).length === 3 || client.status.lastSeq > 0, "the stored queue shown");
    await until(() => client.status.pending === 0 && selectPending(store.getState().notes).length === 0, "all confirmed");
    const ids = [...stored.map((e) => e.id), meanwhile.id];
    const log = (await getJson(env.server.url, "/events?after=0&limit=10000")).filter((e) => ids.includes(e.id));
    assert.deepEqual(log.map((e) => e.id), ids, "the stored events first, then the new one; once each");
    const row = store.getState().notes.entities[note];
    assert.deepEqual([row.title, row.text], ["dispatched meanwhile", "stored edit"]);
    assert.deepEqual(rowsOf(store.getState().notes), await getJson(env.server.url, "/collections/notes?limit=1000"));
    await until(() => (storage.queues.get(key) ?? []).length === 0, "the storage emptied");
    assert.deepEqual(errors, []);
  } finally {
    client.close();
  }
});
