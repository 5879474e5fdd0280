// The conformance suite through the installed packages with the MobX adapter:
// one ObservableCollection per collection. A changeset may span collections, so
// each event is checked against every collection first and then applied to all
// of them in one MobX action (all or nothing, reactions run once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { autorun, runInAction, toJS } from "mobx";
import { ObservableCollection } from "flux-capacitor/mobx";
import wasm from "flux-capacitor-conformance-wasm";
import { collectionsOf, firstError, loadScenario, plain, runEvents, scenarioNames } from "../scenarios.js";

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
      const errors = [];
      for (const c of collections) {
        try {
          c.check([event]);
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw firstError(errors);
      runInAction(() => {
        for (const c of collections) c.apply([event]);
      });
      applied += 1;
    });
    dispose();
    assert.ok(reactions <= 1 + applied, `${reactions} reactions for ${applied} batches`);
    const entries = [];
    for (const c of collections) {
      const rows = c.ids.map((id) => plain(c.entities.get(id)));
      if (rows.length) entries.push([c.collection, rows]);
    }
    // Object.fromEntries: a collection named `__proto__` stays an own property.
    assert.deepStrictEqual({ results, state: Object.fromEntries(entries) }, expected);
  });
}
