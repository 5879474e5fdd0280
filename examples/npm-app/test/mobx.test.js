// The conformance suite through the installed packages with the MobX adapter:
// one ObservableCollection per collection. A changeset may span collections, so
// each event is checked against every collection first and then applied to all
// of them in one MobX action (all or nothing, reactions run once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { autorun, runInAction, toJS } from "mobx";
import { ObservableCollection } from "flux-capacitor/mobx";
import wasm from "flux-capacitor-conformance-wasm";
import { collectionsOf, loadScenario, runEvents, scenarioNames } from "../scenarios.js";

for (const file of scenarioNames()) {
  test(`mobx: ${file}`, () => {
    const { events, schema, expected } = loadScenario(file);
    const collections = collectionsOf(wasm, events, schema).map(
      (name) => new ObservableCollection(wasm, name, { schema }),
    );
    let reactions = 0;
    const dispose = autorun(() => {
      reactions += 1;
      for (const c of collections) for (const id of c.ids) toJS(c.entities.get(id));
    });
    let applied = 0;
    const results = runEvents(events, (event) => {
      for (const c of collections) c.check([event]);
      runInAction(() => {
        for (const c of collections) c.apply([event]);
      });
      applied += 1;
    });
    dispose();
    assert.ok(reactions <= 1 + applied, `${reactions} reactions for ${applied} batches`);
    // Object.fromEntries: a collection named `__proto__` stays an own property.
    const state = Object.fromEntries(
      collections.map((c) => [c.collection, c.ids.map((id) => toJS(c.entities.get(id)))]).filter(([, rows]) => rows.length),
    );
    assert.deepStrictEqual({ results, state }, expected);
  });
}
