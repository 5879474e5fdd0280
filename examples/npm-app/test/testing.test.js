// flux-capacitor/testing from the installed tarball: the whole conformance suite
// through the installed wasm package in one call, as an app checks its own scenarios.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkScenarios } from "flux-capacitor/testing";
import wasm from "flux-capacitor-conformance-wasm";

const dir = process.env.FLUX_CONFORMANCE_DIR ?? new URL("../../../tests/", import.meta.url);

test("checkScenarios: every scenario of the suite matches its snapshot", async () => {
  const { passed, recorded } = await checkScenarios(dir, wasm, { update: false });
  assert.equal(recorded, 0);
  assert.ok(passed >= 25, `${passed} scenarios`);
});
