// flux-capacitor: apply the changesets of wasm-compiled reducers in Redux.
import { EntityDraft, FluxCapacitorError, validateOperation } from "./apply.js";

export { FluxCapacitorError, compareKeys, compareStrings, matches, validateOperation } from "./apply.js";

/** The action type of a batch of committed (stored) events. */
export const COMMITTED = "flux/committed";

/** `{ type: "flux/committed", payload: events }`: stored events as the server committed them. */
export const committed = (events) => ({ type: COMMITTED, payload: events });

const caches = new WeakMap();

/** The changeset of `event`, one wasm call per event object whatever the number of slices. */
function reduceWith(reducer, event) {
  const reduce = typeof reducer === "function" ? reducer : reducer.reduce;
  let cache = caches.get(reduce);
  if (!cache) caches.set(reduce, (cache = new WeakMap()));
  if (cache.has(event)) return cache.get(event);
  const changeset = reduce(event);
  cache.set(event, changeset);
  return changeset;
}

/** The events an action carries: a committed batch, or the action itself as a local event. */
export function eventsOf(action, local) {
  if (!action || typeof action.type !== "string") return null;
  if (action.type === COMMITTED) return action.payload;
  if (!local || action.type.startsWith("@@")) return null;
  return [action];
}

/**
 * Applies `events` to a map of drafts: each changeset all or nothing (here,
 * the whole batch: on any error it throws and the caller keeps the old state).
 */
export function applyEvents(reducer, events, draftFor, schema) {
  for (const event of events) {
    for (const op of reduceWith(reducer, event)) {
      validateOperation(op, schema);
      const draft = draftFor(op.collection);
      if (draft) draft.apply(op);
    }
  }
}

/**
 * A Redux reducer over RTK's EntityState `{ ids, entities }` for `collection`.
 * Handles `flux/committed` batches and (unless `options.localEvents === false`)
 * any other action as one local event. Returns the same state when nothing changed.
 */
export function reduxify(reducer, collection, options = {}) {
  const { schema, localEvents = true } = options;
  const initial = { ids: [], entities: {} };
  return (state = initial, action) => {
    const events = eventsOf(action, localEvents);
    if (!events || events.length === 0) return state;
    const draft = new EntityDraft(state, collection);
    applyEvents(reducer, events, (name) => (name === collection ? draft : null), schema);
    return draft.finish();
  };
}

/**
 * One reducer for every collection: state `{ [collection]: EntityState }`,
 * each changeset applied atomically across collections.
 */
export function reduxifyAll(reducer, options = {}) {
  const { schema, localEvents = true } = options;
  return (state = {}, action) => {
    const events = eventsOf(action, localEvents);
    if (!events || events.length === 0) return state;
    const drafts = new Map();
    const draftFor = (name) => {
      let d = drafts.get(name);
      if (!d) drafts.set(name, (d = new EntityDraft(state[name], name)));
      return d;
    };
    applyEvents(reducer, events, draftFor, schema);
    let next = state;
    for (const [name, d] of drafts) {
      const s = d.finish();
      if (s !== state[name] && !(state[name] === undefined && s.ids.length === 0)) {
        if (next === state) next = { ...state };
        next[name] = s;
      }
    }
    return next;
  };
}

/** EntityState → rows in key order. */
export const rowsOf = (entityState) => entityState.ids.map((id) => entityState.entities[id]);

