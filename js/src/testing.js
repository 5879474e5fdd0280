// flux-capacitor/testing: the scenario files of Rust's `flux_capacitor::testing`
// (`<dir>/scenarios/*.json` -> `<dir>/snapshots/*.json`) run through your reducers'
// wasm package and this package's Redux applier (`reduxifyAll`), checked against the
// very same snapshots. Node only (it reads files). Plain async functions that throw
// node:assert's AssertionError, so they work under `node --test`, Vitest and Jest alike.
import { AssertionError } from "node:assert";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { committed } from "./actions.js";
import { reduxifyAll, rowsOf } from "./redux.js";
import { compareStrings } from "./semantics.js";

/** The environment variable that makes a check record snapshots: `UPDATE_SNAPSHOTS=1`. */
export const UPDATE_SNAPSHOTS = "UPDATE_SNAPSHOTS";

const SCENARIO_FIELDS = ["description", "schema", "initial", "events"];
const EVENT_FIELDS = ["type", "payload", "meta", "error", "expect"];

/** `2026-01-01T00:00:00Z` plus `seq` seconds: what Rust's `timestamp_for(seq)` gives. */
export function timestampFor(seq) {
  const days = Math.floor(seq / 86400), rest = seq % 86400;
  const p = (n) => String(n).padStart(2, "0");
  return `2026-01-${p(days + 1)}T${p(Math.floor(rest / 3600))}:${p(Math.floor((rest % 3600) / 60))}:${p(rest % 60)}Z`;
}

/** An initial state the applier refuses (a duplicate key, a field the schema lacks...). */
class InitialStateError extends Error {}

/** `Uuid::from_u128(seq)`. */
const uuidFor = (seq) => `00000000-0000-0000-0000-${seq.toString(16).padStart(12, "0")}`;

/**
 * `event` as every runner stores it when it is committed as number `seq`: the id
 * `Uuid::from_u128(seq)` and the timestamp `timestampFor(seq)`.
 */
export const storedAt = (event, seq) => ({ ...event, id: uuidFor(seq), seq, timestamp: timestampFor(seq) });

const toPath = (dir) => (dir instanceof URL ? fileURLToPath(dir) : String(dir));

/** Checks a parsed scenario's shape, as Rust's loader does (misspelt fields included). */
function checkShape(scenario, file) {
  const fail = (why) => { throw new Error(`${file}: ${why}`); };
  if (!scenario || typeof scenario !== "object" || Array.isArray(scenario)) fail("a scenario is an object");
  for (const k of Object.keys(scenario))
    if (!SCENARIO_FIELDS.includes(k)) fail(`unknown field \`${k}\`, expected one of ${SCENARIO_FIELDS.join(", ")}`);
  if (typeof scenario.description !== "string") fail("`description` must be a string");
  if (!Array.isArray(scenario.events)) fail("`events` must be an array");
  for (const [name, rows] of Object.entries(scenario.initial ?? {}))
    if (!Array.isArray(rows) || rows.some((r) => !r || typeof r !== "object" || Array.isArray(r)))
      fail(`initial \`${name}\` must be an array of rows (objects)`);
  scenario.events.forEach((event, i) => {
    for (const k of Object.keys(event ?? {}))
      if (!EVENT_FIELDS.includes(k)) fail(`event ${i + 1}: unknown field \`${k}\`, expected one of ${EVENT_FIELDS.join(", ")}`);
    if (typeof event?.type !== "string") fail(`event ${i + 1}: \`type\` must be a string`);
    if ("expect" in event && typeof event.expect !== "string")
      fail(`event ${i + 1}: \`expect\` must be "ok" or an error kind`);
  });
  return scenario;
}

async function readJson(file) {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: ${err.message}`);
  }
}

/**
 * The scenarios of `dir` (`dir/scenarios/*.json`, a path or a file: URL), sorted by
 * name, each with its snapshot (`dir/snapshots/<name>.json`) when there is one.
 */
export async function loadScenarios(dir) {
  const root = toPath(dir);
  const files = (await readdir(path.join(root, "scenarios"))).filter((f) => f.endsWith(".json"));
  files.sort(compareStrings);
  return Promise.all(files.map(async (file) => {
    const name = file.slice(0, -".json".length);
    const scenarioPath = path.join(root, "scenarios", file);
    const snapshotPath = path.join(root, "snapshots", file);
    const scenario = checkShape(await readJson(scenarioPath), scenarioPath);
    const expected = await readJson(snapshotPath).catch((err) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    return { name, scenario, expected, scenarioPath, snapshotPath };
  }));
}

/** The scenario's initial rows as `create` operations, keyed as Rust's `initial_changeset`. */
function initialOperations(scenario) {
  const ops = [];
  for (const name of Object.keys(scenario.initial ?? {}).sort(compareStrings)) {
    const key = scenario.schema?.[name]?.key ?? "id";
    for (const row of scenario.initial[name]) ops.push({ op: "create", collection: name, key, row });
  }
  return ops;
}

/** A `reduxifyAll` state as a snapshot's `state`: non-empty collections by name, rows in key order. */
function stateOf(state) {
  // Object.fromEntries: a collection named `__proto__` stays an own property.
  return Object.fromEntries(Object.keys(state).sort(compareStrings)
    .filter((name) => state[name].ids.length).map((name) => [name, rowsOf(state[name])]));
}

/**
 * Runs `scenario` through `reducer` (your wasm package: an object with `reduce`, or a
 * function event -> changeset) with `reduxifyAll`, from its initial state, and returns
 * `{ results, state }`. Events are stored as every runner stores them: `seq` 1, 2, ...
 * in order of success, id `Uuid::from_u128(seq)`, timestamp `timestampFor(seq)`.
 */
export function runScenario(scenario, reducer) {
  const schema = scenario.schema && Object.keys(scenario.schema).length ? scenario.schema : undefined;
  let state = {};
  const initial = initialOperations(scenario);
  if (initial.length) {
    try {
      state = reduxifyAll(() => initial, { schema })(state, { type: "flux-capacitor/testing/initial" });
    } catch (err) {
      throw new InitialStateError(`the initial state: ${err.message}`, { cause: err });
    }
  }
  const apply = reduxifyAll(reducer, { schema });
  let seq = 0;
  const results = scenario.events.map(({ expect: _, ...event }) => {
    const stored = storedAt(event, seq + 1);
    try {
      state = apply(state, committed([stored]));
      seq += 1;
      return "ok";
    } catch (err) {
      if (!(err instanceof Error) || typeof err.kind !== "string") throw err;
      return err.kind;
    }
  });
  return { results, state: stateOf(state) };
}

/** Objects with their keys sorted (as Rust's serde_json writes them), recursively. */
function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (!value || typeof value !== "object") return value;
  // Plain objects, whatever the prototype of `value` (rows may have none), and a key
  // named `__proto__` stays an own property.
  return Object.fromEntries(Object.keys(value).sort(compareStrings).map((k) => [k, sorted(value[k])]));
}

/** A snapshot file's text: pretty JSON, keys sorted, two-space indent, a final newline. */
export function formatSnapshot(snapshot) {
  return JSON.stringify(sorted(snapshot), null, 2) + "\n";
}

/** The lines of `a` and `b` as an edit script: [" " | "-" | "+", line] (a longest common subsequence). */
function editScript(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length, endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) endA--, endB--;
  const n = endA - start, m = endB - start;
  // lcs[i][j]: the LCS length of a[start+i..endA] and b[start+j..endB]
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[start + i] === b[start + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const script = a.slice(0, start).map((l) => [" ", l]);
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) script.push([" ", a[start + i]]), i++, j++;
    else if (j < m && (i === n || lcs[i][j + 1] > lcs[i + 1][j])) script.push(["+", b[start + j]]), j++;
    else script.push(["-", a[start + i]]), i++;
  }
  for (const l of a.slice(endA)) script.push([" ", l]);
  return script;
}

/**
 * A unified diff of two texts (`-` expected, `+` actual, three lines of context), as
 * Rust's `flux_capacitor::testing::unified_diff` and `git diff` show a changed file.
 */
export function unifiedDiff(expected, actual, context = 3) {
  const lines = (text) => (text === "" ? [] : (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n"));
  const script = editScript(lines(expected), lines(actual));
  const changed = script.map(([op], k) => (op !== " " ? k : -1)).filter((k) => k >= 0);
  if (!changed.length) return "";
  let out = "--- expected\n+++ actual\n";
  // Group the changes whose contexts touch into hunks.
  let k = 0;
  while (k < changed.length) {
    let last = k;
    while (last + 1 < changed.length && changed[last + 1] - changed[last] <= 2 * context) last++;
    const from = Math.max(0, changed[k] - context), to = Math.min(script.length, changed[last] + context + 1);
    const before = script.slice(0, from);
    const oldStart = before.filter(([op]) => op !== "+").length, newStart = before.filter(([op]) => op !== "-").length;
    const hunk = script.slice(from, to);
    const oldLen = hunk.filter(([op]) => op !== "+").length, newLen = hunk.filter(([op]) => op !== "-").length;
    const range = (start, len) => (len === 1 ? `${start + 1}` : `${len ? start + 1 : start},${len}`);
    out += `@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@\n`;
    for (const [op, line] of hunk) out += `${op}${line}\n`;
    k = last + 1;
  }
  return out;
}

/** Where the outcomes contradict the events' `expect`s, one line per event. */
function unmetExpectations(scenario, results) {
  const out = [];
  scenario.events.forEach((event, i) => {
    if (event.expect === undefined) return;
    const got = results[i] ?? "nothing";
    if (got !== event.expect) out.push(`event ${i + 1} (\`${event.type}\`): expected \`${event.expect}\`, got \`${got}\``);
  });
  return out;
}

const updating = (options) => options?.update ?? process.env[UPDATE_SNAPSHOTS] === "1";

/**
 * A failed check as node's AssertionError with the operator `fail`: the message is
 * the whole story (node would append its own object diff to the message of a
 * `deepStrictEqual` one, and Jest would print `undefined` expected and received
 * values around one without `actual`), and every runner shows it as it is.
 */
const failure = (message, details = {}) => new AssertionError({ message, ...details, operator: "fail" });

/**
 * Checks one case of `loadScenarios`: throws an AssertionError showing the unified diff
 * of its snapshot, the events whose `expect` did not hold, or — for a scenario without
 * a snapshot — the snapshot it would record. With `UPDATE_SNAPSHOTS=1` (or
 * `options.update`) it records the snapshot instead (never one contradicting an
 * `expect`). Resolves to `"passed"` or `"recorded"`.
 */
export async function checkScenario(scenarioCase, reducer, options = {}) {
  const { name, scenario, expected, snapshotPath } = scenarioCase;
  const title = `scenario \`${name}\` (${scenario.description})`;
  let actual;
  try {
    actual = runScenario(scenario, reducer);
  } catch (err) {
    if (!(err instanceof InitialStateError)) throw err;
    throw failure(`${title}: ${err.message}`);
  }
  const unmet = unmetExpectations(scenario, actual.results);
  if (unmet.length) throw failure(`${title}: ${unmet.join("; ")}`);
  if (expected !== undefined && isDeepStrictEqual(sorted(expected), sorted(actual))) return "passed";
  if (updating(options)) {
    await mkdir(path.dirname(snapshotPath), { recursive: true });
    await writeFile(snapshotPath, formatSnapshot(actual));
    return "recorded";
  }
  if (expected === undefined)
    throw failure(`${title}: no snapshot yet; ${UPDATE_SNAPSHOTS}=1 records this one at ${snapshotPath}:\n${formatSnapshot(actual)}`);
  // `actual` and `expected` for the runners and editors that diff them themselves.
  throw failure(`${title}: ${snapshotPath} differs\n${unifiedDiff(formatSnapshot(expected), formatSnapshot(actual))}`, {
    actual,
    expected,
  });
}

/**
 * Checks every scenario of `dir` (see `checkScenario`) and throws one AssertionError
 * listing every failure. Resolves to `{ passed, recorded }`, the counts.
 */
export async function checkScenarios(dir, reducer, options = {}) {
  const cases = await loadScenarios(dir);
  const failures = [];
  const counts = { passed: 0, recorded: 0 };
  for (const scenarioCase of cases) {
    try {
      counts[await checkScenario(scenarioCase, reducer, options)]++;
    } catch (err) {
      if (!(err instanceof AssertionError)) throw err;
      failures.push(err.message);
    }
  }
  if (failures.length)
    throw failure(
      `${failures.length} of ${cases.length} scenario(s) in ${toPath(dir)} failed (${UPDATE_SNAPSHOTS}=1 records the snapshots):\n\n${failures.join("\n\n")}`,
    );
  return counts;
}
