// The page of an app made by `flux-capacitor new` in a real headless Chromium
// (Debian's, through playwright-core) against that app's running server
// (scripts/ci/starter.sh starts it on SQLite and passes its URL in STARTER_URL):
// two pages as two users; a todo added in one shows up in both and in the server's
// read model, ticking it and removing it likewise. Screenshot: STARTER_SCREENSHOT.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const APP_URL = process.env.STARTER_URL;
const SCREENSHOT = process.env.STARTER_SCREENSHOT;
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const WAIT = { timeout: 15_000 };
const POLL = { ...WAIT, polling: 50 }; // not requestAnimationFrame: a background page may not paint

let profile;
let browser;
const problems = []; // page errors and console errors: none expected

before(async () => {
  assert.ok(APP_URL, "STARTER_URL: the URL of the starter app's server (scripts/ci/starter.sh sets it)");
  assert.ok(SCREENSHOT, "STARTER_SCREENSHOT: where to save the screenshot");
  profile = mkdtempSync(path.join(tmpdir(), "starter-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 600 },
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

async function open(user) {
  const page = await browser.newPage();
  page.on("pageerror", (err) => problems.push(`[${user}] page error: ${err.message}`));
  page.on("console", (msg) => msg.type() === "error" && problems.push(`[${user}] console: ${msg.text()} (${msg.location().url})`));
  await page.goto(APP_URL);
  await page.waitForSelector('#status[data-status="open"]', WAIT);
  return page;
}

/** The page's todos as `{ id, title, done }`, in display order. */
const todosOf = (page) =>
  page.$$eval("#todos li", (items) =>
    items.map((li) => ({ id: li.dataset.id, title: li.dataset.title, done: li.querySelector("input").checked })));

/** Waits until `page` shows the todo titled `title` as `want` (`null`: not at all). */
const waitForTodo = (page, title, want) =>
  page.waitForFunction(
    ([title, want]) => {
      const li = [...document.querySelectorAll("#todos li")].find((el) => el.dataset.title === title);
      return want === null ? !li : !!li && li.querySelector("input").checked === want.done;
    },
    [title, want],
    POLL,
  );

const serverTodos = async () => {
  const response = await fetch(new URL("collections/todos", APP_URL));
  assert.equal(response.status, 200);
  return (await response.json()).map(({ id, title, done }) => ({ id, title, done }));
};
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

test("two pages, one live todo list", async () => {
  const first = await open("first");
  const second = await open("second");
  // Both caught up with what the server has (the todo starter.sh added over HTTP).
  const existing = await serverTodos();
  assert.ok(existing.length >= 1, "starter.sh added a todo before");
  await first.waitForFunction((n) => document.querySelectorAll("#todos li").length === n, existing.length, POLL);
  assert.deepEqual((await todosOf(first)).sort(byId), existing.sort(byId));

  // The page's action: type a title, press Add. The row shows in both pages (the
  // second one in the background, through the WebSocket push) and on the server.
  const title = "Buy plutonium from the Libyans";
  await first.bringToFront();
  await first.fill('#add input[name="title"]', title);
  await first.click('#add button[type="submit"]');
  await waitForTodo(first, title, { done: false });
  await waitForTodo(second, title, { done: false });
  const added = (await serverTodos()).find((t) => t.title === title);
  assert.ok(added, "the todo reached the server's read model");
  assert.deepEqual((await todosOf(second)).find((t) => t.title === title), added);
  assert.equal(await first.inputValue('#add input[name="title"]'), "", "the form is cleared");

  // Ticked in the first page: ticked in the second.
  // A click, not check(): the push re-renders the list, maybe before check() would look.
  await first.click(`#todos li[data-id="${added.id}"] input`);
  await waitForTodo(second, title, { done: true });
  assert.equal((await serverTodos()).find((t) => t.id === added.id).done, true);
  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await first.screenshot({ path: SCREENSHOT, fullPage: true });

  // Removed in the second page: gone from the first.
  await second.bringToFront();
  await second.click(`#todos li[data-id="${added.id}"] button`);
  await waitForTodo(first, title, null);
  assert.equal((await serverTodos()).find((t) => t.id === added.id), undefined);

  assert.deepEqual(problems, []);
});
