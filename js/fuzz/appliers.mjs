// The JS appliers of the differential fuzzer (server/tests/differential.rs):
// reads scenarios as JSON lines on stdin ({ description, schema, events }),
// runs each through the conformance wasm package with reduxifyAll and with
// one MobX ObservableCollection per collection, and writes one JSON line per
// scenario: { redux: { results, state }, mobx: { results, state } }, in the
// snapshot format of tests/snapshots (collections with rows, rows in key order).
// An error that is not a FluxCapacitorError is reported as `crash: <message>`.
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { committed, reduxifyAll, rowsOf } from "../src/index.js";
import { ObservableCollection } from "../src/mobx.js";
import { storedAt as stored } from "../src/testing.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const kindOf = (err) => (err && typeof err.kind === "string" ? err.kind : `crash: ${err?.stack ?? err}`);
// Plain data out of MobX observables, own keys only (mobx's toJS assigns keys,
// so it would drop a field named `__proto__`).
const plain = (v) => (Array.isArray(v) ? v.map(plain)
  : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).map((k) => [k, plain(v[k])])) : v);
const schemaOf = (scenario) => (scenario.schema && Object.keys(scenario.schema).length ? scenario.schema : undefined);

function redux(scenario) {
  const reducer = reduxifyAll(wasm, { schema: schemaOf(scenario) });
  let state = reducer(undefined, { type: "@@INIT" });
  let seq = 0;
  const results = scenario.events.map((event) => {
    try {
      state = reducer(state, committed([stored(event, seq + 1)]));
      seq += 1;
      return "ok";
    } catch (err) {
      return kindOf(err);
    }
  });
  // Object.fromEntries: a collection named `__proto__` stays an own property.
  const snapshot = Object.fromEntries(Object.keys(state).sort().filter((name) => state[name].ids.length)
    .map((name) => [name, rowsOf(state[name])]));
  return { results, state: snapshot };
}

// The errors applying an operation raises (apply.js); the others come from validation.
const ROW_DEPENDENT = new Set(["duplicate_key", "key_collision"]);

function mobx(scenario) {
  const schema = schemaOf(scenario);
  const cols = Object.keys(schema ?? {}).sort().map((name) => new ObservableCollection(wasm, name, { schema }));
  let seq = 0;
  const results = scenario.events.map((event) => {
    const e = stored(event, seq + 1);
    // All or nothing across collections: check each, then apply all. Each
    // collection validates every operation but applies only its own, so the
    // changeset's first error is a row-dependent one (only its collection
    // sees it) if any collection reports one, else the validation error all see.
    const errors = [];
    for (const c of cols) {
      try {
        c.check([e]);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) return kindOf(errors.find((err) => ROW_DEPENDENT.has(err?.kind)) ?? errors[0]);
    try {
      for (const c of cols) c.apply([e]);
    } catch (err) {
      return kindOf(err);
    }
    seq += 1;
    return "ok";
  });
  const entries = [];
  for (const c of cols) {
    const rows = plain(c.ids).map((id) => plain(c.entities.get(id)));
    if (JSON.stringify(rows) !== JSON.stringify(c.rows)) throw new Error(`mobx: observable rows of ${c.collection} differ from its state`);
    if (rows.length) entries.push([c.collection, rows]);
  }
  return { results, state: Object.fromEntries(entries) };
}

const guard = (run, scenario) => {
  try {
    return run(scenario);
  } catch (err) {
    return { results: [`crash: ${err?.stack ?? err}`], state: {} };
  }
};

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const scenario = JSON.parse(line);
  process.stdout.write(JSON.stringify({ redux: guard(redux, scenario), mobx: guard(mobx, scenario) }) + "\n");
}
