// The Redux adapter: reducers over RTK's EntityState `{ ids, entities }`, applying
// changesets copy-on-write.
import { eventsOf } from "./actions.js";
import { applyEvents } from "./apply.js";
import { EntityDraft } from "./draft.js";

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
