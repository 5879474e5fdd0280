// The pending queue inside a Redux state: `withPending(applyBatch, eventsOf)` turns a
// reducer of committed batches into one that also keeps the client's own events
// pending. The state itself is the optimistic state (so entity selectors show it);
// while anything is pending, `state["flux/optimistic"]` holds `{ confirmed, pending }`.
import { COMMITTED } from "./actions.js";
import { put } from "./dict.js";
import { DISMISSED, LOCAL, REJECTED, entryOf, markRejected, rebase, withoutCommitted, withoutEntry } from "./pending.js";
import { OPTIMISTIC, selectOptimistic } from "./selectors.js";

/** `visible` with the bookkeeping; never mutates `visible` (it may be `confirmed` itself). */
function dress(visible, confirmed, pending) {
  const out = { ...visible };
  put(out, OPTIMISTIC, { confirmed, pending });
  return out;
}

/**
 * `applyBatch(state, events)` (pure; throws, leaving nothing changed) over the
 * confirmed state, with the pending events re-applied on top after each change.
 * `eventsOf(action)` are the events other actions carry (committed batches and
 * plain local events).
 */
export function withPending(applyBatch, eventsOf) {
  return (state, action) => {
    const meta = state[OPTIMISTIC];
    const type = action?.type;
    if (type === LOCAL) {
      const event = action.payload;
      if (!event || typeof event.id !== "string") throw new TypeError("flux/local: the payload must be a stamped event (use `local(event)`)");
      // Already pending (a second client over the same stored queue, e.g. a remount): once is enough.
      if (meta?.pending.some((p) => p.id === event.id)) return state;
      // A reducer error throws here: the dispatch throws, nothing is queued or sent.
      const next = applyBatch(selectOptimistic(state), [event]);
      return dress(next, meta ? meta.confirmed : state, [...(meta?.pending ?? []), entryOf(event)]);
    }
    if (!meta) {
      if (type === REJECTED || type === DISMISSED) return state;
      const batch = eventsOf(action);
      return batch && batch.length ? applyBatch(state, batch) : state;
    }
    let { confirmed, pending } = meta;
    if (type === REJECTED) pending = markRejected(pending, action.payload?.id, action.payload?.error);
    else if (type === DISMISSED) pending = withoutEntry(pending, action.payload?.id);
    else {
      const batch = eventsOf(action);
      if (!batch || batch.length === 0) return state;
      confirmed = applyBatch(confirmed, batch);
      if (type === COMMITTED) pending = withoutCommitted(pending, batch);
    }
    if (confirmed === meta.confirmed && pending === meta.pending) return state;
    if (pending.length === 0) return confirmed;
    const rebased = rebase(confirmed, pending, applyBatch);
    return dress(rebased.state, confirmed, rebased.pending);
  };
}
