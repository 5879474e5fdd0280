// The MobX adapter with real mobx: conformance scenarios (per collection), reactions once per batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { autorun, toJS } from "mobx";
import { committed } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");
const root = new URL("../../tests/", import.meta.url);
// Plain data out of observables, own keys only: mobx's toJS assigns keys, so it
// would drop a field named `__proto__`.
const plain = (v) => (Array.isArray(v) ? v.map(plain)
  : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).map((k) => [k, plain(v[k])])) : v);

test("reactions fire once per batch; rows updated in place", () => {
  const issues = new ObservableCollection(wasm, "issues");
  let runs = 0;
  autorun(() => { runs++; issues.ids.length; for (const [, r] of issues.entities) r.title; });
  const add = (id) => ({ type: "addIssue", payload: { id, title: id, author: "m", priority: null } });
  issues.dispatch(committed([add("b"), add("a"), add("c")]));
  assert.equal(runs, 2);
  const a = issues.entities.get("a");
  issues.dispatch({ type: "renameIssue", payload: { id: "a", title: "A!" } });
  assert.equal(runs, 3);
  assert.equal(issues.entities.get("a"), a);
  assert.equal(a.title, "A!");
  assert.deepEqual(toJS(issues.ids), ["a", "b", "c"]);
  assert.throws(() => issues.dispatch(committed([add("d"), add("a")])), (e) => e instanceof Error && e.kind === "duplicate_key");
  assert.equal(runs, 3);
  assert.equal(issues.entities.has("d"), false);
});

// Scenarios whose changesets touch one collection: the single-collection adapter is exact there.
for (const file of readdirSync(new URL("scenarios/", root)).filter((f) => f.endsWith(".json")).sort()) {
  test(`mobx scenario ${file}`, () => {
    const scenario = JSON.parse(readFileSync(new URL(`scenarios/${file}`, root), "utf8"));
    const expected = JSON.parse(readFileSync(new URL(`snapshots/${file}`, root), "utf8"));
    const schema = scenario.schema && Object.keys(scenario.schema).length ? scenario.schema : undefined;
    const names = new Set([...JSON.stringify(scenario.events).matchAll(/"collection":"([^"]+)"/g)].map((m) => m[1]));
    ["issues", "users", ...Object.keys(schema ?? {})].forEach((n) => names.add(n));
    const cols = [...names].sort().map((n) => new ObservableCollection(wasm, n, { schema }));
    let seq = 0;
    const results = scenario.events.map((event) => {
      const stored = { ...event, seq: seq + 1 };
      // All or nothing across collections: check each, then apply all. Each
      // collection validates every operation but applies only its own, so a
      // row-dependent error (only its collection sees it) comes first if any.
      const errors = [];
      for (const c of cols) {
        try {
          c.check([stored]);
        } catch (e) {
          assert.ok(e instanceof Error);
          errors.push(e);
        }
      }
      if (errors.length) return (errors.find((e) => ["duplicate_key", "key_collision"].includes(e.kind)) ?? errors[0]).kind;
      for (const c of cols) c.apply([stored]);
      seq++;
      return "ok";
    });
    const entries = [];
    for (const c of cols) {
      const rows = plain(c.ids).map((id) => plain(c.entities.get(id)));
      assert.deepStrictEqual(rows, c.rows);
      if (rows.length) entries.push([c.collection, rows]);
    }
    // Object.fromEntries: a collection named `__proto__` stays an own property.
    assert.deepStrictEqual({ results, state: Object.fromEntries(entries) }, expected);
  });
}

test("a removed row whose key is an Object.prototype member leaves no entity behind", () => {
  const apply = (ops) => ({ type: "conformance/apply", payload: { ops } });
  const things = new ObservableCollection(wasm, "things");
  const names = ["__proto__", "constructor", "toString"];
  things.dispatch(committed([apply(names.map((id) => ({ op: "create", collection: "things", row: { id } })))]));
  assert.deepEqual([...things.entities.keys()].sort(), names);
  things.dispatch(committed([apply(names.map((id) => ({ op: "destroy_by_id", collection: "things", id })))]));
  assert.deepEqual([...things.ids], []);
  assert.deepEqual([...things.entities.keys()], []);
});
