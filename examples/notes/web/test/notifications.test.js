// The server's Activity saga in the page: when someone else changes a note of
// yours, a `notes/notify` event makes a row of `notifications` (the same wasm
// reducers as the server's), shown under "For you" to you and nobody else.
// Over HTTP only a note's author may change it, so the other user here is an
// operator restoring the note with the CLI (`notes restore --user Tony`), a second
// process on the same database, as an admin would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { useServerAndChromium } from "./chromium.js";
import { NOTES_BIN, REPO_ROOT, getJson } from "./server.js";

const WAIT = { timeout: 20_000 };

const env = useServerAndChromium();

async function open(user) {
  const page = await (await env.browser.newContext()).newPage();
  await page.goto(`${env.server.url}/?user=${user}`);
  await page.waitForSelector('body[data-ready="true"]', WAIT);
  await page.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  return page;
}

test("someone else's change to your note shows under For you, to you only", async () => {
  const george = await open("George");
  const tony = await open("Tony");
  assert.equal(await george.isHidden('[data-testid="notifications-section"]'), true, "nothing to tell yet");

  await george.fill('[data-testid="add-title"]', "Plans");
  await george.click('[data-testid="add-submit"]');
  await george.waitForSelector('[data-testid="note"]:not([data-pending])', WAIT);
  const id = await george.getAttribute('[data-testid="note"]', "data-id");
  await george.click(`[data-testid="note"][data-id="${id}"] [data-testid="note-remove"]`);
  await george.waitForSelector(`[data-testid="removed"] [data-id="${id}"]`, WAIT);
  assert.equal(await george.isHidden('[data-testid="notifications-section"]'), true, "one's own changes tell nobody");

  await promisify(execFile)(NOTES_BIN, ["--database", env.db.url, "restore", "notes", id, "--user", "Tony"], { cwd: REPO_ROOT });

  const notification = george.locator('[data-testid="notification"]');
  await notification.waitFor(WAIT);
  assert.match(await notification.textContent(), /^Tony restored your note “Plans”/);
  assert.equal(await notification.getAttribute("data-note"), id);
  assert.equal(await george.textContent('[data-testid="notifications-count"]'), "1");
  await george.waitForSelector(`[data-testid="note"][data-id="${id}"]`, WAIT); // the note is back

  // the same row on the server, and in the log as told by the saga
  const rows = await getJson(env.server.url, "/collections/notifications");
  assert.deepEqual(
    rows.map(({ recipient, note, actor, action }) => ({ recipient, note, actor, action })),
    [{ recipient: "George", note: id, actor: "Tony", action: "restored" }],
  );
  await george.waitForSelector('[data-testid="log-entry"]:has-text("told George that Tony restored “Plans”")', WAIT);

  // Tony's page has the event and the row, and tells Tony nothing
  await tony.waitForSelector('[data-testid="log-entry"]:has-text("told George")', WAIT);
  assert.equal(await tony.isHidden('[data-testid="notifications-section"]'), true);
});
