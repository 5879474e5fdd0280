// Optimistic updates in a real headless Chromium against the real notes server:
// two users in separate browser contexts (so only one goes offline). George,
// offline, adds, edits and removes notes: each shows at once, marked pending;
// his queue survives a reload; back online, both pages end with the server's
// state, each of his events committed once, and the one the server refuses
// (an edit of Mary's note, forged by hand) is shown on that note while the
// events queued after it are committed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { SERVED_BY_THE_TEST, useServerAndChromium } from "./chromium.js";
import { DIST_DIR, REPO_ROOT, getJson, startProxy } from "./server.js";

const SCREENSHOT_OFFLINE = join(REPO_ROOT, "artifacts/notes-offline.png");
const SCREENSHOT_REJECTED = join(REPO_ROOT, "artifacts/notes-rejected.png");
const WAIT = { timeout: 20_000 };
const POLL = { ...WAIT, polling: 50 };
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };

// George's reload while offline is served by the test
const env = useServerAndChromium([SERVED_BY_THE_TEST]);
const proxies = [];
const problems = [];
after(async () => {
  for (const proxy of proxies) await proxy.close();
});

/**
 * A browser context of its own (its own localStorage) whose network can be cut:
 * `offline(true)` is Playwright's `setOffline` (fetch fails) plus what it does not
 * do: the live feed's WebSocket is closed and refused (setOffline leaves open
 * sockets alone), and a reload is served the page's files from disk, as a cached
 * app shell would be, while every other request fails. The context reaches the
 * server through its own TCP proxy (`url`), cut while offline: the cut does not
 * rest on the browser's emulation alone, so nothing of an offline user's can reach
 * the server, whatever path a request takes through the browser.
 */
async function userContext() {
  const context = await env.browser.newContext({ viewport: { width: 1200, height: 860 } });
  const proxy = await startProxy(env.server.port);
  proxies.push(proxy);
  const net = { offline: false, sockets: new Set() };
  // every POST the context made and how it ended, for the failure messages
  const posts = [];
  const journal = (outcome) => (request) => {
    if (request.method() === "POST") posts.push(`${outcome} ${new URL(request.url()).pathname}${net.offline ? " (offline)" : ""}`);
  };
  context.on("requestfinished", journal("answered"));
  context.on("requestfailed", journal("failed"));
  await context.routeWebSocket(/\/events\/live/, (ws) => {
    if (net.offline) {
      ws.close({ code: 4000, reason: "offline" });
      return;
    }
    ws.connectToServer();
    net.sockets.add(ws);
    ws.onClose(() => net.sockets.delete(ws));
  });
  await context.route("**/*", async (route) => {
    if (!net.offline) return route.continue();
    const url = new URL(route.request().url());
    const path = url.pathname === "/" ? "/index.html" : url.pathname;
    if (route.request().method() === "GET" && !path.startsWith("/events") && !path.startsWith("/collections")) {
      try {
        const body = readFileSync(join(DIST_DIR, decodeURIComponent(path)));
        return route.fulfill({ status: 200, body, contentType: TYPES[extname(path)] ?? "application/octet-stream" });
      } catch {
        // not a file of the page: the network is down
      }
    }
    return route.abort("internetdisconnected");
  });
  return {
    context,
    url: proxy.url,
    posts,
    async offline(on) {
      net.offline = on;
      if (on) proxy.cut();
      else proxy.resume();
      await context.setOffline(on);
      if (on) for (const ws of net.sockets) await ws.close({ code: 4000, reason: "offline" });
    },
  };
}

async function open({ context, url }, user) {
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`[${user}] page error: ${err.message}`));
  page.on("console", (msg) => msg.type() === "error" && problems.push(`[${user}] console: ${msg.text()}`));
  await page.goto(`${url}/?user=${user}`);
  await page.waitForSelector('body[data-ready="true"]', WAIT);
  await page.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  return page;
}

/** The page's notes, in display order, with their marks. */
const notesOf = (page) =>
  page.$$eval('[data-testid="note"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      author: el.dataset.author,
      title: el.querySelector('[data-testid="note-title"]').value,
      text: el.querySelector('[data-testid="note-text"]').value,
      pending: el.dataset.pending !== undefined && el.querySelector('[data-testid="note-pending"]').checkVisibility(),
      error: el.querySelector('[data-testid="note-error"]').checkVisibility()
        ? el.querySelector('[data-testid="note-error-text"]').textContent
        : null,
    })),
  );
const titlesOf = async (page) => (await notesOf(page)).map((n) => n.title).sort();
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const shown = (rows) => rows.map(({ id, title, text = "", author }) => ({ id, title, text, author })).sort(byId);
const inNote = (id, testid) => `[data-testid="note"][data-id="${id}"] [data-testid="${testid}"]`;

async function waitForTitles(page, titles) {
  await page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll('[data-testid="note-title"]')].map((el) => el.value);
      return JSON.stringify(got.sort()) === JSON.stringify([...want].sort());
    },
    titles,
    POLL,
  );
}

/** Adds a note through the form; resolves once the click returned (the page handled it). */
async function add(page, title, text = "") {
  await page.bringToFront();
  await page.fill('[data-testid="add-title"]', title);
  await page.fill('[data-testid="add-text"]', text);
  await page.click('[data-testid="add-submit"]');
}

/** The client's persisted queue (the ids, oldest first). */
const storedQueue = (page, user) =>
  page.evaluate((user) => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("flux-capacitor/pending ") && k.endsWith(` ${user}`));
    return key ? JSON.parse(localStorage.getItem(key)).map((e) => ({ id: e.id, type: e.event.type })) : [];
  }, user);

test("offline edits show at once, survive a reload, and converge on the server's state once back", async () => {
  const georgeNet = await userContext();
  const maryNet = await userContext();
  const george = await open(georgeNet, "George");
  const mary = await open(maryNet, "Mary");

  // online: a note shows in the page that added it as soon as the click returned
  await add(george, "Groceries", "milk");
  assert.deepEqual(await titlesOf(george), ["Groceries"], "shown at once");
  await add(george, "Gone", "");
  await add(mary, "Mary's list", "plutonium");
  for (const page of [george, mary]) await waitForTitles(page, ["Groceries", "Gone", "Mary's list"]);
  await george.waitForFunction(() => !document.querySelector('[data-testid="note"][data-pending]'), null, POLL);
  const initial = await notesOf(george);
  const id = (title) => initial.find((n) => n.title === title).id;
  const head = (await getJson(env.server.url, "/events?after=0")).length;
  assert.equal(head, 3);

  // George goes offline
  await georgeNet.offline(true);
  await george.waitForSelector('[data-testid="connection"][data-status="retrying"]', WAIT);
  await george.bringToFront();
  await add(george, "Offline A", "a");
  await add(george, "Offline B", "b");
  const georgeTitle = george.locator(inNote(id("Groceries"), "note-title"));
  await georgeTitle.fill("Groceries (offline)");
  await georgeTitle.press("Enter");
  // an edit of Mary's note, her read-only field made editable by hand: applies
  // here at once, and the server will refuse it (403)
  const forged = george.locator(inNote(id("Mary's list"), "note-title"));
  await forged.evaluate((input) => (input.readOnly = false));
  await forged.fill("George's list");
  await forged.press("Enter");
  const a = (await notesOf(george)).find((n) => n.title === "Offline A");
  await george.fill(inNote(a.id, "note-text"), "a, edited offline");
  await george.press(inNote(a.id, "note-text"), "Tab");
  const b = (await notesOf(george)).find((n) => n.title === "Offline B");
  await george.click(inNote(b.id, "note-remove"));
  await george.click(inNote(id("Gone"), "note-remove"));

  // all at once, marked pending, nothing sent
  const offline = await notesOf(george);
  assert.deepEqual(offline.map((n) => [n.title, n.text, n.pending, n.error]).sort(), [
    ["George's list", "plutonium", true, null],
    ["Groceries (offline)", "milk", true, null],
    ["Offline A", "a, edited offline", true, null],
  ]);
  await george.waitForSelector('[data-testid="outbox"][data-retrying="true"]', WAIT); // a send failed
  assert.equal(await george.textContent('[data-testid="outbox"]'), "7 unsent · retrying");
  const queue = await storedQueue(george, "George");
  assert.deepEqual(queue.map((e) => e.type), ["addNote", "addNote", "editNoteTitle", "editNoteTitle", "editNoteText", "removeNote", "removeNote"]);
  assert.equal((await getJson(env.server.url, "/events?after=0")).length, head, "nothing reached the server");

  // Mary, online, meanwhile; George's cut-off page does not get it
  await add(mary, "Meanwhile", "");
  await waitForTitles(mary, ["Groceries", "Gone", "Mary's list", "Meanwhile"]);
  await mary.waitForFunction(() => !document.querySelector('[data-testid="note"][data-pending]'), null, POLL);
  assert.deepEqual((await notesOf(george)).map((n) => n.title).sort(), ["George's list", "Groceries (offline)", "Offline A"]);

  mkdirSync(join(REPO_ROOT, "artifacts"), { recursive: true });
  await george.bringToFront();
  await george.screenshot({ path: SCREENSHOT_OFFLINE, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${relative(REPO_ROOT, SCREENSHOT_OFFLINE)}`);

  // a reload while offline: the queue is still there and applied again at once (the
  // server's notes cannot load, so the edits of those wait for their commit)
  await george.reload();
  await george.waitForSelector('body[data-ready="true"]', WAIT);
  await george.waitForSelector('[data-testid="note"][data-pending]', WAIT);
  assert.deepEqual((await notesOf(george)).map((n) => [n.title, n.text, n.pending]), [["Offline A", "a, edited offline", true]]);
  assert.deepEqual(await storedQueue(george, "George"), queue, "the same queue, in order");
  await george.waitForSelector('[data-testid="outbox"][data-retrying="true"]', WAIT);
  assert.equal(await george.textContent('[data-testid="outbox"]'), "7 unsent · retrying");
  const reached = (await getJson(env.server.url, "/events?after=0")).slice(head);
  assert.deepEqual(
    reached.map((e) => e.meta.user),
    ["Mary"],
    `still nothing of George's; the log after #${head}: ${JSON.stringify(reached.map(({ seq, id, type, meta }) => ({ seq, id, type, meta })))}; George's POSTs: ${georgeNet.posts.join(", ")}`,
  );

  // back online: the queue is sent in order, the refused edit shows on Mary's note
  // in George's page, the events after it are committed, and both pages end with
  // the server's notes
  await georgeNet.offline(false);
  const expected = ["Groceries (offline)", "Mary's list", "Meanwhile", "Offline A"];
  for (const page of [george, mary]) await waitForTitles(page, expected);
  await george.waitForSelector('[data-testid="outbox"]', { ...WAIT, state: "hidden" });
  await george.waitForFunction(() => !document.querySelector('[data-testid="note"][data-pending]'), null, POLL);
  const server_notes = await getJson(env.server.url, "/collections/notes");
  assert.deepEqual(server_notes.map((n) => n.title).sort(), expected);
  for (const page of [george, mary]) {
    await page.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
    assert.deepEqual(shown(await notesOf(page)), shown(server_notes));
  }
  assert.equal(server_notes.find((n) => n.title === "Offline A").text, "a, edited offline");

  // each of George's events committed once, in his order; the refused one not at all
  const events = await getJson(env.server.url, "/events?after=0");
  const ids = events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  const refusedId = queue[3].id;
  assert.equal(ids.includes(refusedId), false, "the refused edit is not in the log");
  const sent = queue.filter((e) => e.id !== refusedId).map((e) => e.id);
  assert.deepEqual(events.filter((e) => sent.includes(e.id)).map((e) => e.id), sent, "each committed once, in order");
  assert.equal(events.length, head + 1 + sent.length);
  assert.ok(events.slice(head + 1).every((e) => e.meta.user === "George"));

  const marys = (await notesOf(george)).find((n) => n.id === id("Mary's list"));
  assert.equal(marys.title, "Mary's list", "the refused edit is undone");
  assert.equal(marys.error, `editNoteTitle refused: only its author, Mary, may edit note \`${id("Mary's list")}\` (forbidden)`);
  assert.equal((await notesOf(mary)).find((n) => n.id === id("Mary's list")).error, null, "only in George's page");
  await george.screenshot({ path: SCREENSHOT_REJECTED, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${relative(REPO_ROOT, SCREENSHOT_REJECTED)}`);
  await george.click(inNote(id("Mary's list"), "note-error-dismiss"));
  await george.waitForSelector(inNote(id("Mary's list"), "note-error"), { ...WAIT, state: "hidden" });

  // online, a refusal of an event the page holds pending: shown at once, marked
  // pending, then the server's 403 on the note, and the title back
  await george.bringToFront();
  await forged.evaluate((input) => (input.readOnly = false));
  const refusal = george.waitForResponse((r) => r.url().includes("/dispatch/editNoteText"), WAIT);
  const forgedText = george.locator(inNote(id("Mary's list"), "note-text"));
  await forgedText.evaluate((input) => (input.readOnly = false));
  await forgedText.fill("none of hers");
  await forgedText.press("Tab");
  assert.equal((await refusal).status(), 403);
  await george.waitForSelector(`[data-testid="note"][data-id="${id("Mary's list")}"][data-rejected]`, WAIT);
  const after403 = (await notesOf(george)).find((n) => n.id === id("Mary's list"));
  assert.deepEqual([after403.text, after403.pending], ["plutonium", false]);
  assert.match(after403.error, /^editNoteText refused: only its author, Mary, may edit note `.*` \(forbidden\)$/);
  assert.match(await george.textContent('[data-testid="status"]'), /^editNoteText failed: only its author, Mary/);
  assert.equal((await getJson(env.server.url, "/events?after=0")).length, events.length, "nothing logged");

  const allowed = [
    /Failed to load resource: the server responded with a status of 403/, // the refused edits
    /Failed to load resource: net::ERR_INTERNET_DISCONNECTED/, // offline
    /Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)/, // the proxy, cut
    /WebSocket connection to .* failed/, // the feed while offline
  ];
  assert.deepEqual(problems.filter((p) => !allowed.some((re) => re.test(p))), [], "no other errors in the pages");
  await georgeNet.context.close();
  await maryNet.context.close();
});
