// A Rust panic surfaces as an Error (kind "panic"); the module then refuses to run (kind "poisoned").
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

test("panic is an Error, later calls fail loudly", () => {
  assert.throws(() => wasm.reduce({ type: "test/panic" }), (e) => e instanceof Error && e.kind === "panic" && /boom/.test(e.message));
  assert.throws(() => wasm.reduce({ type: "x" }), (e) => e instanceof Error && e.kind === "poisoned");
});
