// createClient's stored pending queue in a real headless Chromium against the real
// notes server, with IndexedDB (`indexedDBStorage()`) and with localStorage: the
// queue survives a reload and is sent once, in order; two tabs of one user (two
// pages of one browser context) share it: an event queued offline in one shows as
// pending in the other, and only the tab holding the Web Lock sends, each event
// once, in order; when that tab closes, the other takes over. A small page of its own (lab.html, served
// by the test's proxy in front of the server) loads the package as the notes page does,
// through its import map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndChromium } from "./chromium.js";
import { getJson, startHttpProxy, until } from "./server.js";

const WAIT = { timeout: 20_000 };

const LAB = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>client storage lab</title>
<script type="importmap">
{ "imports": {
  "@reduxjs/toolkit": "./vendor/@reduxjs/toolkit/redux-toolkit.browser.mjs",
  "redux": "./vendor/redux/redux.browser.mjs",
  "immer": "./vendor/immer/immer.production.mjs",
  "reselect": "./vendor/reselect/reselect.browser.mjs",
  "redux-thunk": "./vendor/redux-thunk/redux-thunk.mjs",
  "flux-capacitor": "./vendor/flux-capacitor/index.js",
  "flux-capacitor/live": "./vendor/flux-capacitor/live.js",
  "notes-wasm-web": "./vendor/notes-wasm-web/notes_wasm.js"
} }
</script>
<script type="module">
import { configureStore } from "@reduxjs/toolkit";
import { reduxify, rowsOf, selectConfirmed, selectPending } from "flux-capacitor";
import { createClient, indexedDBStorage } from "flux-capacitor/live";
import init, * as notesWasm from "notes-wasm-web";
await init();
const params = new URLSearchParams(location.search);
const user = params.get("user");
const storage = params.get("storage") === "indexeddb" ? indexedDBStorage() : "localstorage";
const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes", { localEvents: false }) } });
const errors = [];
const client = createClient({
  url: "/", token: user, user, dispatch: store.dispatch, reducer: notesWasm, storage,
  retry: { minDelay: 50, maxDelay: 200, jitter: false },
  onError: (err) => errors.push(String(err?.message ?? err)),
});
/** Every record of the IndexedDB queue store: [{ queue, id }]. */
const idbRecords = () => new Promise((resolve, reject) => {
  const open = indexedDB.open("flux-capacitor");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("pending")) return resolve([]);
    const all = db.transaction("pending").objectStore("pending").getAll();
    all.onsuccess = () => { resolve(all.result.map(({ queue, id }) => ({ queue, id }))); db.close(); };
    all.onerror = () => reject(all.error);
  };
});
const responses = new Map();
window.lab = {
  errors,
  dispatch: (event) => {
    const { id, response } = client.dispatch(event);
    responses.set(id, response);
    return id;
  },
  /** What the dispatch of event \`id\` resolved to: the stored events' ids (or the refusal's message). */
  response: (id) => responses.get(id).then((events) => events.map((e) => e.id), (err) => \`refused: \${err.message}\`),
  retryNow: () => client.retryNow(),
  view: () => {
    const s = store.getState().notes;
    return {
      pending: selectPending(s).map((p) => p.id),
      rows: rowsOf(s),
      confirmed: rowsOf(selectConfirmed(s)),
      queued: client.pending.map((p) => p.id),
      status: client.status,
    };
  },
  stored: async () => ({
    indexeddb: await idbRecords(),
    localstorage: Object.keys(localStorage).filter((k) => k.startsWith("flux-capacitor/pending")),
  }),
};
document.body.dataset.ready = "true";
</script></head><body></body></html>`;

const env = useServerAndChromium();

/**
 * A browser context (one profile: its tabs share storage and Web Locks) whose pages
 * reach the server through an HTTP proxy of their own (`url`), which also serves the
 * lab page. `sends(false)` makes the proxy drop every `POST /dispatch` as a cut
 * network does (the feed stays up): a real socket closed, so no request gets through
 * whatever path it takes in the browser (one sent by a page being reloaded, say).
 */
async function labContext() {
  const context = await env.browser.newContext();
  const proxy = await startHttpProxy(env.server.port, { pages: { "/lab.html": LAB } });
  return {
    context,
    url: proxy.url,
    sends(on) {
      proxy.refuse((method, path) => !on && method === "POST" && path.startsWith("/dispatch/"));
    },
    async close() {
      await context.close();
      await proxy.close();
    },
  };
}

const problems = [];
const opened = new Set();
/** On a failure: what each open lab page shows, its client's errors, and the page errors. */
async function explained(err) {
  for (const page of opened) {
    if (page.isClosed()) continue;
    const seen = await page.evaluate(() => ({ view: window.lab?.view(), errors: window.lab?.errors })).catch((e) => String(e));
    err.message += `\n-- ${page.url()}: ${JSON.stringify(seen)}`;
  }
  err.message += `\n-- page errors: ${problems.join("\n") || "(none)"}`;
  return err;
}
async function openLab({ context, url }, user, storage) {
  const page = await context.newPage();
  opened.add(page);
  page.dispatches = 0;
  page.on("request", (r) => r.method() === "POST" && new URL(r.url()).pathname.startsWith("/dispatch/") && page.dispatches++);
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${url}/lab.html?user=${user}&storage=${storage}`);
  await page.waitForSelector('body[data-ready="true"]', { ...WAIT, state: "attached" });
  await until(async () => (await view(page)).status.connection === "open", "the feed");
  return page;
}
const view = (page) => page.evaluate(() => window.lab.view());
const send = (page, event) => page.evaluate((e) => window.lab.dispatch(e), event);
const log = async () => getJson(env.server.url, "/events?after=0&limit=10000");
const serverRows = () => getJson(env.server.url, "/collections/notes?limit=1000");
const addNote = (id, title) => ({ type: "addNote", payload: { id, title, text: "" } });

for (const storage of ["indexeddb", "localstorage"]) {
  test(`${storage}: the pending queue survives a reload and is sent once, in order`, async () => {
    const lab = await labContext();
    const { sends } = lab;
    try {
      const page = await openLab(lab, "Tony", storage);
      sends(false);
      const note = crypto.randomUUID();
      const a = await send(page, addNote(note, `reloaded (${storage})`));
      const b = await send(page, { type: "editNoteText", payload: { id: note, text: "written offline" } });
      await until(async () => (await view(page)).status.retrying, "a failed send");
      await until(async () => {
        const stored = await page.evaluate(() => window.lab.stored());
        return storage === "indexeddb"
          ? stored.indexeddb.length === 2 && stored.localstorage.length === 0
          : stored.indexeddb.length === 0 && stored.localstorage.length === 1;
      }, `the queue in ${storage} only`);

      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { ...WAIT, state: "attached" });
      await until(async () => (await view(page)).pending.length === 2, "the reloaded queue shown as pending");
      const reloaded = await view(page);
      assert.deepEqual(reloaded.pending, [a, b]);
      assert.deepEqual(reloaded.queued, [a, b]);
      assert.equal(reloaded.rows.find((r) => r.id === note)?.text, "written offline", "shown at once after the reload");
      assert.equal(reloaded.confirmed.some((r) => r.id === note), false);

      sends(true);
      await page.evaluate(() => window.lab.retryNow());
      await until(async () => {
        const v = await view(page);
        return v.pending.length === 0 && v.status.pending === 0;
      }, "both events confirmed");
      const committed = (await log()).filter((e) => e.id === a || e.id === b).map((e) => e.id);
      assert.deepEqual(committed, [a, b], "in order, once each");
      assert.deepEqual((await view(page)).rows, await serverRows());
      await until(async () => {
        const stored = await page.evaluate(() => window.lab.stored());
        return stored.indexeddb.length === 0 && stored.localstorage.length === 0;
      }, "nothing left in storage");
      assert.deepEqual(await page.evaluate(() => window.lab.errors), []);
    } catch (err) {
      throw await explained(err);
    } finally {
      await lab.close();
      opened.clear();
    }
    assert.deepEqual(problems, []);
  });

  test(`${storage}: two tabs of one user share the queue; one sends it, once and in order; the other takes over`, async () => {
    const lab = await labContext();
    const { context } = lab;
    try {
      const first = await openLab(lab, "Mary", storage);
      await until(async () => (await view(first)).status.leader, "the first tab to lead");
      const second = await openLab(lab, "Mary", storage);
      await new Promise((done) => setTimeout(done, 200));
      assert.equal((await view(second)).status.leader, false, "one leader");

      await context.setOffline(true); // fetch fails in both tabs (the open feeds stay)
      const note = crypto.randomUUID();
      const a = await send(first, addNote(note, `shared (${storage})`));
      await until(async () => (await view(second)).pending.includes(a), "tab 1's event pending in tab 2");
      assert.equal((await view(second)).rows.find((r) => r.id === note)?.title, `shared (${storage})`);
      // tab 2 edits the note it sees pending: queued behind it, shown in both
      const b = await send(second, { type: "editNoteTitle", payload: { id: note, title: "edited in tab 2" } });
      await until(async () => (await view(first)).pending.includes(b), "tab 2's event pending in tab 1");
      for (const page of [first, second]) {
        const v = await view(page);
        assert.deepEqual(v.pending, [a, b]);
        assert.deepEqual(v.queued, [a, b]);
        assert.equal(v.rows.find((r) => r.id === note)?.title, "edited in tab 2");
      }
      await until(async () => (await view(first)).status.retrying, "tab 1 failing to send");
      assert.equal(second.dispatches, 0, "the follower does not send");

      await context.setOffline(false); // the browser's "online" event: the leader sends at once
      for (const page of [first, second]) {
        await until(async () => {
          const v = await view(page);
          return v.pending.length === 0 && v.status.pending === 0;
        }, "both events confirmed in both tabs");
      }
      const committed = (await log()).filter((e) => e.id === a || e.id === b).map((e) => e.id);
      assert.deepEqual(committed, [a, b], "in order, once each");
      assert.equal(second.dispatches, 0, "only the leader sent");
      // each tab's dispatch answered, though tab 1 sent both
      assert.deepEqual(await first.evaluate((id) => window.lab.response(id), a), [a]);
      assert.deepEqual(await second.evaluate((id) => window.lab.response(id), b), [b]);
      const rows = await serverRows();
      assert.deepEqual((await view(first)).rows, rows);
      assert.deepEqual((await view(second)).rows, rows);

      // the leader's tab closes: the other one takes the lock and sends its own events
      await first.close();
      await until(async () => (await view(second)).status.leader, "tab 2 to lead");
      const c = await send(second, { type: "editNoteText", payload: { id: note, text: "after tab 1 closed" } });
      await until(async () => (await view(second)).status.pending === 0, "tab 2's event confirmed");
      assert.ok(second.dispatches >= 1);
      assert.deepEqual((await log()).filter((e) => e.id === c).length, 1);
      assert.deepEqual((await view(second)).rows, await serverRows());
      assert.deepEqual(await second.evaluate(() => window.lab.errors), []);
    } catch (err) {
      throw await explained(err);
    } finally {
      await lab.close();
      opened.clear();
    }
    assert.deepEqual(problems, []);
  });
}
