// Property test of the pending queue (fast-check): random interleavings of local
// events, other users' events, sends (committed, refused, or committed with the
// answer lost and resent), feed deliveries, reconnects replaying part of the feed,
// and reloads (new stores; the unsent queue re-applied from storage). A model server
// here commits through the same wasm reducers (idempotent by event id, refusing what
// the notes server refuses). At every step Redux Toolkit's store and MobX's
// collection show the same rows and the same pending list; once everything is sent
// and delivered, the optimistic state equals the confirmed state equals the server's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fc from "fast-check";
import { configureStore } from "@reduxjs/toolkit";
import {
  committed, dismissed, local, rejected, reduxify, reduxifyAll, rowsOf, selectConfirmed, selectOptimistic, selectPending,
} from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

/** The server: a log and its state, through the same reducers; each id committed at most once. */
class ModelServer {
  log = [];
  byId = new Map();
  state = undefined;
  apply = reduxifyAll(notesWasm, { localEvents: false });

  /** Commits `event` as `user`: `{ events }` (also for an id committed before), or `{ error }` (4xx). */
  commit(event, user, forbidden = false) {
    if (this.byId.has(event.id)) return { events: [this.byId.get(event.id)] };
    if (forbidden) return { error: { status: 403, code: "forbidden", message: "may not" } };
    const notes = this.state?.notes?.entities ?? {};
    if (event.type !== "addNote" && !Object.hasOwn(notes, event.payload.id)) {
      return { error: { status: 422, code: "rejected", message: `no note \`${event.payload.id}\`` } };
    }
    const seq = this.log.length + 1;
    const stored = { type: event.type, payload: event.payload, meta: { user }, id: event.id, seq, timestamp: `2026-12-01T00:00:${String(seq).padStart(4, "0")}Z` };
    try {
      this.state = this.apply(this.state, committed([stored]));
    } catch (err) {
      return { error: { status: 409, code: err.kind, message: err.message } };
    }
    this.log.push(stored);
    this.byId.set(stored.id, stored);
    return { events: [stored] };
  }

  rows() {
    return this.state?.notes ? rowsOf(this.state.notes) : [];
  }
}

/** One page: a Redux store and a MobX collection fed the same actions. */
class Page {
  constructor() {
    this.store = configureStore({
      reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) },
      middleware: (defaults) => defaults({ immutableCheck: false, serializableCheck: false }),
    });
    this.mobx = new ObservableCollection(notesWasm, "notes");
  }

  /** Dispatches `action` into both; both throw or neither does. */
  dispatch(action) {
    let reduxError = null;
    let mobxError = null;
    try {
      this.store.dispatch(action);
    } catch (err) {
      reduxError = err;
    }
    try {
      this.mobx.dispatch(action);
    } catch (err) {
      mobxError = err;
    }
    assert.equal(mobxError?.kind, reduxError?.kind, `Redux and MobX disagree on ${action.type}`);
    if (reduxError) throw reduxError;
  }

  get slice() {
    return this.store.getState().notes;
  }

  /** Redux and MobX show the same rows and the same pending list. */
  check() {
    assert.deepEqual(this.mobx.rows, rowsOf(selectOptimistic(this.slice)));
    assert.deepEqual(this.mobx.confirmed.ids, selectConfirmed(this.slice).ids);
    const summary = (list) => list.map((p) => [p.id, p.status, p.error?.kind ?? null]);
    assert.deepEqual(summary(this.mobx.pending), summary(selectPending(this.slice)));
    assert.equal(this.mobx.lastSeq, this.slice.lastSeq);
  }
}

const ids = ["a", "b", "c"];
const command = fc.oneof(
  fc.record({ type: fc.constant("addNote"), payload: fc.record({ id: fc.constantFrom(...ids), title: fc.string({ maxLength: 3 }), text: fc.constant("") }) }),
  fc.record({ type: fc.constant("editNoteTitle"), payload: fc.record({ id: fc.constantFrom(...ids), title: fc.string({ maxLength: 3 }) }) }),
  fc.record({ type: fc.constant("editNoteText"), payload: fc.record({ id: fc.constantFrom(...ids), text: fc.string({ maxLength: 3 }) }) }),
  fc.record({ type: fc.constant("removeNote"), payload: fc.record({ id: fc.constantFrom(...ids) }) }),
);
const step = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("local"), command, forbidden: fc.boolean({ trueWeight: 1, falseWeight: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remote"), command }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("send"), n: fc.integer({ min: 1, max: 3 }), lose: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("feed"), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reconnect"), back: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reload") }) },
);

function run(steps) {
  const server = new ModelServer();
  let page = new Page();
  const outbox = []; // persisted: [{ event, forbidden }], unanswered, in order
  let delivered = 0; // the seq the page's feed has delivered
  const send = (n, lose) => {
    for (let i = 0; i < n && outbox.length; i++) {
      const { event, forbidden } = outbox[0];
      const answer = server.commit(event, "Mary", forbidden);
      if (answer.error) {
        outbox.shift();
        page.dispatch(rejected(event.id, answer.error));
      } else if (!lose) outbox.shift(); // answered; the feed confirms it
      // lost: the answer never came; the same id goes again
    }
  };
  const feed = (n) => {
    const batch = server.log.slice(delivered, delivered + n);
    if (!batch.length) return;
    delivered += batch.length;
    page.dispatch(committed(batch));
  };
  for (const s of steps) {
    switch (s.kind) {
      case "local": {
        const action = local({ ...s.command, meta: { user: "Mary" } });
        try {
          page.dispatch(action);
        } catch (err) {
          assert.equal(typeof err.kind, "string"); // refused locally: nothing queued
          break;
        }
        outbox.push({ event: action.payload, forbidden: s.forbidden });
        break;
      }
      case "remote":
        server.commit(local(s.command).payload, "George");
        break;
      case "send":
        send(s.n, s.lose);
        break;
      case "feed":
        feed(s.n);
        break;
      case "reconnect":
        delivered = Math.max(0, delivered - s.back); // the feed resumes earlier: overlap
        break;
      case "reload": {
        page = new Page();
        delivered = 0;
        for (const entry of outbox) {
          try {
            page.dispatch(local(entry.event));
          } catch {
            // no longer applies on the fresh page: not shown, sent all the same (as createClient does)
          }
        }
        break;
      }
    }
    page.check();
  }
  // Everything sent and delivered.
  while (outbox.length) send(outbox.length, false);
  feed(server.log.length);
  page.check();
  const pending = selectPending(page.slice);
  assert.ok(pending.every((p) => p.status === "rejected"), "only refused events stay");
  const rows = server.rows();
  assert.deepEqual(rowsOf(selectOptimistic(page.slice)), rows);
  assert.deepEqual(rowsOf(selectConfirmed(page.slice)), rows);
  assert.deepEqual(page.mobx.rows, rows);
  for (const p of pending) page.dispatch(dismissed(p.id));
  assert.deepEqual(Object.keys(page.slice).sort(), ["entities", "ids", "lastSeq"]);
  assert.deepEqual(rowsOf(page.slice), rows);
  assert.equal(page.mobx.pending.length, 0);
  assert.equal(page.mobx.confirmed, page.mobx.state);
}

test("after any interleaving, once all is sent and delivered: optimistic = confirmed = server (Redux Toolkit and MobX)", () => {
  fc.assert(fc.property(fc.array(step, { maxLength: 40 }), run), { numRuns: 300 });
});
