// The notes scenarios under Vitest, as an app's test would check its own: one
// test per scenario file. No Vitest config needed (ES modules, Node environment).
import { test } from "vitest";
import { checkScenario, loadScenarios } from "flux-capacitor/testing";
import notes from "notes-wasm";

const dir = process.env.SCENARIOS_DIR ?? new URL("../../../examples/notes/", import.meta.url);

for (const scenario of await loadScenarios(dir)) test(scenario.name, () => checkScenario(scenario, notes));
