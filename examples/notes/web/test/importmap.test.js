// The page has no bundler: the built page's (dist/) import map must resolve
// every module app.js reaches, to files that exist in dist/ and run in a
// browser as they are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { DIST_DIR as WEB_DIR } from "./server.js";

const html = readFileSync(join(WEB_DIR, "index.html"), "utf8");
const { imports } = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(html)[1]);

/** The static import specifiers of a module's source (minified or not). */
function specifiers(source) {
  const found = new Set();
  for (const re of [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g]) {
    for (const m of source.matchAll(re)) found.add(m[1]);
  }
  return [...found];
}

test("every module app.js reaches resolves through the import map to a browser-ready file", () => {
  const seen = new Map(); // file -> who imported it
  const queue = [[join(WEB_DIR, "app.js"), "index.html"]];
  while (queue.length) {
    const [file, from] = queue.shift();
    if (seen.has(file)) continue;
    assert.ok(existsSync(file), `${relative(WEB_DIR, file)} (imported by ${from}) does not exist: run scripts/build-notes-web.sh`);
    seen.set(file, from);
    const source = readFileSync(file, "utf8");
    assert.doesNotMatch(source, /\bprocess\.env\b/, `${relative(WEB_DIR, file)} reads process.env: not a browser build`);
    for (const spec of specifiers(source)) {
      let target;
      if (spec.startsWith("./") || spec.startsWith("../")) target = resolve(dirname(file), spec);
      else {
        assert.ok(spec in imports, `${relative(WEB_DIR, file)} imports "${spec}", which the import map lacks`);
        target = resolve(WEB_DIR, imports[spec]);
      }
      queue.push([target, relative(WEB_DIR, file)]);
    }
  }
  const reached = [...seen.keys()].map((f) => relative(WEB_DIR, f));
  for (const spec of ["@reduxjs/toolkit", "redux", "immer", "reselect", "redux-thunk", "flux-capacitor", "flux-capacitor/live", "notes-wasm-web"]) {
    assert.ok(reached.includes(imports[spec].replace(/^\.\//, "")), `${spec} is mapped but never reached`);
  }
});
