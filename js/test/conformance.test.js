// Every scenario of tests/scenarios through the built conformance wasm package and
// reduxifyAll, by flux-capacitor/testing: outcomes and final state compared with
// tests/snapshots, the files the Rust and SQL runners check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { checkScenario, loadScenarios } from "../src/testing.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const cases = await loadScenarios(new URL("../../tests/", import.meta.url));
assert.ok(cases.length >= 25);

for (const scenarioCase of cases) test(`scenario ${scenarioCase.name}`, () => checkScenario(scenarioCase, wasm));
