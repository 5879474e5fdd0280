// Reading a reduxify slice or reduxifyAll state that may hold pending events: the
// visible (optimistic) state is the state itself; the confirmed state and the
// pending list sit under one key while anything is pending.
import { own } from "./dict.js";
import { NO_PENDING } from "./pending.js";

/** The key of `{ confirmed, pending }` in a state while events are pending. */
export const OPTIMISTIC = "flux/optimistic";
/** The key of the divergence counter in a state, once a committed event diverged (absent until then). */
export const DIVERGENCES = "flux/divergences";

/**
 * How many committed events applied to a reduxify slice or reduxifyAll state had a
 * changeset here that did not hash to the server's (0 until one does; needs the
 * reducer package's `changesetHash` or the `changesetHash` option).
 */
export function selectDivergences(state) {
  const n = state && typeof state === "object" ? own(state, DIVERGENCES) : undefined;
  return typeof n === "number" ? n : 0;
}

/** The pending events of a reduxify slice or reduxifyAll state, oldest first (a stable empty array when none). */
export function selectPending(state) {
  const meta = state && typeof state === "object" ? own(state, OPTIMISTIC) : undefined;
  return meta?.pending ?? NO_PENDING;
}

/** The confirmed state: the server's committed events only (the state itself when nothing is pending). */
export function selectConfirmed(state) {
  const meta = state && typeof state === "object" ? own(state, OPTIMISTIC) : undefined;
  return meta ? meta.confirmed : state;
}

const stripped = new WeakMap();
/**
 * The optimistic state: confirmed plus pending events, without the bookkeeping key
 * (the state itself when nothing is pending; one object per state, so it can be
 * compared by identity).
 */
export function selectOptimistic(state) {
  if (!state || typeof state !== "object" || !Object.hasOwn(state, OPTIMISTIC)) return state;
  let out = stripped.get(state);
  if (!out) {
    out = { ...state };
    delete out[OPTIMISTIC];
    stripped.set(state, out);
  }
  return out;
}
