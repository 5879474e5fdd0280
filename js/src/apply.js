// Applies changesets to EntityDrafts with exactly MemoryDatabase's semantics
// (reducers/src/memory.rs): what each operation does to the rows present, given the
// rules of semantics.js and the container of draft.js.
import { own, put } from "./dict.js";
import { FluxCapacitorError, matches, validateOperation } from "./semantics.js";

const fmtKey = (k) => (typeof k === "string" ? JSON.stringify(k) : String(k));

function withoutNulls(row) {
  const out = {};
  for (const k of Object.keys(row)) if (row[k] !== null && row[k] !== undefined) put(out, k, row[k]);
  return out;
}

/** The merged row, or the same row when the patch changes nothing. */
function merge(row, patch) {
  let out = row;
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null || v === undefined) {
      if (Object.hasOwn(out, k)) { if (out === row) out = { ...row }; delete out[k]; }
    } else if (out[k] !== v || !Object.hasOwn(out, k)) {
      if (out === row) out = { ...row };
      put(out, k, v);
    }
  }
  return out;
}

/** Applies one (validated) operation to `draft`, the draft of `op.collection`. */
export function applyOperation(draft, op) {
  const key = op.key ?? "id";
  const sameKey = (row, id) => row !== undefined && own(row, key) === id;
  switch (op.op) {
    case "create": {
      const id = own(op.row, key);
      const existing = draft.get(id);
      if (existing !== undefined) {
        if (existing[key] === id)
          throw new FluxCapacitorError("duplicate_key",
            `collection \`${draft.collection}\`: a row with id ${fmtKey(id)} already exists`);
        throw new FluxCapacitorError("key_collision",
          `collection \`${draft.collection}\`: EntityState cannot hold both ${fmtKey(existing[key])} and ${fmtKey(id)}`);
      }
      draft.insert(id, withoutNulls(op.row));
      return;
    }
    case "update_by_id": {
      const row = draft.get(op.id);
      if (!sameKey(row, op.id)) return;
      const next = merge(row, op.patch);
      if (next !== row) draft.replace(op.id, next);
      return;
    }
    case "destroy_by_id": {
      if (!sameKey(draft.get(op.id), op.id)) return;
      draft.remove(op.id);
      return;
    }
    case "update_where": {
      for (const row of draft.rows().filter((r) => matches(op.filter, r))) {
        const next = merge(row, op.patch);
        if (next !== row) draft.replace(own(row, key), next);
      }
      return;
    }
    case "destroy_where": {
      for (const row of draft.rows().filter((r) => matches(op.filter, r))) draft.remove(own(row, key));
      return;
    }
  }
}

// reduce function -> (event object -> changeset), module-wide: every reduxify slice
// and ObservableCollection reads the same cache.
const caches = new WeakMap();

/** The changeset of `event`, one wasm call per event object whatever the number of slices. */
export function reduceWith(reducer, event) {
  const reduce = typeof reducer === "function" ? reducer : reducer.reduce;
  let cache = caches.get(reduce);
  if (!cache) caches.set(reduce, (cache = new WeakMap()));
  if (cache.has(event)) return cache.get(event);
  const changeset = reduce(event);
  cache.set(event, changeset);
  return changeset;
}

/**
 * Applies `events` to a map of drafts: each changeset all or nothing (here,
 * the whole batch: on any error it throws and the caller keeps the old state).
 * `verify(event, changeset)`, when given, sees each committed event (one with a
 * numeric `seq`) and the changeset computed for it, before it is applied.
 */
export function applyEvents(reducer, events, draftFor, schema, verify) {
  for (const event of events) {
    const changeset = reduceWith(reducer, event);
    if (verify && typeof event?.seq === "number") verify(event, changeset);
    for (const op of changeset) {
      validateOperation(op, schema);
      const draft = draftFor(op.collection);
      if (draft) applyOperation(draft, op);
    }
  }
}
