// Debian's headless Chromium, driven by playwright-core, as every browser test
// here launches it: no sandbox (CI runs as root), no GPU, no QUIC and none of
// Chromium's own background traffic, so the only requests are the page's.
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { startServer, tempDatabase } from "./server.js";

/** The Chromium binary: `CHROMIUM_BIN`, or Debian's. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

/**
 * A page served by the test (`route.fulfill`, e.g. a reload while offline) is not
 * counted by Chromium as loaded from 127.0.0.1, so its Local Network Access checks
 * would block the page's WebSocket to 127.0.0.1: pass this to turn them off.
 */
export const SERVED_BY_THE_TEST = "--disable-features=LocalNetworkAccessChecks";

/** `chromium.launch` with the flags above plus `args`. */
export const launchChromium = (args = []) => chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, ...args] });

/** `chromium.launchPersistentContext` in `profile` with the flags above plus `options`. */
export const launchPersistentChromium = (profile, options = {}) =>
  chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, ...options, args: [...ARGS, ...(options.args ?? [])] });

/**
 * Registers the `before`/`after` hooks most browser tests here share: a fresh
 * database, the real notes server on it, and Chromium launched with `args`.
 * Returns an object whose `db`, `server` and `browser` are set once `before` ran.
 */
export function useServerAndChromium(args = []) {
  const env = { db: null, server: null, browser: null };
  before(async () => {
    env.db = tempDatabase();
    env.server = await startServer({ database: env.db.url });
    env.browser = await launchChromium(args);
  });
  after(async () => {
    try {
      await env.browser?.close();
    } finally {
      await env.server?.stop();
      env.db?.remove();
    }
  });
  return env;
}
