// The notes server serves the built page (dist/) and nothing else of this
// directory: the page and its browser builds, not package.json, the README,
// the tests or node_modules. Started without --web: the binary's default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DIST_DIR, startServer, tempDatabase } from "./server.js";

test("the default web directory serves the built page and none of its sources", async () => {
  const db = tempDatabase();
  const server = await startServer({ database: db.url, web: null });
  try {
    const get = async (path) => {
      const response = await fetch(`${server.url}${path}`);
      return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
    };
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<script type="importmap">/);
    const { imports } = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(page.body.toString())[1]);
    for (const path of ["/app.js", "/style.css", ...Object.values(imports).map((p) => p.replace(/^\./, "")), "/vendor/notes-wasm-web/notes_wasm_bg.wasm"]) {
      const served = await get(path);
      assert.equal(served.status, 200, path);
      assert.deepEqual(served.body, readFileSync(join(DIST_DIR, path)), `${path} is the built file`);
    }
    for (const path of [
      "/package.json",
      "/package-lock.json",
      "/README.md",
      "/test/server.js",
      "/test/static.test.js",
      "/node_modules/flux-capacitor/package.json",
      "/node_modules/flux-capacitor/src/index.js",
      "/node_modules/notes-wasm-web/notes_wasm.js",
      "/%2e%2e/package.json",
      "/vendor/%2e%2e/%2e%2e/README.md",
    ]) {
      assert.equal((await get(path)).status, 404, path);
    }
  } finally {
    await server.stop();
    db.remove();
  }
});
