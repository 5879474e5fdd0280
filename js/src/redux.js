// The Redux adapter: reducers over RTK's EntityState `{ ids, entities }` plus
// `lastSeq` (the seq of the last committed event applied), applying changesets
// copy-on-write; pending (optimistic) events on top (pending.js, optimistic.js).
import { eventsOf } from "./actions.js";
import { applyEvents } from "./apply.js";
import { own, put } from "./dict.js";
import { verifier } from "./divergence.js";
import { EntityDraft } from "./draft.js";
import { withPending } from "./optimistic.js";
import { DIVERGENCES, OPTIMISTIC } from "./selectors.js";
import { FluxCapacitorError } from "./semantics.js";
import { freshEvents, lastSeqOf, selectLastSeq } from "./seq.js";

/**
 * A Redux reducer over RTK's EntityState `{ ids, entities }` for `collection`,
 * with `lastSeq` beside them. Handles `flux/committed` batches (each committed
 * event once: seqs at or below `lastSeq` are skipped), `flux/local` (a pending
 * event, applied optimistically until committed or rejected: see optimistic.js),
 * `flux/rejected`, `flux/dismissed`, and (unless `options.localEvents === false`)
 * any other action as one local event applied for good. Returns the same state
 * when nothing changed.
 */
export function reduxify(reducer, collection, options = {}) {
  const { schema, localEvents = true } = options;
  const initial = { ids: [], entities: {}, lastSeq: 0 };
  const counter = divergenceCounter(reducer, options);
  const applyBatch = (state, batch) => {
    const before = lastSeqOf(state);
    const { events, lastSeq } = freshEvents(batch, before);
    if (events.length === 0) return state;
    const draft = new EntityDraft(state, collection);
    const found = counter.run(() => applyEvents(reducer, events, (name) => (name === collection ? draft : null), schema, counter.verify));
    let next = draft.finish();
    if (lastSeq !== before) {
      if (next === state) next = { ...state, lastSeq };
      else next.lastSeq = lastSeq; // a new object: finish() copied the state
    }
    return found ? counted(next, state, found) : next;
  };
  const step = withPending(applyBatch, (action) => eventsOf(action, localEvents));
  return (state, action) => {
    // combineReducers reads `state[key]`: for a slice named `constructor` or
    // `toString` that is Object.prototype's member, not a state of ours.
    if (!state || !Array.isArray(state.ids)) state = initial;
    return step(state, action);
  };
}

/**
 * One reducer for every collection: state `{ [collection]: EntityState }`,
 * each changeset applied atomically across collections. Every collection's
 * state carries the same `lastSeq` (`selectLastSeq(state)` reads it); a batch
 * of new committed events sets it on each collection present and each one the
 * batch wrote, so a state with no collection has applied no operation yet.
 * While events are pending, the key `flux/optimistic` holds them (a collection
 * cannot have that name here).
 */
export function reduxifyAll(reducer, options = {}) {
  const { schema, localEvents = true } = options;
  const counter = divergenceCounter(reducer, options);
  const applyBatch = (state, batch) => {
    const before = selectLastSeq(state);
    const { events, lastSeq } = freshEvents(batch, before);
    if (events.length === 0) return state;
    const drafts = new Map();
    // Collections are own properties: one named `constructor` or `__proto__` is
    // a collection like any other, never a member of Object.prototype.
    const draftFor = (name) => {
      if (name === OPTIMISTIC || name === DIVERGENCES) {
        throw new FluxCapacitorError("invalid_collection", `reduxifyAll keeps its own bookkeeping under \`${name}\`: no collection may have that name`);
      }
      let d = drafts.get(name);
      if (!d) drafts.set(name, (d = new EntityDraft(own(state, name), name)));
      return d;
    };
    const found = counter.run(() => applyEvents(reducer, events, draftFor, schema, counter.verify));
    const advanced = lastSeq !== before;
    let next = state;
    const set = (name, s) => {
      if (next === state) next = { ...state };
      put(next, name, s);
    };
    for (const [name, d] of drafts) {
      const s = d.finish();
      const old = own(state, name);
      if (advanced) set(name, s === old || s === d.base ? { ...s, lastSeq } : Object.assign(s, { lastSeq }));
      else if (s !== old && !(old === undefined && s.ids.length === 0)) set(name, s);
    }
    if (advanced) for (const name of Object.keys(state)) if (!drafts.has(name) && name !== DIVERGENCES) set(name, { ...state[name], lastSeq });
    return found ? counted(next, state, found) : next;
  };
  const step = withPending(applyBatch, (action) => eventsOf(action, localEvents));
  return (state = {}, action) => step(state, action);
}

/**
 * The divergence check of an adapter, counting: `run(apply)` runs `apply` (which
 * passes `verify` to applyEvents) and answers how many of the committed events it
 * applied diverged. The count is kept in the state (`counted`), so Redux state,
 * DevTools and time travel see it; the callback and the warning stay in divergence.js.
 */
function divergenceCounter(reducer, options) {
  let found = 0;
  const verify = verifier(reducer, options, () => found++);
  return {
    verify,
    run(apply) {
      found = 0;
      apply();
      return found;
    },
  };
}

/** `next` with the divergence counter of `before` plus `found` (a copy when `next` is `before`). */
function counted(next, before, found) {
  const out = next === before ? { ...next } : next;
  put(out, DIVERGENCES, (own(before, DIVERGENCES) ?? 0) + found);
  return out;
}

/** EntityState → rows in key order. */
export const rowsOf = (entityState) => entityState.ids.map((id) => own(entityState.entities, String(id)));
