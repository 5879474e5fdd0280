// The divergence check end to end, against the real notes server process: the server
// attaches to each committed event the hash of the changeset it applied; a client
// whose reducer is deliberately not deterministic (the notes reducer with
// Math.random() in every new note's text) reports each such committed event (its
// onDivergence callback, a console warning, `status.divergences`, and the counter
// in its Redux state), while a client with the real reducer, following the same
// feed, reports none.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import WebSocket from "ws";
import { configureStore } from "@reduxjs/toolkit";
import { reduxify, rowsOf, selectDivergences, selectPending } from "../src/index.js";
import { createClient } from "../src/live.js";
import { getJson, until } from "../../examples/notes/web/test/server.js";
import { useNotesServer } from "./support/notes-server.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const env = useNotesServer({ proxy: false });

/** The notes reducer, except that every new note's text is random: not deterministic. */
const flaky = {
  reduce: (event) => notesWasm.reduce(event).map((op) => (op.op === "create" ? { ...op, row: { ...op.row, text: String(Math.random()) } } : op)),
  changesetHash: notesWasm.changesetHash,
};

/** A page of `user`: a Redux store whose slice runs `reducer`, and a client over it with the same reducer. */
function page(user, reducer) {
  const told = { client: [], store: [] };
  const errors = [];
  const store = configureStore({
    reducer: { notes: reduxify(reducer, "notes", { localEvents: false, onDivergence: (d) => told.store.push(d) }) },
  });
  const client = createClient({
    url: env.server.url, token: user, user, dispatch: store.dispatch, WebSocket, storage: null, reducer,
    onDivergence: (d) => told.client.push(d), onError: (err) => errors.push(err),
    retry: { minDelay: 20, maxDelay: 100, jitter: false },
  });
  return { store, client, told, errors };
}

test("a non-deterministic reducer's committed events are reported as divergences; the real reducer's are not", async () => {
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  const mary = page("Mary", flaky);
  const george = page("George", notesWasm);
  try {
    await until(() => mary.client.status.connection === "open" && george.client.status.connection === "open", "both feeds");
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    const sent = [
      mary.client.dispatch({ type: "addNote", payload: { id: ids[0], title: "random text", text: "" } }),
      mary.client.dispatch({ type: "editNoteTitle", payload: { id: ids[0], title: "random text, edited" } }),
      mary.client.dispatch({ type: "addNote", payload: { id: ids[1], title: "more random text", text: "" } }),
    ];
    const stored = (await Promise.all(sent.map((s) => s.response))).flat();
    assert.equal(stored.length, 3);
    for (const e of stored) assert.match(e.hash, /^[0-9a-f]{16}$/, "the server sends the changeset's hash");
    for (const p of [mary, george]) {
      await until(() => p.client.status.lastSeq >= stored.at(-1).seq && selectPending(p.store.getState().notes).length === 0, "the commits in both pages");
    }
    await new Promise((done) => setTimeout(done, 20)); // the reports follow the reducer (a microtask)

    // Mary: the two adds diverged (their text is random here), the edit did not
    const adds = stored.filter((e) => e.type === "addNote");
    assert.equal(mary.client.status.divergences, 2);
    assert.deepEqual(mary.told.client.map((d) => d.seq), adds.map((e) => e.seq));
    assert.deepEqual(mary.told.store.map((d) => d.seq), adds.map((e) => e.seq));
    for (const [d, e] of mary.told.client.map((d, i) => [d, adds[i]])) {
      assert.equal(d.id, e.id);
      assert.equal(d.expected, e.hash, "the server's hash");
      assert.notEqual(d.actual, d.expected);
      assert.equal(notesWasm.changesetHash(d.changeset), d.actual);
    }
    assert.equal(selectDivergences(mary.store.getState().notes), 2, "the counter in the Redux state");
    const maryWarnings = warnings.filter((w) => adds.some((e) => w.includes(e.id)));
    assert.equal(maryWarnings.length, 2, "one console warning per divergent event");
    assert.match(maryWarnings[0], new RegExp(`divergence at seq ${adds[0].seq}`));

    // George, same feed, the real reducer: nothing to report, and his page is the server's table
    assert.equal(george.client.status.divergences, 0);
    assert.deepEqual(george.told.client, []);
    assert.deepEqual(george.told.store, []);
    assert.equal(selectDivergences(george.store.getState().notes), 0);
    assert.deepEqual(rowsOf(george.store.getState().notes), await getJson(env.server.url, "/collections/notes?limit=1000"));
    // Mary's page drifted where it diverged: that is what the check is for
    assert.notDeepEqual(rowsOf(mary.store.getState().notes), rowsOf(george.store.getState().notes));
    assert.equal(warnings.length, 2, "no other warnings");
    assert.deepEqual([...mary.errors, ...george.errors], []);
  } finally {
    console.warn = original;
    mary.client.close();
    george.client.close();
  }
});
