// The notes example's scenarios (examples/notes/scenarios -> examples/notes/snapshots)
// through the notes wasm package, as an app's own test would run them. The Rust
// (notes-reducers) and SQL (notes-server) runners check the very same files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { checkScenario, loadScenarios } from "flux-capacitor/testing";

const require = createRequire(import.meta.url);
const notesWasm = require("../pkg-notes/nodejs/notes_wasm.js");

const cases = await loadScenarios(new URL("../../examples/notes/", import.meta.url));
assert.ok(cases.length >= 5, `the notes scenarios are there (${cases.length})`);

for (const scenarioCase of cases) test(scenarioCase.name, () => checkScenario(scenarioCase, notesWasm));
