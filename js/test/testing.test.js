// flux-capacitor/testing itself, on scenario files written for each test: initial
// state, expected outcomes, the unified diff of a differing snapshot, a scenario
// without a snapshot, recording (by option and by UPDATE_SNAPSHOTS=1), and the
// same snapshot text as Rust's serde_json writes.
import { test } from "node:test";
import assert, { AssertionError } from "node:assert/strict";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import {
  checkScenario, checkScenarios, formatSnapshot, loadScenarios, runScenario, timestampFor, unifiedDiff,
} from "../src/testing.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const renameScenario = () => ({
  description: "renaming an issue of the initial state; a rename without a title is refused",
  initial: { issues: [{ id: "1", title: "Leak", author: "mary", closed: false }] },
  events: [
    { type: "renameIssue", payload: { id: "1", title: "Big leak" }, expect: "ok" },
    { type: "renameIssue", payload: { id: "1" }, expect: "invalid_payload" },
  ],
});
const renameSnapshot = (title) => ({
  results: ["ok", "invalid_payload"],
  state: { issues: [{ author: "mary", closed: false, id: "1", title }] },
});

/** A fresh directory with scenarios/<name>.json (and the snapshot, if given). */
async function suiteDir(scenario, snapshot) {
  const dir = await mkdtemp(path.join(tmpdir(), "flux-scenarios-"));
  await mkdir(path.join(dir, "scenarios"));
  await writeFile(path.join(dir, "scenarios", "rename.json"), JSON.stringify(scenario));
  if (snapshot) {
    await mkdir(path.join(dir, "snapshots"));
    await writeFile(path.join(dir, "snapshots", "rename.json"), JSON.stringify(snapshot));
  }
  return dir;
}

test("a scenario starts from its initial state and meets its expectations", async () => {
  const dir = await suiteDir(renameScenario(), renameSnapshot("Big leak"));
  assert.deepEqual(await checkScenarios(dir, wasm), { passed: 1, recorded: 0 });
  await rm(dir, { recursive: true });
});

test("a different state fails with a unified diff of the snapshot", async () => {
  const dir = await suiteDir(renameScenario(), renameSnapshot("Small leak"));
  const [scenarioCase] = await loadScenarios(dir);
  const err = await checkScenario(scenarioCase, wasm).then(() => assert.fail("passed"), (e) => e);
  assert.ok(err instanceof AssertionError, String(err));
  assert.match(err.message, /^scenario `rename` \(renaming an issue/);
  assert.ok(err.message.includes("--- expected\n+++ actual\n@@"), err.message);
  assert.ok(err.message.includes('\n-        "title": "Small leak"\n'), err.message);
  assert.ok(err.message.includes('\n+        "title": "Big leak"\n'), err.message);
  assert.deepEqual(err.actual, renameSnapshot("Big leak"));
  assert.deepEqual(err.expected, renameSnapshot("Small leak"));
  // The message is the whole story: the operator is `fail`, so node appends no object
  // diff of its own to it, and Jest prints the message as it is.
  assert.equal(err.operator, "fail");
  assert.ok(!err.message.includes("+ actual - expected"), err.message);
  // All at once: one AssertionError that counts and lists the failures.
  await assert.rejects(checkScenarios(dir, wasm), (e) => e instanceof AssertionError && /^1 of 1 scenario\(s\) in .* failed/.test(e.message));
  await rm(dir, { recursive: true });
});

test("a new scenario fails showing its snapshot, and is recorded on request", async () => {
  const dir = await suiteDir(renameScenario());
  const snapshotPath = path.join(dir, "snapshots", "rename.json");
  await assert.rejects(checkScenarios(dir, wasm), (e) =>
    e.message.includes(`no snapshot yet; UPDATE_SNAPSHOTS=1 records this one at ${snapshotPath}:\n{\n  "results": [`));
  assert.deepEqual(await checkScenarios(dir, wasm, { update: true }), { passed: 0, recorded: 1 });
  // The very text Rust's serde_json::to_string_pretty writes (keys sorted, two spaces).
  assert.equal(await readFile(snapshotPath, "utf8"), `{
  "results": [
    "ok",
    "invalid_payload"
  ],
  "state": {
    "issues": [
      {
        "author": "mary",
        "closed": false,
        "id": "1",
        "title": "Big leak"
      }
    ]
  }
}
`);
  assert.deepEqual(await checkScenarios(dir, wasm), { passed: 1, recorded: 0 });
  await rm(dir, { recursive: true });
});

test("UPDATE_SNAPSHOTS=1 records a differing snapshot", async () => {
  const dir = await suiteDir(renameScenario(), renameSnapshot("Small leak"));
  process.env.UPDATE_SNAPSHOTS = "1";
  try {
    assert.deepEqual(await checkScenarios(dir, wasm), { passed: 0, recorded: 1 });
  } finally {
    delete process.env.UPDATE_SNAPSHOTS;
  }
  const recorded = JSON.parse(await readFile(path.join(dir, "snapshots", "rename.json"), "utf8"));
  assert.deepEqual(recorded, renameSnapshot("Big leak"));
  await rm(dir, { recursive: true });
});

test("an unmet expectation fails and is never recorded", async () => {
  const scenario = renameScenario();
  scenario.events[1].expect = "ok";
  const dir = await suiteDir(scenario);
  const [scenarioCase] = await loadScenarios(dir);
  await assert.rejects(checkScenario(scenarioCase, wasm, { update: true }), {
    name: "AssertionError",
    message: "scenario `rename` (renaming an issue of the initial state; a rename without a title is refused): " +
      "event 2 (`renameIssue`): expected `ok`, got `invalid_payload`",
  });
  await assert.rejects(readFile(path.join(dir, "snapshots", "rename.json")), { code: "ENOENT" });
  await rm(dir, { recursive: true });
});

test("an initial state the schema refuses names the error", async () => {
  const scenario = { ...renameScenario(), schema: { issues: { fields: { id: "text", title: "text" } } } };
  const dir = await suiteDir(scenario);
  const [scenarioCase] = await loadScenarios(dir);
  await assert.rejects(checkScenario(scenarioCase, wasm), (e) =>
    e instanceof AssertionError && /: the initial state: .*unknown field `author`/.test(e.message));
  await rm(dir, { recursive: true });
});

test("misspelt fields are refused when loading", async () => {
  const misspeltEvent = renameScenario();
  misspeltEvent.events[0] = { type: "renameIssue", payload: {}, expcet: "ok" };
  let dir = await suiteDir(misspeltEvent);
  await assert.rejects(loadScenarios(dir), /event 1: unknown field `expcet`/);
  await rm(dir, { recursive: true });
  dir = await suiteDir({ ...renameScenario(), inital: {} });
  await assert.rejects(loadScenarios(dir), /unknown field `inital`/);
  await rm(dir, { recursive: true });
});

test("runScenario numbers the events as every runner does; failed events take no seq", () => {
  const stamped = [];
  const spy = (event) => (stamped.push([event.seq, event.id, event.timestamp]), wasm.reduce(event));
  const { results } = runScenario({
    description: "",
    events: [
      { type: "addUser", payload: { handle: "mary", name: "Mary" } },
      { type: "addUser", payload: { handle: "mary", name: "Mary again" } },
      { type: "addUser", payload: { handle: "tony", name: "Tony" } },
    ],
  }, spy);
  assert.deepEqual(results, ["ok", "duplicate_key", "ok"]);
  assert.deepEqual(stamped, [
    [1, "00000000-0000-0000-0000-000000000001", "2026-01-01T00:00:01Z"],
    [2, "00000000-0000-0000-0000-000000000002", "2026-01-01T00:00:02Z"],
    [2, "00000000-0000-0000-0000-000000000002", "2026-01-01T00:00:02Z"],
  ]);
  assert.equal(timestampFor(86400 + 3661), "2026-01-02T01:01:01Z");
});

test("unifiedDiff: hunks with three lines of context, as Rust's", () => {
  assert.equal(unifiedDiff('{\n  "a": 1,\n  "b": 2\n}\n', '{\n  "a": 1,\n  "b": 3\n}\n'),
    '--- expected\n+++ actual\n@@ -1,4 +1,4 @@\n {\n   "a": 1,\n-  "b": 2\n+  "b": 3\n }\n');
  const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
  const changed = lines.map((l, i) => (i === 2 || i === 17 ? `${l}!` : l));
  assert.equal(unifiedDiff(lines.join("\n"), changed.join("\n")), [
    "--- expected", "+++ actual",
    "@@ -1,6 +1,6 @@", " line 0", " line 1", "-line 2", "+line 2!", " line 3", " line 4", " line 5",
    "@@ -15,6 +15,6 @@", " line 14", " line 15", " line 16", "-line 17", "+line 17!", " line 18", " line 19", "",
  ].join("\n"));
  assert.equal(unifiedDiff("same\n", "same\n"), "");
  assert.equal(formatSnapshot({ state: {}, results: [] }), '{\n  "results": [],\n  "state": {}\n}\n');
});
