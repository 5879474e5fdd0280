// The scenarios (../scenarios -> ../snapshots) through the reducers compiled to
// wasm (web/pkg/nodejs, built by wasm-pack --target nodejs) and reduxify: the
// same files the Rust tests check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { checkScenario, loadScenarios } from "flux-capacitor/testing";

const require = createRequire(import.meta.url);
const wasm = require("../pkg/nodejs/{{crate}}_wasm.js");

const cases = await loadScenarios(new URL("../../", import.meta.url));
assert.ok(cases.length > 0, "no scenarios in ../scenarios");

for (const scenarioCase of cases) test(scenarioCase.name, () => checkScenario(scenarioCase, wasm));
