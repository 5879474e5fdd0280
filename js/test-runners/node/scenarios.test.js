// The notes scenarios under `node --test`: the reference the Vitest and Jest
// versions beside it are compared with (check/runners.test.js).
import { test } from "node:test";
import { checkScenario, loadScenarios } from "flux-capacitor/testing";
import notes from "notes-wasm";

const dir = process.env.SCENARIOS_DIR ?? new URL("../../../examples/notes/", import.meta.url);

for (const scenario of await loadScenarios(dir)) test(scenario.name, () => checkScenario(scenario, notes));
