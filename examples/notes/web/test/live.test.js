// flux-capacitor/live against the real notes server: every committed event
// exactly once, in seq order, across dropped connections and a server restart
// with events dispatched while the client was away; and a Redux store fed by it
// (the same wasm package the page uses) equals the server's table.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { configureStore } from "@reduxjs/toolkit";
import { committed, reduxify, rowsOf } from "flux-capacitor";
import { connectLive } from "flux-capacitor/live";
import * as notesWasm from "notes-wasm-web";
import { WEB_DIR, dispatch, getJson, startProxy, startServer, tempDatabase, until } from "./server.js";

notesWasm.initSync({ module: readFileSync(join(WEB_DIR, "node_modules/notes-wasm-web/notes_wasm_bg.wasm")) });

let db;
let server;
let proxy;
before(async () => {
  db = tempDatabase();
  server = await startServer({ database: db.url });
  proxy = await startProxy(server.port);
});
after(async () => {
  await server?.stop();
  await proxy?.close();
  db?.remove();
});

async function add(base, user, title) {
  const { status, body } = await dispatch(base, user, "addNote", { id: crypto.randomUUID(), title, text: `by ${user}` });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

test("follows every committed event exactly once, across drops and a restart", async () => {
  const received = [];
  const batches = [];
  const statuses = [];
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
  const live = connectLive({
    url: `${proxy.url}/events/live`,
    token: "George",
    WebSocket,
    retry: { minDelay: 20, maxDelay: 200 },
    onEvents: (batch) => {
      batches.push(batch);
      received.push(...batch);
      store.dispatch(committed(batch));
    },
    onStatus: (status) => statuses.push(status),
    onError: (err) => assert.fail(err),
  });
  try {
    await until(() => live.status === "open", "the first connection");

    // 1. events while connected
    const first = await add(server.url, "George", "one");
    await add(server.url, "Mary", "two");
    const [{ payload: { id: firstId } }] = first;
    // (George's own note: only its author may edit it)
    const edit = await dispatch(server.url, "George", "editNoteTitle", { id: firstId, title: "one, renamed" });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    await until(() => live.lastSeq === 3, "seqs 1..3");
    assert.deepEqual(received.map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual(received.map((e) => e.meta?.user), ["George", "Mary", "George"]);
    for (const batch of batches) {
      for (let i = 1; i < batch.length; i++) assert.equal(batch[i].seq, batch[i - 1].seq + 1, "consecutive seqs in a batch");
    }

    // 2. the connection drops; events are committed meanwhile
    const opened = statuses.filter((s) => s === "open").length;
    proxy.cut();
    await until(() => live.status === "retrying", "the client to notice the drop");
    await add(server.url, "Mary", "three");
    await dispatch(server.url, "George", "removeNote", { id: firstId });
    await until(() => statuses.filter((s) => s === "retrying").length >= 2, "a refused reconnect");
    assert.equal(live.lastSeq, 3);
    proxy.resume();
    await until(() => live.lastSeq === 5, "seqs 4..5 after the reconnect");
    assert.ok(statuses.filter((s) => s === "open").length > opened, "reconnected");

    // 3. the server stops and another one starts on the same database; events
    //    are dispatched to the new one before the client can reach it
    proxy.cut();
    await server.stop();
    server = await startServer({ database: db.url });
    await add(server.url, "Tony", "four");
    await add(server.url, "George", "five");
    proxy.resume(server.port);
    await until(() => live.lastSeq === 7, "seqs 6..7 from the restarted server");

    // nothing missed, nothing twice, in order: exactly the server's log
    const log = await getJson(server.url, "/events?after=0&limit=1000");
    assert.deepEqual(received.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(received, log);
    assert.equal(new Set(received.map((e) => e.id)).size, 7);

    // the same reducers in the client give exactly the server's table
    assert.deepEqual(rowsOf(store.getState().notes), await getJson(server.url, "/collections/notes"));
    assert.deepEqual(rowsOf(store.getState().notes).map((n) => n.title).sort(), ["five", "four", "three", "two"]);
  } finally {
    live.close();
  }
  assert.equal(live.status, "closed");
});

test("resumes from any seq: after=N gives exactly the events after N", async () => {
  const log = await getJson(server.url, "/events?after=0&limit=1000");
  assert.ok(log.length >= 7);
  for (const from of [0, 3, log.at(-1).seq]) {
    const got = [];
    const live = connectLive({ url: `${server.url}/events/live`, after: from, token: "Mary", WebSocket, onEvents: (b) => got.push(...b) });
    try {
      await until(() => live.status === "open", "the connection");
      await until(() => live.lastSeq === log.at(-1).seq, `the backlog after ${from}`);
      assert.deepEqual(got, log.filter((e) => e.seq > from));
      // a new event arrives live, once
      const [event] = await add(server.url, "Mary", `after ${from}`);
      await until(() => live.lastSeq === event.seq, "the live event");
      assert.deepEqual(got.at(-1), event);
      log.push(event);
    } finally {
      live.close();
    }
  }
});

test("an unknown token is refused (401) and the client keeps retrying, never delivering", async () => {
  const response = await fetch(`${server.url}/events?after=0`, { headers: { Authorization: "Bearer Nobody" } });
  assert.equal(response.status, 401);
  const got = [];
  const statuses = [];
  const live = connectLive({
    url: `${server.url}/events/live`, token: "Nobody", WebSocket, retry: { minDelay: 10, maxDelay: 20 },
    onEvents: (b) => got.push(...b), onStatus: (s) => statuses.push(s),
  });
  try {
    await until(() => statuses.filter((s) => s === "retrying").length >= 2, "two refused attempts");
    assert.equal(statuses.includes("open"), false);
    assert.deepEqual(got, []);
  } finally {
    live.close();
  }
});
