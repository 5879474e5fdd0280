// Click-to-state latency of the notes page in a real headless Chromium against the
// real notes server (SQLite in a temporary file): for each "Add note" click, the
// time until the note is in the page's DOM (the optimistic path: the page's own
// reducers apply it inside the click handler) and the time until the server's
// committed event comes back over the live feed and confirms it (the round trip:
// POST, commit, push; what the page showed the note after before it was
// optimistic). Both measured in the page with performance.now(), in the same run.
//
//   bash scripts/build-notes-web.sh && cargo build --release -p notes-server
//   NOTES_BIN=target/release/notes node examples/notes/web/bench/click-to-state.js [clicks]
import { launchChromium } from "../test/chromium.js";
import { startServer, tempDatabase } from "../test/server.js";

const CLICKS = Number(process.argv[2] ?? 300);
const WARMUP = 20;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (x) => `${x.toFixed(x < 1 ? 3 : 1)} ms`;

const db = tempDatabase();
const server = await startServer({ database: db.url });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/?user=George`);
  await page.waitForSelector('[data-testid="connection"][data-status="open"]', { timeout: 30_000 });
  console.error(`notes page ready; ${WARMUP} warm-up clicks, then ${CLICKS} measured (one at a time)`);
  const samples = [];
  for (let i = 0; i < WARMUP + CLICKS; i++) {
    // One click, measured inside the page: t0 just before the click event, the
    // optimistic time when the handler returned with the note in the DOM, the
    // round trip when the note's pending mark goes (its commit came back).
    const sample = await page.evaluate(async (title) => {
      const form = document.querySelector('[data-testid="add-form"]');
      form.elements.title.value = title;
      const t0 = performance.now();
      document.querySelector('[data-testid="add-submit"]').click();
      const t1 = performance.now();
      const el = [...document.querySelectorAll('[data-testid="note"]')].find(
        (n) => n.querySelector('[data-testid="note-title"]').value === title,
      );
      if (!el) throw new Error(`"${title}" is not in the DOM after the click`);
      await new Promise((done) => {
        if (el.dataset.pending === undefined) return done();
        const observer = new MutationObserver(() => {
          if (el.dataset.pending === undefined) {
            observer.disconnect();
            done();
          }
        });
        observer.observe(el, { attributes: true, attributeFilter: ["data-pending"] });
      });
      return { optimistic: t1 - t0, roundTrip: performance.now() - t0 };
    }, `bench ${i}`);
    if (i >= WARMUP) samples.push(sample);
    if ((i + 1) % 50 === 0) console.error(`  ${i + 1}/${WARMUP + CLICKS}`);
  }
  const optimistic = samples.map((s) => s.optimistic).sort((a, b) => a - b);
  const roundTrip = samples.map((s) => s.roundTrip).sort((a, b) => a - b);
  const p50 = [quantile(optimistic, 0.5), quantile(roundTrip, 0.5)];
  const p99 = [quantile(optimistic, 0.99), quantile(roundTrip, 0.99)];
  console.log(`clicks: ${CLICKS} (after ${WARMUP} warm-up), notes server ${process.env.NOTES_BIN ? "NOTES_BIN" : "target/debug/notes"}, SQLite`);
  console.log(`optimistic click-to-state (note in the DOM): p50 ${ms(p50[0])}, p99 ${ms(p99[0])}`);
  console.log(`round trip click-to-confirmed (POST, commit, push): p50 ${ms(p50[1])}, p99 ${ms(p99[1])}`);
  console.log(`ratio (round trip / optimistic): p50 ${(p50[1] / p50[0]).toFixed(1)}x, p99 ${(p99[1] / p99[0]).toFixed(1)}x`);
} finally {
  await browser.close();
  await server.stop();
  db.remove();
}
