// Every entry point of package.json's `exports` exports at run time exactly the values
// its `.d.ts` declares: nothing undeclared (internal helpers stay internal), nothing
// declared but missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

/** The names of the values a declaration file exports (types and interfaces have no value). */
function declaredValues(source, file) {
  const values = new Set();
  for (const line of source.split("\n")) {
    if (!/^\s*export\b/.test(line)) continue;
    const value = /^\s*export\s+declare\s+(?:abstract\s+)?(?:const|let|var|function|class|enum)\s+([\w$]+)/.exec(line);
    if (value) values.add(value[1]);
    else if (!/^\s*export\s+(?:interface|type)\s+[\w$]+/.test(line)) {
      // `export { ... }`, `export *`, `export default`...: teach this parser before using them
      assert.fail(`${file}: cannot tell what this exports: ${line.trim()}`);
    }
  }
  return values;
}

const entries = Object.entries(pkg.exports).filter(([, target]) => typeof target === "object");
assert.ok(entries.length >= 3);

for (const [subpath, { types, default: main }] of entries) {
  test(`"${subpath}": ${main} exports exactly what ${types} declares`, async () => {
    const declared = declaredValues(readFileSync(new URL(`../${types}`, import.meta.url), "utf8"), types);
    const exported = Object.keys(await import(new URL(`../${main}`, import.meta.url)));
    assert.deepEqual(exported.sort(), [...declared].sort());
  });
}

test("index.d.ts's value exports are all found (the parser is not blind)", () => {
  const declared = declaredValues(readFileSync(new URL("../src/index.d.ts", import.meta.url), "utf8"), "index.d.ts");
  for (const name of ["COMMITTED", "committed", "reduxify", "FluxCapacitorError"]) assert.ok(declared.has(name), name);
});
