// Property test against the real notes server process: random interleavings of
// Mary's local events (through createClient), George's events (over HTTP, some on
// the same notes), the network cut and back (a TCP proxy), and reloads (a new page:
// new Redux Toolkit store, new MobX collection, new client over the same Storage).
// Once the network is back and everything is settled, every page's optimistic state
// equals its confirmed state equals the server's table; each event id is in the
// log at most once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fc from "fast-check";
import WebSocket from "ws";
import { configureStore } from "@reduxjs/toolkit";
import { reduxify, rowsOf, selectConfirmed, selectOptimistic, selectPending } from "../src/index.js";
import { createClient } from "../src/live.js";
import { ObservableCollection } from "../src/mobx.js";
import { dispatch as post, getJson, sleep, until } from "../../examples/notes/web/test/server.js";
import { MemoryStorage } from "./support/memory-storage.js";
import { useNotesServer } from "./support/notes-server.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const env = useNotesServer();

/** A page: a Redux store and a MobX collection, one client feeding both. */
function openPage(storage, errors, refused) {
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
  const mobx = new ObservableCollection(notesWasm, "notes");
  const client = createClient({
    url: env.proxy.url, token: "Mary", user: "Mary", WebSocket, storage, reducer: notesWasm,
    retry: { minDelay: 10, maxDelay: 80, jitter: false },
    dispatch: (action) => {
      store.dispatch(action);
      mobx.dispatch(action);
    },
    onError: (err) => errors.push(err),
    onRejected: ({ id }) => refused.add(id),
  });
  return { store, mobx, client };
}

const slots = ["a", "b", "c"];
const command = fc.oneof(
  fc.record({ type: fc.constant("addNote"), slot: fc.constantFrom(...slots), title: fc.string({ maxLength: 4 }) }),
  fc.record({ type: fc.constant("editNoteTitle"), slot: fc.constantFrom(...slots), title: fc.string({ maxLength: 4 }) }),
  fc.record({ type: fc.constant("removeNote"), slot: fc.constantFrom(...slots) }),
);
const step = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("local"), command }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remote"), command }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("resume") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reload") }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("wait"), ms: fc.integer({ min: 0, max: 30 }) }) },
);

let runNo = 0;
async function run(steps) {
  const prefix = `r${++runNo}-`;
  const payload = ({ type, slot, title }) => {
    const id = prefix + slot;
    if (type === "addNote") return { id, title, text: "" };
    if (type === "editNoteTitle") return { id, title };
    return { id };
  };
  const storage = new MemoryStorage();
  const errors = [];
  const sent = [];
  const refused = new Set();
  let page = openPage(storage, errors, refused);
  try {
    for (const s of steps) {
      switch (s.kind) {
        case "local":
          try {
            sent.push(page.client.dispatch({ type: s.command.type, payload: payload(s.command) }).id);
          } catch (err) {
            assert.equal(typeof err.kind, "string", String(err)); // refused locally: not sent
          }
          break;
        case "remote":
          await post(env.server.url, "George", s.command.type, payload(s.command)); // may be refused: fine
          break;
        case "cut":
          env.proxy.cut();
          break;
        case "resume":
          env.proxy.resume();
          page.client.retryNow();
          break;
        case "reload":
          page.client.close();
          page = openPage(storage, errors, refused);
          break;
        case "wait":
          await sleep(s.ms);
          break;
      }
    }
    env.proxy.resume();
    page.client.retryNow();
    const head = async () => (await getJson(env.server.url, "/events?after=0&limit=10000")).at(-1)?.seq ?? 0;
    await until(async () => page.client.status.pending === 0 && page.store.getState().notes.lastSeq === (await head()), "everything settled", 30_000);
    await until(() => page.mobx.lastSeq === page.store.getState().notes.lastSeq, "MobX too");
    const slice = page.store.getState().notes;
    assert.ok(selectPending(slice).every((p) => p.status === "rejected"), JSON.stringify(selectPending(slice)));
    assert.ok(page.mobx.pending.every((p) => p.status === "rejected"));
    const table = await getJson(env.server.url, "/collections/notes?limit=1000");
    assert.deepEqual(rowsOf(selectOptimistic(slice)), table);
    assert.deepEqual(rowsOf(selectConfirmed(slice)), table);
    assert.deepEqual(page.mobx.rows, table);
    const log = await getJson(env.server.url, "/events?after=0&limit=10000");
    const counts = new Map();
    for (const e of log) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    // each event: committed exactly once, or refused (and then never committed)
    for (const id of sent) assert.equal(counts.get(id) ?? 0, refused.has(id) ? 0 : 1, `event ${id}`);
    assert.equal(storage.length, 0);
    assert.deepEqual(errors.filter((e) => !/ECONNREFUSED|socket|closed|ECONNRESET|WebSocket/i.test(String(e?.message ?? e))), []);
  } finally {
    env.proxy.resume();
    page.client.close();
  }
}

test("random interleavings against the real server settle on the server's table (Redux Toolkit and MobX)", async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), run), { numRuns: 12 });
});
