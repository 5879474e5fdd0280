// The changeset hash through the built conformance wasm package: the same bits
// as the Rust side for every changeset of tests/changeset-hashes.json (written
// and checked by `cargo test -p flux-capacitor --test hash`), whatever the key
// order of the JS objects, and for the changesets `reduce` computes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const cases = JSON.parse(readFileSync(new URL("../../tests/changeset-hashes.json", import.meta.url), "utf8"));

/** `value` with every object's keys in reverse order. */
function reversed(value) {
  if (Array.isArray(value)) return value.map(reversed);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)]));
  }
  return value;
}

test("changesetHash gives the Rust side's hash of every fixture changeset, in any key order", () => {
  assert.ok(cases.length >= 7);
  for (const { changeset, hash } of cases) {
    assert.match(hash, /^[0-9a-f]{16}$/);
    assert.equal(wasm.changesetHash(changeset), hash, JSON.stringify(changeset));
    assert.equal(wasm.changesetHash(reversed(changeset)), hash, JSON.stringify(changeset));
  }
});

test("the hash of the changeset reduce computes is the Rust side's", () => {
  for (const { changeset, hash } of cases) {
    const reduced = wasm.reduce({ type: "conformance/apply", payload: { ops: changeset } });
    assert.equal(wasm.changesetHash(reduced), hash, JSON.stringify(changeset));
  }
});

test("changesetHash refuses what is not a changeset with a typed Error", () => {
  for (const bad of [{}, [{ op: "bogus", collection: "x" }], [{ op: "create", collection: "x", row: 1 }]]) {
    assert.throws(
      () => wasm.changesetHash(bad),
      (err) => err instanceof Error && err.kind === "invalid_changeset",
      JSON.stringify(bad),
    );
  }
});
