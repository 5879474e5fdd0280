// flux-capacitor/testing under the real Vitest and Jest (pinned in package.json),
// compared with `node --test`: each runner runs its copy of the same user test
// (node/, vitest/, jest/) on a copy of the notes app's scenario directory, and
//   - passes on the scenarios as they are;
//   - fails on a wrong snapshot, printing the very unified diff node --test prints;
//   - fails on a new scenario without a snapshot, printing the one it would record;
//   - records with UPDATE_SNAPSHOTS=1 (the wrong snapshot put back byte for byte,
//     the new one written), and passes again after.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatSnapshot, unifiedDiff } from "flux-capacitor/testing";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(HERE, "..");
const NOTES = path.resolve(PROJECT, "../../examples/notes");

const RUNNERS = {
  "node --test": [process.execPath, ["--test", "node/"]],
  vitest: [process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--root", "vitest", "--reporter", "verbose"]],
  jest: [process.execPath, ["--experimental-vm-modules", "node_modules/jest/bin/jest.js", "--config", "jest/jest.config.js"]],
};

/** Runs `runner` on the scenario directory `dir`; its exit status and output, colours off. */
function run(runner, dir, env = {}) {
  const [command, args] = RUNNERS[runner];
  const started = Date.now();
  // Not NODE_TEST_CONTEXT: with it, the inner `node --test` would report to this one.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const { status, stdout, stderr, error } = spawnSync(command, args, {
    cwd: PROJECT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...outer, UPDATE_SNAPSHOTS: "", ...env, SCENARIOS_DIR: dir, NO_COLOR: "1", FORCE_COLOR: "0", CI: "1" },
  });
  if (error) throw error;
  // Whatever colour codes are left, and Windows line ends, out of the way.
  const output = `${stdout}\n${stderr}`.replace(/\x1b\[[0-9;]*m/g, "").replace(/\r\n/g, "\n");
  // The message is the whole story: no object diff node would append to it, no
  // `undefined` expected and received values around it (Jest's way with an
  // AssertionError that lacks them).
  assert.ok(!output.includes("+ actual - expected"), output);
  assert.ok(!/Received:\s+undefined/.test(output), output);
  console.log(`==> ${runner} (${Object.keys(env).join(" ") || "check"}): exit ${status} in ${Date.now() - started} ms`);
  return { status, output };
}

/**
 * The unified diff in a runner's output: from its `--- expected` line, every line
 * that keeps that line's indentation and reads as a diff line. Runners indent an
 * error's message differently; the diff itself must be the same.
 */
function diffIn(output) {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.trimStart() === "--- expected");
  assert.ok(start >= 0, `no unified diff in the output:\n${output}`);
  const indent = lines[start].slice(0, lines[start].length - "--- expected".length);
  const diff = [];
  for (const line of lines.slice(start)) {
    const rest = line.startsWith(indent) ? line.slice(indent.length) : null;
    if (rest === null || !/^(--- expected|\+\+\+ actual|@@ .* @@|[ +-].*)$/.test(rest)) break;
    diff.push(rest);
  }
  return diff.join("\n") + "\n";
}

/** A fresh copy of the notes scenario directory. */
function notesCopy() {
  const dir = mkdtempSync(path.join(tmpdir(), "flux-runners-"));
  cpSync(path.join(NOTES, "scenarios"), path.join(dir, "scenarios"), { recursive: true });
  cpSync(path.join(NOTES, "snapshots"), path.join(dir, "snapshots"), { recursive: true });
  return dir;
}

const readJson = (file) => JSON.parse(readFileSync(file, "utf8"));

// A new scenario for the notes reducers, and the snapshot it must record.
const NEW_SCENARIO = {
  description: "a note added then retitled by its author",
  events: [
    { type: "addNote", payload: { id: "n9", title: "Flux" }, meta: { user: "Doc" }, expect: "ok" },
    { type: "editNoteTitle", payload: { id: "n9", title: "Flux capacitor" }, meta: { user: "Doc" } },
  ],
};

const outputs = {}; // runner -> output of the wrong-snapshot run, compared across runners

for (const runner of Object.keys(RUNNERS)) {
  describe(runner, () => {
    let dir;
    before(() => (dir = notesCopy()));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test("passes on the notes scenarios as they are", () => {
      const { status, output } = run(runner, dir);
      assert.equal(status, 0, output);
      for (const name of ["add-notes", "bad-payloads", "edit-notes", "remove-and-restore", "unknown-users"])
        assert.ok(output.includes(name), `${name} not in the output:\n${output}`);
    });

    test("a wrong snapshot fails with the unified diff of the snapshot", () => {
      const file = path.join(dir, "snapshots", "add-notes.json");
      const right = readFileSync(file, "utf8");
      const wrong = readJson(file);
      wrong.state.notes[1].title = "Groceries for the week";
      wrong.results[1] = "invalid_payload";
      writeFileSync(file, formatSnapshot(wrong));
      const { status, output } = run(runner, dir);
      assert.notEqual(status, 0, output);
      assert.ok(output.includes(`scenario \`add-notes\` (adding notes:`), output);
      assert.ok(output.includes(`${file} differs`), output);
      const want = unifiedDiff(formatSnapshot(wrong), right);
      assert.match(want, /\n-    "invalid_payload"\n\+    "ok"\n/);
      assert.match(want, /\n-        "title": "Groceries for the week",\n\+        "title": "Groceries",\n/);
      assert.equal(diffIn(output), want);
      outputs[runner] = diffIn(output);
      // The other scenarios still pass: only one failure.
      assert.ok(!output.includes("bad-payloads.json differs"), output);
    });

    test("a new scenario without a snapshot fails showing the one it would record", () => {
      writeFileSync(path.join(dir, "scenarios", "retitle.json"), JSON.stringify(NEW_SCENARIO, null, 2));
      const { status, output } = run(runner, dir);
      assert.notEqual(status, 0, output);
      const snapshotPath = path.join(dir, "snapshots", "retitle.json");
      assert.ok(output.includes(`no snapshot yet; UPDATE_SNAPSHOTS=1 records this one at ${snapshotPath}:`), output);
      for (const line of ['"title": "Flux capacitor"', '"author": "Doc"', '"updated": "2026-01-01T00:00:02Z"'])
        assert.ok(output.includes(line), `${line} not shown:\n${output}`);
    });

    test("UPDATE_SNAPSHOTS=1 records both, and the scenarios pass after", () => {
      const { status, output } = run(runner, dir, { UPDATE_SNAPSHOTS: "1" });
      assert.equal(status, 0, output);
      assert.equal(
        readFileSync(path.join(dir, "snapshots", "add-notes.json"), "utf8"),
        readFileSync(path.join(NOTES, "snapshots", "add-notes.json"), "utf8"),
      );
      const recorded = readJson(path.join(dir, "snapshots", "retitle.json"));
      assert.deepEqual(recorded.results, ["ok", "ok"]);
      assert.deepEqual(recorded.state.notes.map((n) => [n.id, n.title, n.author, n.created, n.updated]), [
        ["n9", "Flux capacitor", "Doc", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"],
      ]);
      const again = run(runner, dir);
      assert.equal(again.status, 0, again.output);
    });
  });
}

test("the three runners print the same diff", () => {
  assert.deepEqual(Object.keys(outputs).sort(), Object.keys(RUNNERS).sort());
  const [first, ...rest] = Object.values(outputs);
  for (const diff of rest) assert.equal(diff, first);
});
