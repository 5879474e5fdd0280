// The notes app in a real headless Chromium against the real notes server:
// two pages as two users; what one does shows up live in the other.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { launchPersistentChromium } from "./chromium.js";
import { REPO_ROOT, dispatch, getJson, startServer, tempDatabase } from "./server.js";

const SCREENSHOT = join(REPO_ROOT, "artifacts/notes-browser.png");
const SCREENSHOT_AS_OF = join(REPO_ROOT, "artifacts/notes-as-of.png");
const WAIT = { timeout: 15_000 };
const POLL = { ...WAIT, polling: 50 }; // not requestAnimationFrame: a background page may not paint

let db;
let server;
let profile;
let browser;
const problems = []; // page errors and console errors: none expected
before(async () => {
  db = tempDatabase();
  server = await startServer({ database: db.url });
  profile = mkdtempSync(join(tmpdir(), "notes-chromium-"));
  browser = await launchPersistentChromium(profile, { viewport: { width: 1200, height: 820 } });
});
after(async () => {
  try {
    await browser?.close();
  } finally {
    await server?.stop();
    db?.remove();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
});

async function open(user) {
  const page = await browser.newPage();
  page.on("pageerror", (err) => problems.push(`[${user}] page error: ${err.message}`));
  page.on("console", (msg) => msg.type() === "error" && problems.push(`[${user}] console: ${msg.text()} (${msg.location().url})`));
  await page.goto(`${server.url}/?user=${user}`);
  await page.waitForSelector('body[data-ready="true"]', WAIT);
  await page.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  assert.equal(await page.inputValue('[data-testid="user-select"]'), user);
  return page;
}

/** The page's notes as `{ id, title, text, author }`, in display order. */
const notesOf = (page) =>
  page.$$eval('[data-testid="note"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      author: el.dataset.author,
      title: el.querySelector('[data-testid="note-title"]').value,
      text: el.querySelector('[data-testid="note-text"]').value,
    })),
  );

/** What the page offers on note `id`: whether it is the user's, its fields' read-only state, its Remove button. */
const controlsOf = (page, id) =>
  page.$eval(`[data-testid="note"][data-id="${id}"]`, (el) => ({
    mine: el.dataset.mine,
    titleReadOnly: el.querySelector('[data-testid="note-title"]').readOnly,
    textReadOnly: el.querySelector('[data-testid="note-text"]').readOnly,
    removeShown: el.querySelector('[data-testid="note-remove"]').checkVisibility(),
  }));

/** The page's event log, oldest first. */
const logOf = (page) =>
  page.$$eval('[data-testid="log-entry"]', (els) =>
    els.reverse().map((el) => ({
      type: el.dataset.type,
      user: el.querySelector('[data-testid="log-user"]').textContent,
      what: el.querySelector('[data-testid="log-what"]').textContent,
      when: el.querySelector('[data-testid="log-when"]').textContent,
      timestamp: el.querySelector('[data-testid="log-when"]').getAttribute("datetime"),
      noteId: el.dataset.noteId,
    })),
  );

/** Waits until the page shows exactly the notes with these titles. */
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

const waitForLog = (page, n) =>
  page.waitForFunction((n) => document.querySelectorAll('[data-testid="log-entry"]').length === n, n, POLL);

test("two users, one live notes list", async () => {
  const george = await open("George");
  const mary = await open("Mary");

  // George adds a note; it shows up in Mary's page (pushed over the WebSocket).
  // The page a user acts in is brought to the front (a background tab paints
  // rarely, and Playwright waits for paints before a click); the other one
  // stays in the background and still gets every push.
  await george.bringToFront();
  await george.fill('[data-testid="add-title"]', "Groceries");
  await george.fill('[data-testid="add-text"]', "milk, eggs, coffee");
  await george.click('[data-testid="add-submit"]');
  await waitForTitles(mary, ["Groceries"]);
  await waitForTitles(george, ["Groceries"]);
  const [added] = await notesOf(mary);
  assert.equal(added.author, "George");
  assert.equal(added.text, "milk, eggs, coffee");
  assert.equal(await george.inputValue('[data-testid="add-title"]'), "", "the form is cleared");

  // only its author can change it: Mary's page shows George's note read-only
  assert.deepEqual(await controlsOf(mary, added.id), { mine: "false", titleReadOnly: true, textReadOnly: true, removeShown: false });
  assert.deepEqual(await controlsOf(george, added.id), { mine: "true", titleReadOnly: false, textReadOnly: false, removeShown: true });

  // George renames it inline (Enter commits); Mary sees the new title
  const georgeTitle = george.locator(`[data-testid="note"][data-id="${added.id}"] [data-testid="note-title"]`);
  await georgeTitle.fill("Groceries for Sunday");
  await georgeTitle.press("Enter");
  await waitForTitles(mary, ["Groceries for Sunday"]);
  await waitForTitles(george, ["Groceries for Sunday"]);

  // George removes it; it disappears from both
  await george.click(`[data-testid="note"][data-id="${added.id}"] [data-testid="note-remove"]`);
  await waitForTitles(mary, []);
  await waitForTitles(george, []);
  assert.equal(await mary.textContent('[data-testid="notes-count"]'), "0");

  // both logs: the three events, who did them, what and when
  const stored = await getJson(server.url, "/events?after=0");
  assert.deepEqual(stored.map((e) => [e.type, e.meta.user]), [["addNote", "George"], ["editNoteTitle", "George"], ["removeNote", "George"]]);
  for (const page of [george, mary]) {
    await waitForLog(page, 3);
    const log = await logOf(page);
    assert.deepEqual(log.map((e) => [e.type, e.user]), [["addNote", "George"], ["editNoteTitle", "George"], ["removeNote", "George"]]);
    assert.deepEqual(log.map((e) => e.what), [
      "added “Groceries”",
      "renamed “Groceries” to “Groceries for Sunday”",
      "removed “Groceries for Sunday”",
    ]);
    assert.deepEqual(log.map((e) => e.timestamp), stored.map((e) => e.timestamp));
    assert.ok(log.every((e) => e.noteId === added.id));
    for (const e of log) assert.match(e.when, /\d{1,2}:\d{2}:\d{2}/, "a human-readable time");
  }

  // a reducer error shows in the status line: the same id twice is a duplicate key,
  // which the page's own reducers (the server's) refuse at once: nothing is sent
  await george.evaluate(() => {
    crypto.randomUUID = () => "00000000-0000-4000-8000-000000000001";
  });
  await george.fill('[data-testid="add-title"]', "Twice");
  await george.click('[data-testid="add-submit"]');
  await waitForTitles(mary, ["Twice"]);
  await george.waitForSelector('[data-testid="note"]:not([data-pending])', WAIT);
  const logged = (await getJson(server.url, "/events?after=0")).length;
  const sent = [];
  const onRequest = (r) => r.url().includes("/dispatch/") && sent.push(r.url());
  george.on("request", onRequest);
  await george.fill('[data-testid="add-title"]', "Twice again");
  await george.click('[data-testid="add-submit"]');
  await george.waitForSelector('[data-testid="status"][data-kind="error"]', WAIT);
  const status = await george.textContent('[data-testid="status"]');
  assert.match(status, /^addNote failed: .*00000000-0000-4000-8000-000000000001.* \(duplicate_key\)$/);
  assert.equal(await george.inputValue('[data-testid="add-title"]'), "Twice again", "the form keeps what failed");
  await waitForTitles(george, ["Twice"]);
  george.off("request", onRequest);
  assert.deepEqual(sent, [], "nothing was sent");
  assert.equal((await getJson(server.url, "/events?after=0")).length, logged, "nothing was logged");
  await george.click('[data-testid="note"] [data-testid="note-remove"]');
  await waitForTitles(mary, []);

  // the user picker: George's page becomes Tony's; what Tony does is Tony's
  await george.selectOption('[data-testid="user-select"]', "Tony");
  await george.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  assert.match(george.url(), /[?&]user=Tony\b/);
  await george.fill('[data-testid="add-title"]', "Ideas");
  await george.fill('[data-testid="add-text"]', "A time machine out of a DeLorean?");
  await george.click('[data-testid="add-submit"]');
  await waitForTitles(george, ["Ideas"]);
  await mary.bringToFront();
  await mary.fill('[data-testid="add-title"]', "Read");
  await mary.fill('[data-testid="add-text"]', "Fluxes, capacitors, and other things.");
  await mary.click('[data-testid="add-submit"]');
  for (const page of [george, mary]) await waitForTitles(page, ["Ideas", "Read"]);
  assert.deepEqual((await notesOf(mary)).map((n) => [n.title, n.author]).sort(), [["Ideas", "Tony"], ["Read", "Mary"]]);

  // Tony edits the text of his note inline (leaving the field commits it); Mary sees it
  const ideas = (await notesOf(mary)).find((n) => n.title === "Ideas");
  const ideasText = `[data-testid="note"][data-id="${ideas.id}"] [data-testid="note-text"]`;
  await george.bringToFront();
  await george.fill(ideasText, "A time machine out of a DeLorean. Needs 1.21 gigawatts.");
  await george.press(ideasText, "Tab");
  await mary.waitForFunction(
    (sel) => document.querySelector(sel)?.value === "A time machine out of a DeLorean. Needs 1.21 gigawatts.",
    ideasText,
    POLL,
  );
  assert.equal(await george.inputValue(ideasText), "A time machine out of a DeLorean. Needs 1.21 gigawatts.");
  for (const page of [george, mary]) await waitForLog(page, 8);
  const log = await logOf(mary);
  assert.deepEqual(log.map((e) => e.user), ["George", "George", "George", "George", "George", "Tony", "Mary", "Tony"]);
  assert.deepEqual(log.at(-1).what, "edited the text of “Ideas”");
  assert.deepEqual(await logOf(george), log, "both pages saw the same log");

  // reload: the page rebuilds the same state from the log (after=0), no doubles
  await mary.reload();
  await mary.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  await waitForLog(mary, 8);
  assert.deepEqual(await logOf(mary), log);
  await waitForTitles(mary, ["Ideas", "Read"]);
  assert.deepEqual(
    (await notesOf(mary)).map((n) => n.id).sort(),
    (await getJson(server.url, "/collections/notes")).map((n) => n.id).sort(),
  );

  // the server goes away; while both pages are cut off, a note is added (through
  // another server on the same database); the server comes back on its port and
  // both pages catch up from their last seq, once
  const { port } = server;
  await server.stop();
  for (const page of [george, mary]) await page.waitForSelector('[data-testid="connection"][data-status="retrying"]', WAIT);
  const other = await startServer({ database: db.url });
  const meanwhile = await dispatch(other.url, "Tony", "addNote", { id: crypto.randomUUID(), title: "While you were away", text: "" });
  assert.equal(meanwhile.status, 200, JSON.stringify(meanwhile.body));
  await other.stop();
  server = await startServer({ database: db.url, port });
  for (const page of [george, mary]) {
    await page.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
    await waitForTitles(page, ["Ideas", "Read", "While you were away"]);
    await waitForLog(page, 9);
    const entries = await logOf(page);
    assert.deepEqual(entries.slice(0, 8), log);
    assert.deepEqual([entries[8].type, entries[8].user], ["addNote", "Tony"]);
  }

  mkdirSync(join(REPO_ROOT, "artifacts"), { recursive: true });
  await george.bringToFront();
  await george.screenshot({ path: SCREENSHOT, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${relative(REPO_ROOT, SCREENSHOT)} (in the repository root)`);

  const expected = [
    /status of 404 .*\/favicon\.ico\)$/,
    /WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/, // while the server was down
  ];
  assert.deepEqual(problems.filter((p) => !expected.some((re) => re.test(p))), [], "no other errors in the pages");
});

// ------------------------------------------------------- view as of, restore

/** The as-of view's notes as `{ id, title, text, author }`, in display order. */
const asOfNotesOf = (page) =>
  page.$$eval('[data-testid="as-of-note"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      author: el.dataset.author,
      title: el.querySelector('[data-testid="as-of-title"]').textContent,
      text: el.querySelector('[data-testid="as-of-text"]').textContent,
    })),
  );

/** The removed-notes section as `{ id, title, text, author }`, in display order. */
const removedOf = (page) =>
  page.$$eval('[data-testid="removed-note"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      author: el.dataset.author,
      title: el.querySelector('[data-testid="removed-title"]').textContent,
      text: el.querySelector('[data-testid="removed-text"]').textContent,
    })),
  );

const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
/** Rows as the pages show them: `{ id, title, text, author }`, sorted by id. */
const shown = (rows) => rows.map(({ id, title, text = "", author }) => ({ id, title, text, author })).sort(byId);

const isHidden = (page, testid) => page.$eval(`[data-testid="${testid}"]`, (el) => el.closest("[hidden]") !== null);

async function addNote(page, title, text) {
  await page.bringToFront();
  await page.waitForSelector('[data-testid="add-submit"]:not([disabled])', WAIT);
  await page.fill('[data-testid="add-title"]', title);
  await page.fill('[data-testid="add-text"]', text);
  await page.click('[data-testid="add-submit"]');
}

/** Moves the page's time slider to `seq` with the keyboard, as a user would. */
async function slideTo(page, seq) {
  await page.bringToFront();
  const slider = page.locator('[data-testid="as-of-slider"]');
  await slider.focus();
  const from = Number(await slider.inputValue());
  for (let i = 0; i < Math.abs(seq - from); i++) await slider.press(seq < from ? "ArrowLeft" : "ArrowRight");
  assert.equal(Number(await slider.inputValue()), seq);
}

/** Waits until the page shows the notes as of `seq`, and returns them. */
async function waitForAsOf(page, seq) {
  await page.waitForFunction(
    (seq) => {
      const view = document.querySelector('[data-testid="as-of-view"]');
      return !view.hidden && document.querySelector('[data-testid="as-of-heading-seq"]').textContent === `#${seq}`;
    },
    seq,
    POLL,
  );
  return asOfNotesOf(page);
}

test("view as of a past seq, removed notes, restore", async () => {
  const start = problems.length;
  const george = await open("George");
  const mary = await open("Mary");
  const known = (await getJson(server.url, "/events?after=0")).length;
  for (const page of [george, mary]) await waitForLog(page, known);
  const current = async () => (await getJson(server.url, "/collections/notes")).map((n) => n.title);
  const titlesBefore = await current();

  // a few adds, edits and removes by both users
  await addNote(george, "Plan", "Step one");
  for (const page of [george, mary]) await waitForTitles(page, [...titlesBefore, "Plan"]);
  const plan = (await notesOf(mary)).find((n) => n.title === "Plan");
  const inNote = (id, testid) => `[data-testid="note"][data-id="${id}"] [data-testid="${testid}"]`;
  await george.fill(inNote(plan.id, "note-title"), "Plan B");
  await george.press(inNote(plan.id, "note-title"), "Enter");
  for (const page of [george, mary]) await waitForTitles(page, [...titlesBefore, "Plan B"]);
  const renamedAt = (await getJson(server.url, "/events?after=0")).at(-1).seq;
  await george.fill(inNote(plan.id, "note-text"), "Step two");
  await george.press(inNote(plan.id, "note-text"), "Tab");
  await mary.waitForFunction((sel) => document.querySelector(sel)?.value === "Step two", inNote(plan.id, "note-text"), POLL);
  const read = (await notesOf(mary)).find((n) => n.title === "Read");
  await mary.bringToFront();
  await mary.click(inNote(read.id, "note-remove"));
  await george.bringToFront();
  await george.click(inNote(plan.id, "note-remove"));
  const remaining = titlesBefore.filter((t) => t !== "Read");
  for (const page of [george, mary]) await waitForTitles(page, remaining);

  const events = await getJson(server.url, "/events?after=0");
  let head = events.at(-1).seq;
  assert.deepEqual(events.slice(-5).map((e) => [e.type, e.meta.user]), [
    ["addNote", "George"], ["editNoteTitle", "George"], ["editNoteText", "George"], ["removeNote", "Mary"], ["removeNote", "George"],
  ]);
  for (const page of [george, mary]) await waitForLog(page, events.length);

  // Removed notes, newest removal first, each with its last state (the server's history agrees)
  const removed = await removedOf(mary);
  assert.deepEqual(await removedOf(george), removed);
  // each with a Restore button for its author only
  const restorable = (page) =>
    page.$$eval('[data-testid="removed-note"]', (els) =>
      els.filter((el) => el.querySelector('[data-testid="removed-restore"]').checkVisibility()).map((el) => el.dataset.id));
  for (const [page, user] of [[george, "George"], [mary, "Mary"]]) {
    assert.deepEqual(await restorable(page), removed.filter((n) => n.author === user).map((n) => n.id), user);
  }
  assert.deepEqual(removed.slice(0, 2).map((n) => [n.title, n.text, n.author]), [
    ["Plan B", "Step two", "George"],
    ["Read", "Fluxes, capacitors, and other things.", "Mary"],
  ]);
  for (const note of removed) {
    const history = await getJson(server.url, `/collections/notes/${note.id}/history`);
    const last = history.at(-1);
    assert.equal(last.after, null, `${note.title} is removed`);
    assert.deepEqual(shown([last.before]), [note], `${note.title}: its last state`);
  }

  // View as of: Mary slides back one event at a time to #0; at every seq the
  // page shows what the server's ?as_of=SEQ answers, computed in the browser
  await slideTo(mary, head - 1);
  assert.equal(await isHidden(mary, "notes"), true, "the live notes are hidden");
  assert.equal(await isHidden(mary, "add-form"), true, "read-only: no add form");
  assert.equal(await isHidden(mary, "removed-section"), true);
  for (let seq = head - 1; seq >= 0; seq--) {
    if (seq < head - 1) await mary.locator('[data-testid="as-of-slider"]').press("ArrowLeft");
    const notes = await waitForAsOf(mary, seq);
    const asOf = await getJson(server.url, `/collections/notes?as_of=${seq}`, "Mary");
    assert.deepEqual(shown(notes), shown(asOf), `as of #${seq}`);
    const caption = await mary.textContent('[data-testid="as-of-banner"] .as-of-caption');
    if (seq === 0) {
      assert.equal(caption, "Viewing as of #0 — before the first event");
      assert.deepEqual(notes, []);
    } else {
      const event = events[seq - 1];
      assert.equal(event.seq, seq);
      assert.match(caption, new RegExp(`^Viewing as of #${seq} — .*\\d{1,2}:\\d{2}:\\d{2}.* by ${event.meta.user}$`));
      assert.equal(await mary.getAttribute('[data-testid="as-of-caption"] time', "datetime"), event.timestamp);
    }
  }

  // ... and what was true then: right after Mary renamed Plan to Plan B
  await slideTo(mary, renamedAt);
  const then = await waitForAsOf(mary, renamedAt);
  assert.deepEqual(then.map((n) => n.title).sort(), [...titlesBefore, "Plan B"].sort());
  assert.deepEqual(then.find((n) => n.id === plan.id), { id: plan.id, title: "Plan B", text: "Step one", author: "George" });
  assert.deepEqual(then.find((n) => n.id === read.id)?.text, "Fluxes, capacitors, and other things.");
  assert.deepEqual(shown(then), shown(await getJson(server.url, `/collections/notes?as_of=${renamedAt}`)));
  assert.match(await mary.textContent('[data-testid="as-of-what"]'), /after George renamed “Plan” to “Plan B”/);

  // live updates keep arriving meanwhile: the slider's range grows, the view stays
  await addNote(george, "Later", "");
  await waitForTitles(george, [...remaining, "Later"]);
  await waitForTitles(mary, [...remaining, "Later"]); // the hidden live list
  head += 1;
  await mary.waitForFunction((head) => document.querySelector('[data-testid="as-of-slider"]').max === String(head), head, POLL);
  assert.equal(await mary.inputValue('[data-testid="as-of-slider"]'), String(renamedAt));
  assert.deepEqual(await asOfNotesOf(mary), then);
  await waitForLog(mary, head);
  assert.deepEqual(
    await mary.$$eval('[data-testid="log-entry"].future', (els) => els.map((el) => Number(el.dataset.seq)).sort((a, b) => a - b)),
    Array.from({ length: head - renamedAt }, (_, i) => renamedAt + 1 + i),
    "the events after the viewed seq are dimmed",
  );
  await mary.bringToFront();
  await mary.screenshot({ path: SCREENSHOT_AS_OF, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${relative(REPO_ROOT, SCREENSHOT_AS_OF)}`);

  // George jumps to an event from his log (#seq)
  await george.bringToFront();
  await george.click(`[data-testid="log-entry"][data-seq="3"] [data-testid="log-seq"]`);
  assert.deepEqual(shown(await waitForAsOf(george, 3)), shown(await getJson(server.url, "/collections/notes?as_of=3")));
  await george.click('[data-testid="back-to-live"]');

  // back to live
  await mary.click('[data-testid="back-to-live"]');
  for (const page of [george, mary]) {
    await page.waitForSelector('[data-testid="as-of-view"][hidden]', { ...WAIT, state: "attached" });
    assert.equal(await isHidden(page, "notes"), false);
    assert.equal(await isHidden(page, "removed-section"), false);
    assert.equal(await page.inputValue('[data-testid="as-of-slider"]'), String(head));
    assert.deepEqual(shown(await notesOf(page)), shown(await getJson(server.url, "/collections/notes")));
  }

  // George restores Plan B. His POST's answer is held back until the note shows
  // in his page too: it comes back through the push, not the answer.
  await george.bringToFront();
  let release;
  const held = new Promise((done) => (release = done));
  await george.route("**/collections/notes/*/restore", async (route) => {
    const response = await route.fetch();
    await held;
    await route.fulfill({ response });
  });
  await george.click(`[data-testid="removed-note"][data-id="${plan.id}"] [data-testid="removed-restore"]`);
  for (const page of [george, mary]) await waitForTitles(page, [...remaining, "Later", "Plan B"]);
  release();
  await george.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.startsWith("Restored “Plan B”"), null, POLL);
  await george.unroute("**/collections/notes/*/restore");
  // Mary restores Read
  await mary.bringToFront();
  await mary.click(`[data-testid="removed-note"][data-id="${read.id}"] [data-testid="removed-restore"]`);
  for (const page of [george, mary]) await waitForTitles(page, [...remaining, "Later", "Plan B", "Read"]);

  const restoredEvents = (await getJson(server.url, `/events?after=${head}`));
  assert.deepEqual(restoredEvents.map((e) => [e.type, e.meta.user]), [["flux/restore", "George"], ["flux/restore", "Mary"]]);
  head += 2;
  for (const [note, restorer] of [[removed[0], "George"], [removed[1], "Mary"]]) {
    const history = await getJson(server.url, `/collections/notes/${note.id}/history`);
    const lastState = history.at(-2).before; // before the removal
    assert.deepEqual(await getJson(server.url, `/collections/notes/${note.id}`), lastState, `${note.title} is back exactly as it was`);
    assert.deepEqual(history.at(-1).event.meta.user, restorer);
  }
  for (const page of [george, mary]) {
    await waitForLog(page, head);
    const log = await logOf(page);
    assert.deepEqual(log.slice(-2).map((e) => [e.type, e.user, e.what, e.noteId]), [
      ["flux/restore", "George", "restored “Plan B”", plan.id],
      ["flux/restore", "Mary", "restored “Read”", read.id],
    ]);
    const notes = await notesOf(page);
    assert.deepEqual(notes.find((n) => n.id === plan.id), { id: plan.id, author: "George", title: "Plan B", text: "Step two" });
    assert.deepEqual(notes.find((n) => n.id === read.id), { id: read.id, author: "Mary", title: "Read", text: "Fluxes, capacitors, and other things." });
    assert.deepEqual(shown(notes), shown(await getJson(server.url, "/collections/notes")));
    assert.deepEqual(await removedOf(page), removed.slice(2), "the restored notes left the removed section");
  }

  // a reload derives the same from the log
  await mary.reload();
  await mary.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);
  await waitForLog(mary, head);
  assert.deepEqual(await removedOf(mary), removed.slice(2));
  assert.deepEqual((await logOf(mary)).slice(-2).map((e) => e.what), ["restored “Plan B”", "restored “Read”"]);

  assert.deepEqual(problems.slice(start).filter((p) => !/status of 404 .*\/favicon\.ico\)$/.test(p)), [], "no errors in the pages");
});

// ------------------------------------------------- only the author changes a note

/** A request made by `page`'s own JavaScript, as a user could from the console; answers `{ status, body }`. */
const forge = (page, path, { user, payload, contentType = "application/json" }) =>
  page.evaluate(
    async ({ path, user, payload, contentType }) => {
      const headers = { Authorization: `Bearer ${user}` };
      if (contentType) headers["Content-Type"] = contentType;
      const body = payload === undefined ? undefined : JSON.stringify(payload);
      const response = await fetch(path, { method: "POST", headers, body });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    { path, user, payload, contentType },
  );

test("only a note's author edits, removes and restores it; a forged request is refused", async () => {
  const start = problems.length;
  const george = await open("George");
  const mary = await open("Mary");
  const before = await getJson(server.url, "/collections/notes");
  const titlesBefore = before.map((n) => n.title);

  // Mary adds a note; George sees it, without a way to change it
  await addNote(mary, "Mary's secret plan", "Buy a DeLorean");
  for (const page of [george, mary]) await waitForTitles(page, [...titlesBefore, "Mary's secret plan"]);
  const note = (await notesOf(george)).find((n) => n.title === "Mary's secret plan");
  assert.equal(note.author, "Mary");
  assert.deepEqual(await controlsOf(george, note.id), { mine: "false", titleReadOnly: true, textReadOnly: true, removeShown: false });
  assert.deepEqual(await controlsOf(mary, note.id), { mine: "true", titleReadOnly: false, textReadOnly: false, removeShown: true });
  const stored = await getJson(server.url, `/collections/notes/${note.id}`);
  const head = (await getJson(server.url, "/events?after=0")).length;

  // George forges the dispatches from his page: 403 forbidden, nothing written
  for (const [command, payload, action] of [
    ["editNoteTitle", { id: note.id, title: "George's now" }, "edit"],
    ["editNoteText", { id: note.id, text: "" }, "edit"],
    ["removeNote", { id: note.id }, "remove"],
  ]) {
    const { status, body } = await forge(george, `./dispatch/${command}`, { user: "George", payload });
    assert.equal(status, 403, `${command}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, "forbidden");
    assert.equal(body.error.message, `only its author, Mary, may ${action} note \`${note.id}\``);
  }
  // the page's own edit, had it offered one (its read-only field made editable by hand): the 403 shows, the title stays
  await george.bringToFront();
  const georgeTitle = george.locator(`[data-testid="note"][data-id="${note.id}"] [data-testid="note-title"]`);
  await georgeTitle.evaluate((input) => (input.readOnly = false));
  await georgeTitle.fill("Mine now");
  await georgeTitle.press("Enter");
  await george.waitForSelector('[data-testid="status"][data-kind="error"]', WAIT);
  assert.equal(
    await george.textContent('[data-testid="status"]'),
    `editNoteTitle failed: only its author, Mary, may edit note \`${note.id}\` (forbidden)`,
  );
  await george.waitForFunction((input) => input.value === "Mary's secret plan", await georgeTitle.elementHandle(), POLL);
  assert.deepEqual(await getJson(server.url, `/collections/notes/${note.id}`), stored, "the note is unchanged");
  assert.equal((await getJson(server.url, "/events?after=0")).length, head, "nothing was logged");
  await george.reload(); // the read-only field again
  await george.waitForSelector('[data-testid="connection"][data-status="open"]', WAIT);

  // Mary edits and removes it; George sees both
  await mary.bringToFront();
  const inMary = (testid) => `[data-testid="note"][data-id="${note.id}"] [data-testid="${testid}"]`;
  await mary.fill(inMary("note-text"), "Buy a DeLorean. Find plutonium.");
  await mary.press(inMary("note-text"), "Tab");
  await george.waitForFunction(
    (id) => document.querySelector(`[data-testid="note"][data-id="${id}"] [data-testid="note-text"]`)?.value === "Buy a DeLorean. Find plutonium.",
    note.id,
    POLL,
  );
  await mary.click(inMary("note-remove"));
  for (const page of [george, mary]) await waitForTitles(page, titlesBefore);

  // removed: only Mary has its Restore button; George's forged restore is 403,
  // and without the JSON content type (what a cross-site form sends) 415
  const restoreButton = (page) => page.locator(`[data-testid="removed-note"][data-id="${note.id}"] [data-testid="removed-restore"]`);
  await george.waitForSelector(`[data-testid="removed-note"][data-id="${note.id}"]`, WAIT);
  assert.equal(await restoreButton(george).isVisible(), false);
  assert.equal(await restoreButton(mary).isVisible(), true);
  const restorePath = `./collections/notes/${note.id}/restore`;
  const refused = await forge(george, restorePath, { user: "George" });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.error.message, `only its author, Mary, may restore note \`${note.id}\``);
  for (const contentType of [null, "text/plain", "application/x-www-form-urlencoded"]) {
    const form = await forge(mary, restorePath, { user: "Mary", contentType });
    assert.equal(form.status, 415, `${contentType}: ${JSON.stringify(form.body)}`);
  }
  assert.equal((await getJson(server.url, "/events?after=0")).length, head + 2, "only Mary's edit and removal were logged");

  // Mary restores it
  await mary.bringToFront();
  await restoreButton(mary).click();
  for (const page of [george, mary]) await waitForTitles(page, [...titlesBefore, "Mary's secret plan"]);
  const events = await getJson(server.url, `/events?after=${head}`);
  assert.deepEqual(events.map((e) => [e.type, e.meta.user]), [["editNoteText", "Mary"], ["removeNote", "Mary"], ["flux/restore", "Mary"]]);
  assert.equal((await getJson(server.url, `/collections/notes/${note.id}`)).text, "Buy a DeLorean. Find plutonium.");

  const expected = [/Failed to load resource: the server responded with a status of 4(03|15)/];
  assert.deepEqual(problems.slice(start).filter((p) => !expected.some((re) => re.test(p))), [], "no other errors in the pages");
});
