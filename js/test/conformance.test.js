// Every scenario of tests/scenarios through the built conformance wasm package
// and reduxifyAll; outcomes and final state compared with tests/snapshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { committed, reduxifyAll, rowsOf } from "../src/index.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");
const root = new URL("../../tests/", import.meta.url);

const timestampFor = (seq) => {
  const days = Math.floor(seq / 86400), rest = seq % 86400;
  const p = (n) => String(n).padStart(2, "0");
  return `2026-01-${p(days + 1)}T${p(Math.floor(rest / 3600))}:${p(Math.floor((rest % 3600) / 60))}:${p(rest % 60)}Z`;
};
const uuid = (seq) => `00000000-0000-0000-0000-${seq.toString(16).padStart(12, "0")}`;

const names = readdirSync(new URL("scenarios/", root)).filter((f) => f.endsWith(".json")).sort();
assert.ok(names.length >= 25);

for (const file of names) {
  test(`scenario ${file}`, () => {
    const scenario = JSON.parse(readFileSync(new URL(`scenarios/${file}`, root), "utf8"));
    const expected = JSON.parse(readFileSync(new URL(`snapshots/${file}`, root), "utf8"));
    const schema = scenario.schema && Object.keys(scenario.schema).length ? scenario.schema : undefined;
    const reducer = reduxifyAll(wasm, { schema });
    let state = reducer(undefined, { type: "@@INIT" });
    let seq = 0;
    const results = scenario.events.map((event) => {
      const stored = { ...event, id: uuid(seq + 1), seq: seq + 1, timestamp: timestampFor(seq + 1) };
      try {
        state = reducer(state, committed([stored]));
        seq += 1;
        return "ok";
      } catch (err) {
        assert.ok(err instanceof Error);
        return err.kind;
      }
    });
    // Object.fromEntries: a collection named `__proto__` stays an own property.
    const snapshot = Object.fromEntries(Object.keys(state).sort().filter((name) => state[name].ids.length)
      .map((name) => [name, rowsOf(state[name])]));
    assert.deepStrictEqual({ results, state: snapshot }, expected);
  });
}
