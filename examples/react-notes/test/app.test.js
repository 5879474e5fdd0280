// The React example in a real headless Chromium (Debian's, through
// playwright-core) against the real notes server, once per way of building and
// serving it:
//   vite-build, webpack-build, vite7-build: the built page served by the notes
//     server itself (same origin: no CORS);
//   vite-dev, vite7-dev: the dev server (React's development build, so
//     StrictMode mounts every effect twice) with its proxy to the notes server
//     (dev-proxy.js, `ws: true` for /events/live).
// Each: add, edit, remove, another user's changes arriving live, the sorted view,
// a remount (the live feed resumes from the slice's lastSeq), a server restart
// (reconnect, catching up once), the optimistic path (a note shows at once, marked
// pending, while its send is held back, then confirmed; a refusal shows), and the
// page equal to the server's table.
// REACT_NOTES_VARIANTS=vite-build,vite-dev picks some; the builds must exist
// (scripts/ci/react.sh makes them).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { REPO_ROOT, dispatch, getJson, startServer, tempDatabase, until } from "../../notes/web/test/server.js";

const APP = resolve(fileURLToPath(new URL("..", import.meta.url)));
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const WAIT = { timeout: 20_000 };

const VARIANTS = {
  "vite-build": { web: join(APP, "dist") },
  "webpack-build": { web: join(APP, "dist-webpack") },
  "vite7-build": { web: join(APP, "vite7/dist") },
  "vite-dev": { dev: APP },
  "vite7-dev": { dev: join(APP, "vite7") },
};
const chosen = (process.env.REACT_NOTES_VARIANTS ?? Object.keys(VARIANTS).join(",")).split(",").filter(Boolean);
for (const name of chosen) assert.ok(name in VARIANTS, `unknown variant ${name}: ${Object.keys(VARIANTS).join(", ")}`);

let profile;
let browser;
before(async () => {
  profile = mkdtempSync(join(tmpdir(), "react-notes-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});
after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A free TCP port on 127.0.0.1. */
const freePort = () =>
  new Promise((done, fail) => {
    const server = net.createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

/** Starts Vite's dev server in `dir`, proxying to `notesUrl`; resolves to `{ url, stop() }`. */
async function startVite(dir, notesUrl) {
  const port = await freePort();
  const vite = join(dir, "node_modules/vite/bin/vite.js");
  assert.ok(existsSync(vite), `no ${relative(REPO_ROOT, vite)}: npm ci there first`);
  const child = spawn(process.execPath, [vite, "--host", "127.0.0.1", "--port", String(port), "--strictPort"], {
    cwd: dir,
    detached: true, // its own process group: stop() ends Vite and whatever it started
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NOTES_SERVER: notesUrl, NO_COLOR: "1" },
  });
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const exit = new Promise((done) => child.once("exit", done));
  const url = `http://127.0.0.1:${port}`;
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`vite exited:\n${log}`);
    return fetch(url).then((r) => r.ok, () => false);
  }, `vite's dev server in ${relative(REPO_ROOT, dir)}`, 60_000);
  return {
    url,
    output: () => log,
    stop: async () => {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone already
      }
      await exit;
    },
  };
}

/** The page's notes in display order. */
const notesOf = (page) =>
  page.$$eval('[data-testid="note"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      author: el.dataset.author,
      title: el.querySelector('[data-testid="note-title"]').value,
      text: el.querySelector('[data-testid="note-text"]').value,
    })),
  );
const titlesOf = async (page) => (await notesOf(page)).map((n) => n.title);
const waitForTitles = (page, titles) =>
  until(async () => JSON.stringify(await titlesOf(page)) === JSON.stringify(titles), `titles ${JSON.stringify(titles)}`)
    .catch(async (err) => {
      err.message += ` (the page shows ${JSON.stringify(await titlesOf(page))})`;
      throw err;
    });
const lastSeqOf = async (page) => Number(await page.textContent('[data-testid="last-seq"]'));
/** Waits for the slice's last seq (the page shows its own events before they are committed). */
const waitForSeq = (page, seq) =>
  until(async () => (await lastSeqOf(page)) === seq, `last seq ${seq}`).catch(async (err) => {
    err.message += ` (the page shows ${await lastSeqOf(page)})`;
    throw err;
  });
/** Whether the note titled `title` is shown marked pending. */
const pendingOf = (page, title) =>
  page.$$eval('[data-testid="note"]', (els, t) => {
    const el = els.find((e) => e.querySelector('[data-testid="note-title"]').value === t);
    return el ? el.dataset.pending !== undefined && el.querySelector('[data-testid="note-pending"]') !== null : null;
  }, title);
const status = (page, value) => page.waitForSelector(`[data-testid="connection"][data-status="${value}"]`, WAIT);
/** The server's notes sorted as the page sorts them (selectNotesByTitle). */
const serverNotes = async (base) =>
  (await getJson(base, "/collections/notes"))
    .map(({ id, author, title, text }) => ({ id, author, title, text }))
    .sort((a, b) => a.title.localeCompare(b.title) || (a.id < b.id ? -1 : 1));

for (const name of chosen) {
  const variant = VARIANTS[name];
  test(`react-notes (${name}): add, edit, remove, live, sorted, remount, reconnect, optimistic, refusal`, async () => {
    if (variant.web) assert.ok(existsSync(join(variant.web, "index.html")), `no build in ${relative(REPO_ROOT, variant.web)}`);
    const db = tempDatabase();
    let server = await startServer({ database: db.url, web: variant.web });
    const dev = variant.dev ? await startVite(variant.dev, server.url) : null;
    const base = dev ? dev.url : server.url;
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => msg.type() === "error" && problems.push(`console: ${msg.text()}`));
    const sockets = []; // the `after` of every live connection the page opened
    page.on("websocket", (ws) => {
      const url = new URL(ws.url());
      if (url.pathname === "/events/live") sockets.push(Number(url.searchParams.get("after")));
    });
    try {
      await page.goto(`${base}/?user=Mary`);
      await status(page, "open");
      assert.equal(await page.textContent('[data-testid="user"]'), "Mary");
      assert.equal(await lastSeqOf(page), 0);
      // React's development build (the dev servers) mounts every effect twice under
      // StrictMode: two connections from 0, the first one closed at once.
      assert.deepEqual(sockets, dev ? [0, 0] : [0]);

      // add two notes through the form: they come back through the push, sorted by title
      const add = async (title, text) => {
        await page.fill('[data-testid="new-title"]', title);
        await page.fill('[data-testid="new-text"]', text);
        await page.click('[data-testid="add"]');
      };
      await add("Needs 1.21 gigawatts", "lightning");
      await waitForTitles(page, ["Needs 1.21 gigawatts"]);
      await add("Clock tower", "10:04 pm");
      await waitForTitles(page, ["Clock tower", "Needs 1.21 gigawatts"]);
      await waitForSeq(page, 2);
      const [tower, watts] = await notesOf(page);
      assert.deepEqual([tower.author, watts.author], ["Mary", "Mary"]);

      // another user's note arrives live, in its sorted place
      const george = await dispatch(server.url, "George", "addNote", { id: "g1", title: "Flux capacitor", text: "" });
      assert.equal(george.status, 200, JSON.stringify(george.body));
      await waitForTitles(page, ["Clock tower", "Flux capacitor", "Needs 1.21 gigawatts"]);

      // edit a title (Enter) and a text (blur): sent as commands, back through the push, re-sorted
      const titleOf = (id) => `[data-testid="note"][data-id="${id}"] [data-testid="note-title"]`;
      const textOf = (id) => `[data-testid="note"][data-id="${id}"] [data-testid="note-text"]`;
      await page.fill(titleOf(watts.id), "1.21 gigawatts");
      await page.press(titleOf(watts.id), "Enter");
      await waitForTitles(page, ["1.21 gigawatts", "Clock tower", "Flux capacitor"]);
      await page.fill(textOf(tower.id), "10:04 pm, Saturday");
      await page.click('[data-testid="new-title"]'); // blur
      await until(async () => (await getJson(server.url, `/collections/notes/${tower.id}`)).text === "10:04 pm, Saturday", "the text edit on the server");
      await until(async () => (await page.inputValue(textOf(tower.id))) === "10:04 pm, Saturday", "the text edit in the page");

      // only its author edits and removes a note: George's is read-only here, Mary's are not
      const controls = (id) =>
        page.$eval(`[data-testid="note"][data-id="${id}"]`, (el) => ({
          mine: el.dataset.mine,
          readOnly: [el.querySelector('[data-testid="note-title"]').readOnly, el.querySelector('[data-testid="note-text"]').readOnly],
          remove: el.querySelector('[data-testid="note-remove"]') !== null,
        }));
      assert.deepEqual(await controls("g1"), { mine: "false", readOnly: [true, true], remove: false });
      assert.deepEqual(await controls(tower.id), { mine: "true", readOnly: [false, false], remove: true });

      // remove: Mary's own note from the page, George's by George
      await page.click(`[data-testid="note"][data-id="${watts.id}"] [data-testid="note-remove"]`);
      await waitForTitles(page, ["Clock tower", "Flux capacitor"]);
      const removed = await dispatch(server.url, "George", "removeNote", { id: "g1" });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      await waitForTitles(page, ["Clock tower"]);
      const gone = await fetch(`${server.url}/collections/notes/g1`, { headers: { authorization: "Bearer George" } });
      assert.equal(gone.status, 404);
      await waitForSeq(page, 7);

      // remount: hiding the notes closes the feed; meanwhile two events commit;
      // showing them again connects from the slice's lastSeq and applies only those
      await page.click('[data-testid="toggle-notes"]');
      await page.waitForSelector('[data-testid="notes-hidden"]', WAIT);
      const opened = sockets.length;
      for (const [user, command, payload] of [
        ["Tony", "addNote", { id: "t1", title: "DeLorean", text: "88 mph" }],
        ["Mary", "editNoteTitle", { id: tower.id, title: "Clock tower (1955)" }],
      ]) {
        const r = await dispatch(server.url, user, command, payload);
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      await page.click('[data-testid="toggle-notes"]');
      await status(page, "open");
      await waitForTitles(page, ["Clock tower (1955)", "DeLorean"]);
      assert.deepEqual(sockets.slice(opened), dev ? [7, 7] : [7], "each remount resumes from the last seq");
      await waitForSeq(page, 9);

      // the server goes away; a note is added meanwhile (another server on the same
      // database); the server comes back on its port; the page reconnects and catches up once
      const { port } = server;
      await server.stop();
      await status(page, "retrying");
      const other = await startServer({ database: db.url, web: variant.web });
      const meanwhile = await dispatch(other.url, "George", "addNote", { id: "g2", title: "Biff", text: "" });
      assert.equal(meanwhile.status, 200, JSON.stringify(meanwhile.body));
      await other.stop();
      server = await startServer({ database: db.url, port, web: variant.web });
      await status(page, "open");
      await waitForTitles(page, ["Biff", "Clock tower (1955)", "DeLorean"]);
      await waitForSeq(page, 10);
      assert.equal(sockets.at(-1), 9, "the reconnect resumed from the last seq");

      // optimistic: with the page's sends held back, a new note shows at once, marked
      // pending, before the server has it; released, the feed confirms it
      let release = null;
      await page.route("**/dispatch/**", async (route) => {
        if (release) await release.promise;
        await route.continue();
      });
      const hold = () => {
        let open;
        release = { promise: new Promise((done) => (open = done)) };
        return () => {
          release = null;
          open();
        };
      };
      let letGo = hold();
      await add("Marty", "at once");
      await waitForTitles(page, ["Biff", "Clock tower (1955)", "DeLorean", "Marty"]);
      assert.equal(await pendingOf(page, "Marty"), true, "marked pending");
      assert.ok(!(await serverNotes(server.url)).some((n) => n.title === "Marty"), "not on the server yet: shown optimistically");
      if (name === "vite-build") {
        mkdirSync(join(REPO_ROOT, "artifacts"), { recursive: true });
        await page.screenshot({ path: join(REPO_ROOT, "artifacts/react-notes-pending.png"), fullPage: true, animations: "disabled" });
      }
      letGo();
      await until(async () => (await pendingOf(page, "Marty")) === false, "the note confirmed (no longer pending)");
      await waitForSeq(page, 11);
      const marty = (await notesOf(page)).find((n) => n.title === "Marty");
      assert.ok((await serverNotes(server.url)).some((n) => n.id === marty.id && n.title === "Marty"));

      // a refusal: Mary's edit is held back while the note is removed elsewhere (her
      // other device, over HTTP); released, the server refuses the edit ("no note"),
      // and the page says so until dismissed
      letGo = hold();
      await page.fill(titleOf(marty.id), "Marty McFly");
      await page.press(titleOf(marty.id), "Enter");
      await until(async () => (await pendingOf(page, "Marty McFly")) === true, "the edit shown at once, pending");
      const elsewhere = await dispatch(server.url, "Mary", "removeNote", { id: marty.id });
      assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
      await waitForTitles(page, ["Biff", "Clock tower (1955)", "DeLorean"]);
      letGo();
      const refusal = await page.waitForSelector(`[data-testid="refusal"][data-note="${marty.id}"]`, WAIT);
      assert.match(await refusal.textContent(), /editNoteTitle refused: .*no note/);
      await page.click(`[data-testid="refusal"][data-note="${marty.id}"] [data-testid="dismiss"]`);
      await page.waitForSelector('[data-testid="refusal"]', { ...WAIT, state: "detached" });
      await page.unroute("**/dispatch/**");
      await waitForSeq(page, 12);

      assert.deepEqual(await notesOf(page), await serverNotes(server.url));
      if (name === "vite-build") {
        mkdirSync(join(REPO_ROOT, "artifacts"), { recursive: true });
        const shot = join(REPO_ROOT, "artifacts/react-notes.png");
        await page.screenshot({ path: shot, fullPage: true, animations: "disabled" });
        console.log(`screenshot: ${relative(REPO_ROOT, shot)}`);
      }
      const expected = [
        /WebSocket connection to .* failed/, // while the server was down; StrictMode's first connection
        /Failed to load resource: the server responded with a status of 422/, // the refused edit
      ];
      assert.deepEqual(problems.filter((p) => !expected.some((re) => re.test(p))), [], "no other errors in the page");
    } catch (err) {
      err.message += `\n-- page problems:\n${problems.join("\n") || "(none)"}`;
      if (dev) err.message += `\n-- vite:\n${dev.output().slice(-4000)}`;
      err.message += `\n-- notes server:\n${server.output().slice(-4000)}`;
      throw err;
    } finally {
      await page.close();
      await dev?.stop();
      await server.stop();
      db.remove();
    }
  });
}
