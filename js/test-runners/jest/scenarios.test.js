// The notes scenarios under Jest, as an app's test would check its own: one test
// per scenario file. flux-capacitor is an ES module package, so Jest runs in its
// ESM mode: `transform: {}` (jest.config.js) and
// `node --experimental-vm-modules node_modules/jest/bin/jest.js`.
import { checkScenario, loadScenarios } from "flux-capacitor/testing";
import notes from "notes-wasm";

const dir = process.env.SCENARIOS_DIR ?? new URL("../../../examples/notes/", import.meta.url);

for (const scenario of await loadScenarios(dir)) test(scenario.name, () => checkScenario(scenario, notes));
