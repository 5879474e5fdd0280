// The conformance suite through the installed packages in a Redux Toolkit store:
// one `reduxify` slice per collection in `configureStore`, each committed event
// dispatched as a `flux/committed` batch, rows read with RTK's entity selectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import { committed, reduxify } from "flux-capacitor";
import wasm from "flux-capacitor-conformance-wasm";
import { collectionsOf, loadScenario, runEvents, scenarioNames } from "../scenarios.js";

const names = scenarioNames();
test("the suite is there", () => assert.ok(names.length >= 25, `${names.length} scenarios`));

const { selectAll } = createEntityAdapter().getSelectors();

for (const file of names) {
  test(`redux: ${file}`, () => {
    const { events, schema, expected } = loadScenario(file);
    const collections = collectionsOf(wasm, events, schema);
    const store = configureStore({
      reducer: Object.fromEntries(collections.map((name) => [name, reduxify(wasm, name, { schema })])),
    });
    const results = runEvents(events, (event) => {
      const before = store.getState();
      try {
        store.dispatch(committed([event]));
      } catch (err) {
        assert.equal(store.getState(), before, "a failed dispatch keeps the state");
        throw err;
      }
    });
    const state = {};
    for (const name of collections) {
      const rows = selectAll(store.getState()[name]);
      if (rows.length) state[name] = rows;
    }
    assert.deepStrictEqual({ results, state }, expected);
  });
}
