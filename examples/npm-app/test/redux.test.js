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
    const slices = collections.map((name) => [name, reduxify(wasm, name, { schema })]);
    // Redux's combineReducers (and RTK's dev-only immutability check) keep names in
    // plain objects, where `__proto__` cannot be an own key; this root reducer holds
    // any collection name, and the check is left out where a name or key is `__proto__`.
    const root = (state = {}, action) =>
      Object.fromEntries(slices.map(([name, slice]) => [name, slice(Object.hasOwn(state, name) ? state[name] : undefined, action)]));
    const store = configureStore({
      reducer: root,
      middleware: (defaults) => defaults({ immutableCheck: !JSON.stringify(events).includes('"__proto__"') }),
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
    const state = Object.fromEntries(
      collections.map((name) => [name, selectAll(store.getState()[name])]).filter(([, rows]) => rows.length),
    );
    assert.deepStrictEqual({ results, state }, expected);
  });
}
