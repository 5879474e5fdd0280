// The real notes server process for a test file: a fresh SQLite database in a temp
// directory, the server (NOTES_BIN) on it, and a TCP proxy in front whose `cut()`
// and `resume()` stand for the network going and coming back. One `before` and one
// `after` hook registered for the whole file.
import { after, before } from "node:test";
import { startProxy, startServer, tempDatabase } from "../../../examples/notes/web/test/server.js";

/**
 * Registers the hooks and answers `{ db, server, proxy }`, filled in by `before`
 * (read its fields inside tests, not at import time). `proxy: false`: no proxy.
 */
export function useNotesServer({ proxy = true } = {}) {
  const env = { db: null, server: null, proxy: null };
  before(async () => {
    env.db = tempDatabase();
    env.server = await startServer({ database: env.db.url, web: null });
    if (proxy) env.proxy = await startProxy(env.server.port);
  });
  after(async () => {
    try {
      await env.server?.stop();
      await env.proxy?.close();
    } finally {
      env.db?.remove();
    }
  });
  return env;
}
