// The shared conformance suite, read from the repository's tests/ (the very
// files the Rust tests check): tests/scenarios/<name>.json holds the events (and
// an optional SQL-like schema), tests/snapshots/<name>.json the expected
// { results, state }: one result per event ("ok" or the error's kind), then
// every non-empty collection's rows in key order.
// FLUX_CONFORMANCE_DIR points elsewhere (a directory holding scenarios/ and snapshots/).
import { readFileSync, readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { storedAt } from "flux-capacitor/testing";

const root = process.env.FLUX_CONFORMANCE_DIR
  ? pathToFileURL(process.env.FLUX_CONFORMANCE_DIR.replace(/\/?$/, "/"))
  : new URL("../../tests/", import.meta.url);

const readJson = (path) => JSON.parse(readFileSync(new URL(path, root), "utf8"));

/** Every scenario file name, sorted. */
export const scenarioNames = () =>
  readdirSync(new URL("scenarios/", root)).filter((f) => f.endsWith(".json")).sort();

/** `{ events, schema, expected }` of one scenario; `schema` is undefined when empty. */
export function loadScenario(name) {
  const scenario = readJson(`scenarios/${name}`);
  const schema = scenario.schema && Object.keys(scenario.schema).length ? scenario.schema : undefined;
  return { events: scenario.events, schema, expected: readJson(`snapshots/${name}`) };
}

/** The stored form of `event` when it is committed as number `seq`, as the Rust suite gives it. */
export const stored = storedAt;

/**
 * The collections a scenario can touch: its schema's, plus every collection the
 * reducers name in the changesets of its events (an event the reducers reject
 * names none).
 */
export function collectionsOf(wasm, events, schema) {
  const names = new Set(Object.keys(schema ?? {}));
  events.forEach((event, i) => {
    try {
      for (const op of wasm.reduce(stored(event, i + 1))) names.add(op.collection);
    } catch {
      // rejected: no changeset, no collection
    }
  });
  return [...names].sort();
}

/**
 * Runs the events one batch each through `commit(storedEvent)`, which applies
 * it or throws. A failed event is not committed (the next one gets its seq).
 * Returns the results ("ok" or the error's kind); throws if a failure is not
 * an Error with a kind.
 */
export function runEvents(events, commit) {
  let seq = 0;
  return events.map((event) => {
    try {
      commit(stored(event, seq + 1));
      seq += 1;
      return "ok";
    } catch (err) {
      if (!(err instanceof Error) || typeof err.kind !== "string") throw err;
      return err.kind;
    }
  });
}

/** Plain data, own keys only (mobx's toJS assigns keys, so it drops a field named `__proto__`). */
export const plain = (v) => (Array.isArray(v) ? v.map(plain)
  : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).map((k) => [k, plain(v[k])])) : v);

// The errors applying an operation raises (only the collection holding the rows
// sees them); the others come from validation, which every collection runs.
const ROW_DEPENDENT = new Set(["duplicate_key", "key_collision"]);

/**
 * The error of a changeset checked collection by collection (an adapter per
 * collection validates every operation but applies only its own): a
 * row-dependent error if any collection saw one (it came first), else the
 * validation error they all saw.
 */
export const firstError = (errors) => errors.find((e) => ROW_DEPENDENT.has(e.kind)) ?? errors[0];
