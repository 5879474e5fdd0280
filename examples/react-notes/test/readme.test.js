// js/README.md shows this example's code: every code block there whose first line
// names a file of this example (`// examples/react-notes/...`) is, line for line,
// in that file. So the README's Bundlers and React sections cannot drift from the
// code that CI builds and drives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../notes/web/test/server.js";

/** The fenced code blocks of a Markdown text, each dedented by its fence's indentation. */
function codeBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```\w*\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const body = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(indent));
    blocks.push(body);
  }
  return blocks;
}

const readme = readFileSync(join(REPO_ROOT, "js/README.md"), "utf8");
const named = codeBlocks(readme)
  .map(([first, ...rest]) => ({ file: /^\/\/ (examples\/react-notes\/\S+)$/.exec(first ?? "")?.[1], code: rest.join("\n") }))
  .filter((b) => b.file);

test("js/README.md shows this example's files (at least store, hook, main, Vite, webpack, dev proxy)", () => {
  const files = new Set(named.map((b) => b.file));
  for (const file of ["src/store.ts", "src/useNotesClient.ts", "src/main.tsx", "vite7/vite.config.ts", "webpack.config.js", "dev-proxy.js"]) {
    assert.ok(files.has(`examples/react-notes/${file}`), `no block from ${file}`);
  }
});

for (const { file, code } of named) {
  test(`js/README.md's block from ${file} is in that file`, () => {
    const source = readFileSync(join(REPO_ROOT, file), "utf8");
    assert.ok(code.trim().length > 0);
    assert.ok(source.includes(code), `js/README.md shows code that ${file} does not have:\n${code}`);
  });
}
