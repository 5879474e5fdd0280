// reduxify with real redux + RTK: combineReducers, entity selectors, purity, errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { combineReducers, configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import { committed, reduxify, rowsOf } from "../src/index.js";

const require = createRequire(import.meta.url);
const wasm = require("../pkg-conformance/nodejs/flux_capacitor_conformance_wasm.js");

const deepFreeze = (o) => {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    Object.values(o).forEach(deepFreeze);
  }
  return o;
};
const addIssue = (id, title, author = "mary") => ({ type: "addIssue", payload: { id, title, author, priority: null } });

function makeStore() {
  return configureStore({
    reducer: combineReducers({ issues: reduxify(wasm, "issues"), users: reduxify(wasm, "users") }),
  });
}

test("configureStore + combineReducers + RTK entity selectors", () => {
  const store = makeStore();
  store.dispatch(committed([addIssue("2", "B"), addIssue("1", "A"), { type: "addUser", payload: { handle: "mary", name: "Mary" } }]));
  const issues = createEntityAdapter().getSelectors((s) => s.issues);
  assert.deepEqual(issues.selectIds(store.getState()), ["1", "2"]);
  assert.equal(issues.selectById(store.getState(), "2").title, "B");
  assert.equal(store.getState().users.entities.mary.name, "Mary");
  store.dispatch({ type: "closeIssue", payload: { id: "1" } });
  assert.equal(issues.selectById(store.getState(), "1").closed, true);
});

test("pure: frozen input never mutated, untouched entities shared, no-op returns the same state", () => {
  const reducer = reduxify(wasm, "issues");
  const s1 = deepFreeze(reducer(undefined, committed([addIssue("1", "A"), addIssue("2", "B")])));
  const s2 = reducer(s1, { type: "renameIssue", payload: { id: "2", title: "B2" } });
  assert.notEqual(s2, s1);
  assert.equal(s2.entities["1"], s1.entities["1"]);
  assert.equal(s1.entities["2"].title, "B");
  assert.equal(s2.ids, s1.ids);
  assert.equal(reducer(s1, { type: "somethingElse" }), s1);
  assert.equal(reducer(s1, { type: "@@redux/INIT" }), s1);
  assert.equal(reducer(s1, { type: "renameIssue", payload: { id: "nope", title: "x" } }), s1);
  assert.equal(reducer(s1, { type: "renameIssue", payload: { id: "1", title: "A" } }), s1);
});

test("errors are Errors with kind; the store keeps its state and keeps working", () => {
  const store = makeStore();
  store.dispatch(addIssue("1", "A"));
  const before = store.getState();
  assert.throws(() => store.dispatch(committed([addIssue("3", "C"), addIssue("1", "again")])), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.kind, "duplicate_key");
    assert.match(err.message, /already exists/);
    return true;
  });
  assert.equal(store.getState(), before);
  assert.throws(() => store.dispatch({ type: "conformance/reject", payload: { reason: "no" } }), (err) => {
    assert.ok(err instanceof Error);
    return err.kind === "rejected" && /no/.test(err.message);
  });
  store.dispatch(addIssue("3", "C"));
  assert.deepEqual(store.getState().issues.ids, ["1", "3"]);
});

test("keys named like Object.prototype members are ordinary keys", () => {
  const apply = (ops) => ({ type: "conformance/apply", payload: { ops } });
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty"];
  const reducer = reduxify(wasm, "things");
  let state = reducer(undefined, committed([
    apply(names.map((id) => ({ op: "create", collection: "things", row: { id, n: id.length } }))),
  ]));
  state = reducer(state, committed([apply([
    { op: "update_by_id", collection: "things", id: "constructor", patch: { n: 0 } },
    { op: "destroy_by_id", collection: "things", id: "toString" },
  ])]));
  assert.deepEqual(state.ids, ["__proto__", "constructor", "hasOwnProperty"]);
  assert.equal(Object.getPrototypeOf(state.entities), Object.prototype, "the prototype is untouched");
  assert.deepEqual(Object.keys(state.entities).sort(), ["__proto__", "constructor", "hasOwnProperty"]);
  assert.deepEqual(JSON.parse(JSON.stringify(state.entities.constructor)), { id: "constructor", n: 0 });
  assert.equal(Object.getOwnPropertyDescriptor(state.entities, "__proto__").value.n, 9);
  const duplicate = () => reducer(state, committed([apply([{ op: "create", collection: "things", row: { id: "constructor" } }])]));
  assert.throws(duplicate, (err) => err instanceof Error && err.kind === "duplicate_key");
});

test("reduxify slices named like Object.prototype members work under combineReducers", () => {
  const apply = (ops) => ({ type: "conformance/apply", payload: { ops } });
  const names = ["constructor", "toString", "valueOf"];
  const root = combineReducers(Object.fromEntries(names.map((n) => [n, reduxify(wasm, n)])));
  let state = root(undefined, { type: "@@INIT" });
  for (const n of names) assert.deepEqual(state[n], { ids: [], entities: {}, lastSeq: 0 });
  state = root(state, committed([apply(names.map((n) => ({ op: "create", collection: n, row: { id: n } })))]));
  for (const n of names) assert.deepEqual(rowsOf(state[n]), [{ id: n }]);
});
