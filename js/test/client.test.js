// createClient (flux-capacitor/live) against the real notes server process: local
// events show at once and are confirmed by the feed; a refusal marks that event only;
// events dispatched while the server is unreachable are resent in order; the queue
// survives a reload (a new client over the same Storage); a resend of a committed id
// commits nothing twice; a send without an answer is abandoned and sent again.
// Redux Toolkit and MobX as the adapters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import WebSocket from "ws";
import { configureStore } from "@reduxjs/toolkit";
import { reduxify, rowsOf, selectConfirmed, selectPending } from "../src/index.js";
import { createClient } from "../src/live.js";
import { ObservableCollection } from "../src/mobx.js";
import { dispatch as post, getJson, until } from "../../examples/notes/web/test/server.js";
import { MemoryStorage } from "./support/memory-storage.js";
import { useNotesServer } from "./support/notes-server.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const env = useNotesServer();

const fast = { minDelay: 20, maxDelay: 100, jitter: false };
const add = (id, title) => ({ type: "addNote", payload: { id, title, text: "" } });
const notesStore = () => configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
const serverRows = () => getJson(env.server.url, "/collections/notes?limit=1000");
const log = () => getJson(env.server.url, "/events?after=0&limit=1000");

function client(store, user, extra = {}) {
  const errors = [];
  const c = createClient({
    url: extra.url ?? env.proxy.url, token: user, user, dispatch: store.dispatch ?? store, WebSocket, retry: fast,
    storage: extra.storage ?? new MemoryStorage(), reducer: notesWasm,
    onError: (err) => errors.push(err), ...extra,
  });
  c.errors = errors;
  return c;
}

test("a local event shows at once, is sent with its id, and the feed confirms it", async () => {
  const store = notesStore();
  const c = client(store, "Mary");
  try {
    await until(() => c.status.connection === "open", "the feed");
    const id = crypto.randomUUID();
    const { id: eventId, response } = c.dispatch(add(id, "at once"));
    const now = store.getState().notes;
    assert.equal(now.entities[id].title, "at once", "shown before any answer");
    assert.equal(now.entities[id].author, "Mary", "meta.user locally, as the server stamps it");
    assert.equal(selectPending(now).length, 1);
    assert.equal(selectConfirmed(now).ids.length, 0);
    const stored = await response;
    assert.equal(stored[0].id, eventId);
    await until(() => selectPending(store.getState().notes).length === 0, "the commit through the feed");
    assert.equal(c.status.pending, 0);
    assert.deepEqual(rowsOf(store.getState().notes), await serverRows());
    assert.equal(c.status.divergences, 0);
    assert.deepEqual(c.errors, []);
  } finally {
    c.close();
  }
});

test("a refused event (403) is rejected alone; the events after it commit", async () => {
  const [{ payload: { id: marys } }] = (await post(env.server.url, "Mary", "addNote", { id: crypto.randomUUID(), title: "Mary's", text: "" })).body;
  const store = notesStore();
  const rejections = [];
  const c = client(store, "George", { onRejected: (r) => rejections.push(r) });
  try {
    await until(() => store.getState().notes.entities[marys], "Mary's note through the feed");
    const edit = c.dispatch({ type: "editNoteTitle", payload: { id: marys, title: "George was here" } });
    const mine = crypto.randomUUID();
    c.dispatch(add(mine, "George's"));
    assert.equal(store.getState().notes.entities[marys].title, "George was here", "optimistic until refused");
    await assert.rejects(edit.response, (err) => err.status === 403 && err.kind === "forbidden");
    await until(() => selectPending(store.getState().notes).length === 1, "the add to commit");
    const [left] = selectPending(store.getState().notes);
    assert.equal(left.id, edit.id);
    assert.equal(left.status, "rejected");
    assert.equal(left.error.status, 403);
    assert.equal(store.getState().notes.entities[marys].title, "Mary's", "the refused edit is no longer shown");
    assert.equal(store.getState().notes.entities[mine].title, "George's");
    assert.deepEqual(rejections.map((r) => r.id), [edit.id]);
    assert.equal(c.status.rejected, 1);
  } finally {
    c.close();
  }
});

test("a local reducer error throws from dispatch: nothing queued, nothing sent", async () => {
  const store = notesStore();
  const c = client(store, "Tony");
  try {
    const id = crypto.randomUUID();
    c.dispatch(add(id, "once"));
    assert.throws(() => c.dispatch(add(id, "twice")), (err) => err.kind === "duplicate_key");
    assert.equal(c.pending.length, 1);
    await until(() => c.status.pending === 0 && selectPending(store.getState().notes).length === 0, "the first to commit");
    assert.equal((await log()).filter((e) => e.payload?.id === id).length, 1);
  } finally {
    c.close();
  }
});

test("offline: events queue, are resent in order when the server is reachable again, each committed once (MobX)", async () => {
  const notes = new ObservableCollection(notesWasm, "notes");
  const c = client((action) => notes.dispatch(action), "Mary");
  try {
    await until(() => c.status.connection === "open", "the feed");
    env.proxy.cut();
    await until(() => c.status.connection === "retrying", "the drop");
    const id = crypto.randomUUID();
    const sent = [
      c.dispatch(add(id, "offline")),
      c.dispatch({ type: "editNoteTitle", payload: { id, title: "offline, edited" } }),
      c.dispatch({ type: "editNoteText", payload: { id, text: "written offline" } }),
    ];
    assert.equal(notes.entities.get(id).title, "offline, edited");
    assert.equal(notes.entities.get(id).text, "written offline");
    await until(() => c.status.retrying, "a failed send");
    assert.equal(notes.pending.length, 3);
    env.proxy.resume();
    c.retryNow();
    await until(() => notes.pending.length === 0 && c.status.pending === 0, "all three confirmed");
    const events = (await log()).filter((e) => sent.some((s) => s.id === e.id));
    assert.deepEqual(events.map((e) => e.id), sent.map((s) => s.id), "in order, once each");
    assert.deepEqual(notes.rows, await serverRows());
  } finally {
    env.proxy.resume();
    c.close();
  }
});

test("a send the network swallows is abandoned after retry.requestTimeout and sent again, committed once", async () => {
  const store = notesStore();
  let swallowed = 0;
  // The first POST never gets an answer (as when a connection is cut while it opens).
  const fetch = (url, init) => {
    if (swallowed++ > 0) return globalThis.fetch(url, init);
    return new Promise((_, fail) => init.signal?.addEventListener("abort", () => fail(init.signal.reason)));
  };
  const c = client(store, "Mary", { fetch, retry: { ...fast, requestTimeout: 200 } });
  try {
    await until(() => c.status.connection === "open", "the feed");
    const id = crypto.randomUUID();
    const { id: eventId, response } = c.dispatch(add(id, "swallowed once"));
    await until(() => c.status.pending === 0, "the resend's commit", 5_000);
    assert.equal((await response)[0].id, eventId);
    assert.equal(swallowed, 2, "sent twice: the swallowed POST and its resend");
    assert.equal((await log()).filter((e) => e.id === eventId).length, 1, "committed once");
    assert.deepEqual(rowsOf(store.getState().notes), await serverRows());
  } finally {
    c.close();
  }
});

test("reload: the queue survives in Storage, shows at once in the next page's store and is sent once", async () => {
  const storage = new MemoryStorage();
  const first = notesStore();
  const c1 = client(first, "Tony", { storage });
  env.proxy.cut();
  const id = crypto.randomUUID();
  const a = c1.dispatch(add(id, "before the reload"));
  const b = c1.dispatch({ type: "editNoteText", payload: { id, text: "still offline" } });
  await until(() => c1.status.retrying, "a failed send");
  c1.close();
  assert.equal(storage.length, 1);
  // the next page: a new store, a new client over the same storage
  const second = notesStore();
  const c2 = client(second, "Tony", { storage });
  try {
    assert.deepEqual(selectPending(second.getState().notes).map((p) => p.id), [a.id, b.id]);
    assert.equal(second.getState().notes.entities[id].text, "still offline");
    env.proxy.resume();
    c2.retryNow();
    await until(() => c2.status.pending === 0 && selectPending(second.getState().notes).length === 0, "the resent events to commit");
    assert.equal(storage.length, 0, "nothing left to resend");
    const events = (await log()).filter((e) => e.id === a.id || e.id === b.id);
    assert.deepEqual(events.map((e) => e.id), [a.id, b.id]);
    assert.deepEqual(rowsOf(second.getState().notes), await serverRows());
  } finally {
    env.proxy.resume();
    c2.close();
  }
});

test("a stored event the server already committed is answered from the log, not committed again", async () => {
  const storage = new MemoryStorage();
  const id = crypto.randomUUID();
  const eventId = crypto.randomUUID();
  // committed before the "reload" (the page closed before the feed confirmed it)
  const first = await fetch(`${env.server.url}/dispatch/addNote?id=${eventId}`, {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer Mary" },
    body: JSON.stringify({ id, title: "committed once", text: "" }),
  });
  assert.equal(first.status, 200);
  const key = "flux-capacitor/pending " + new URL("/", env.proxy.url).href + " Mary";
  storage.setItem(key, JSON.stringify([{ id: eventId, event: { ...add(id, "committed once"), id: eventId, timestamp: new Date().toISOString(), meta: { user: "Mary" } } }]));
  const store = notesStore();
  const c = client(store, "Mary", { storage });
  try {
    await until(() => c.status.pending === 0 && selectPending(store.getState().notes).length === 0, "the resend to settle");
    assert.equal((await log()).filter((e) => e.id === eventId).length, 1);
    assert.equal(store.getState().notes.entities[id].title, "committed once");
    assert.deepEqual(c.errors, []);
  } finally {
    c.close();
  }
});

test("a feed resumed past a stored event's commit: the resend's answer confirms it", async () => {
  const storage = new MemoryStorage();
  const id = crypto.randomUUID();
  const eventId = crypto.randomUUID();
  const first = await post(env.server.url, "Mary", `addNote?id=${eventId}`, { id, title: "answered", text: "" });
  assert.equal(first.status, 200);
  // the page restored its confirmed state up to the head (say, from a cache), then resumes the feed there
  const store = notesStore();
  const events = await log();
  store.dispatch({ type: "flux/committed", payload: events });
  const head = events.at(-1).seq;
  const key = "flux-capacitor/pending " + new URL("/", env.proxy.url).href + " Mary";
  storage.setItem(key, JSON.stringify([{ id: eventId, event: { ...add(id, "answered"), id: eventId, timestamp: new Date().toISOString() } }]));
  const c = client(store, "Mary", { storage, after: head });
  try {
    // it no longer applies here (the restored state holds it): not shown, but resent
    assert.equal(selectPending(store.getState().notes).length, 0);
    assert.equal(c.status.pending, 1);
    c.dispatch(add(crypto.randomUUID(), "after it")); // queued behind it, shown at once
    await until(() => c.status.pending === 0 && selectPending(store.getState().notes).length === 0, "the answer to confirm it");
    assert.equal(c.status.rejected, 0);
    assert.equal(store.getState().notes.lastSeq, head + 1, "the next event came through the feed");
    assert.equal((await log()).filter((e) => e.id === eventId).length, 1);
    assert.deepEqual(rowsOf(store.getState().notes), await serverRows());
    assert.equal(storage.length, 0);
  } finally {
    c.close();
  }
});
