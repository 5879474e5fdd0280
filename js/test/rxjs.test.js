// flux-capacitor/rxjs with real rxjs: fluxState's observables follow committed
// batches, pending local events, rejections and reducer errors (which never end the
// stream); liveEvents + follow + createClient against the real notes server end on
// the server's table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { firstValueFrom, filter } from "rxjs";
import WebSocket from "ws";
import { committed, local, rejected, rowsOf, uuidv7 } from "../src/index.js";
import { createClient } from "../src/live.js";
import { fluxState, follow, liveEvents } from "../src/rxjs.js";
import { getJson, until } from "../../examples/notes/web/test/server.js";
import { MemoryStorage } from "./support/memory-storage.js";
import { useNotesServer } from "./support/notes-server.js";


const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

let seq = 0;
const commit = (event, user = "Mary") => ({ ...event, meta: { user }, id: event.id ?? uuidv7(), seq: ++seq, timestamp: "2026-12-01T00:00:00Z" });
const add = (id, title) => ({ type: "addNote", payload: { id, title, text: "" } });
const titles = (s) => rowsOf(s).map((r) => r.title);

test("fluxState: state$, pending$, confirmed$ follow local, committed and rejected; errors leave the stream alive", () => {
  const s = fluxState(notesWasm, { collection: "notes" });
  const states = [];
  const pendings = [];
  const confirmed = [];
  s.state$.subscribe((v) => states.push(titles(v)));
  s.pending$.subscribe((p) => pendings.push(p.map((e) => e.status)));
  s.confirmed$.subscribe((c) => confirmed.push(titles(c)));
  const a = s.dispatch(local(add("a", "A")));
  const b = s.dispatch(local(add("b", "B")));
  assert.throws(() => s.dispatch(local(add("a", "again"))), (err) => err.kind === "duplicate_key");
  s.dispatch(committed([commit(add("g", "G"), "George")]));
  s.dispatch(rejected(b.payload.id, { status: 403, code: "forbidden", message: "no" }));
  s.dispatch(committed([commit(a.payload)]));
  s.dispatch({ type: "unrelated" }); // no new state: nothing emitted
  assert.deepEqual(states, [[], ["A"], ["A", "B"], ["A", "B", "G"], ["A", "G"], ["A", "G"]]);
  assert.deepEqual(pendings, [[], ["sending"], ["sending", "sending"], ["sending", "rejected"], ["rejected"]]);
  assert.deepEqual(confirmed, [[], ["G"], ["A", "G"]]);
  s.complete();
  assert.throws(() => s.dispatch(local(add("c", "C"))), /completed/);
});

test("fluxState over every collection (reduxifyAll) and optimistic$ without the bookkeeping key", async () => {
  const s = fluxState(notesWasm);
  const next = firstValueFrom(s.optimistic$.pipe(filter((v) => Object.keys(v).length > 0)));
  s.dispatch(local(add("x", "X")));
  assert.deepEqual(Object.keys(await next), ["notes"]);
  assert.ok(Object.hasOwn(s.getState(), "flux/optimistic"));
});

const env = useNotesServer({ proxy: false });

test("liveEvents + follow + createClient against the real server: local events at once, settled on the server's table", async () => {
  const s = fluxState(notesWasm, { collection: "notes" });
  const errors = [];
  // George's feed: an observable of batches, followed into the state
  const subscription = follow(s, liveEvents({ url: `${env.server.url}/events/live`, token: "George", WebSocket, retry: { minDelay: 20 } }), (e) => errors.push(e));
  // Mary's client, whose local events go into the same state (the feed is George's: Mary's events come back through it)
  const client = createClient({ url: env.server.url, token: "Mary", user: "Mary", dispatch: s.dispatch, WebSocket, storage: new MemoryStorage(), reducer: notesWasm, onError: (e) => errors.push(e) });
  try {
    const id = crypto.randomUUID();
    client.dispatch(add(id, "via rxjs"));
    assert.equal(s.getState().entities[id].title, "via rxjs");
    const settled = await firstValueFrom(s.pending$.pipe(filter((p) => p.length === 0)));
    assert.deepEqual(settled, []);
    await until(async () => JSON.stringify(rowsOf(s.getState())) === JSON.stringify(await getJson(env.server.url, "/collections/notes")), "the server's table");
    assert.equal(s.getState().entities[id].author, "Mary");
    assert.deepEqual(errors, []);
  } finally {
    client.close();
    subscription.unsubscribe();
  }
});
