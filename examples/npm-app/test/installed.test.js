// The packages under test are the installed tarballs, not links to the repository.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

for (const name of ["flux-capacitor", "flux-capacitor-conformance-wasm"]) {
  test(`${name} is installed from its tarball`, () => {
    const dir = new URL(`../node_modules/${name}/`, import.meta.url);
    assert.ok(lstatSync(dir).isDirectory() && !lstatSync(dir).isSymbolicLink(), "a real directory");
    const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));
    assert.match(lock.packages[`node_modules/${name}`].resolved, /^file:vendor\/.*\.tgz$/);
  });
}

test("the wasm package is CommonJS for node, with its types", () => {
  const pkg = require("flux-capacitor-conformance-wasm/package.json");
  assert.equal(pkg.type, "commonjs");
  assert.ok(pkg.files.includes(pkg.main) && pkg.files.includes(pkg.types));
  assert.equal(typeof require("flux-capacitor-conformance-wasm").reduce, "function");
});

test("flux-capacitor's entry points resolve", async () => {
  assert.equal(typeof (await import("flux-capacitor")).reduxify, "function");
  assert.equal(typeof (await import("flux-capacitor/mobx")).ObservableCollection, "function");
  assert.equal(typeof (await import("flux-capacitor/live")).connectLive, "function");
  assert.equal(typeof (await import("flux-capacitor/testing")).checkScenario, "function");
});
