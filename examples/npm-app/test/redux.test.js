// The conformance suite through the installed packages in a Redux Toolkit store:
// one `reduxify` slice per collection in `configureStore`, each committed event
// dispatched as a `flux/committed` batch, rows read with RTK's entity selectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import { committed, reduxify } from "flux-capacitor";
import wasm from "flux-capacitor-conformance-wasm";
import { collectionsOf, firstError, loadScenario, runEvents, scenarioNames } from "../scenarios.js";

const names = scenarioNames();
test("the suite is there", () => assert.ok(names.length >= 25, `${names.length} scenarios`));

const { selectAll } = createEntityAdapter().getSelectors();

// combineReducers assigns its slice keys, so a collection named `__proto__`
// needs another slice key; and RTK's immutability check tracks keys the same
// way, so it misreads a row or field named `__proto__` as a mutation.
const sliceKey = (name) => (name === "__proto__" ? "__proto__ collection" : name);

for (const file of names) {
  test(`redux: ${file}`, () => {
    const { events, schema, expected } = loadScenario(file);
    const collections = collectionsOf(wasm, events, schema);
    const reducers = Object.fromEntries(collections.map((name) => [sliceKey(name), reduxify(wasm, name, { schema })]));
    const store = configureStore({
      reducer: reducers,
      middleware: (defaults) => defaults({ immutableCheck: !JSON.stringify(events).includes("__proto__") }),
    });
    const results = runEvents(events, (event) => {
      const before = store.getState();
      try {
        store.dispatch(committed([event]));
      } catch (err) {
        assert.equal(store.getState(), before, "a failed dispatch keeps the state");
        // Each slice validates every operation but applies only its own: the
        // changeset's error is the first one of any slice.
        const errors = [];
        for (const [key, reducer] of Object.entries(reducers)) {
          try {
            reducer(before[key], committed([event]));
          } catch (e) {
            errors.push(e);
          }
        }
        throw errors.length ? firstError(errors) : err;
      }
    });
    const entries = [];
    for (const name of collections) {
      const rows = selectAll(store.getState()[sliceKey(name)]);
      if (rows.length) entries.push([name, rows]);
    }
    // Object.fromEntries: a collection named `__proto__` stays an own property.
    assert.deepStrictEqual({ results, state: Object.fromEntries(entries) }, expected);
  });
}
