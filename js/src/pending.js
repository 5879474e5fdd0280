// Pending (optimistic) events: the client's own events, applied at once over the
// confirmed state (the server's committed events) until the server commits or
// rejects them. Framework-free: the adapters give `apply(state, events) -> state`
// (pure, throws on an error) and keep `{ confirmed, pending, visible }`.
import { uuidv7 } from "./uuid.js";

/** The action type of a local event to apply optimistically and keep pending. */
export const LOCAL = "flux/local";
/** The action type of a pending event the server refused (4xx): kept, marked `rejected`. */
export const REJECTED = "flux/rejected";
/** The action type that removes an event from the pending list (a rejected one, or one the server answered without committing anything). */
export const DISMISSED = "flux/dismissed";

const EMPTY = Object.freeze([]);
/** The empty pending list (one frozen array: selectors stay referentially stable). */
export const NO_PENDING = EMPTY;

/**
 * `event` ready to be applied locally and sent: an `id` (a new UUID v7 unless it has
 * one) and a provisional `timestamp` (the client's clock, unless it has one). No `seq`:
 * the reducers see `seq` 0 until the server commits it.
 */
export function stampLocal(event, now = Date.now()) {
  if (!event || typeof event !== "object" || typeof event.type !== "string" || event.type === "") {
    throw new TypeError("a local event must be an object with a non-empty string `type`");
  }
  if (event.seq !== undefined) throw new TypeError("a local event has no `seq` (the server gives it when it commits)");
  if (event.id !== undefined && typeof event.id !== "string") throw new TypeError("a local event's `id` must be a UUID string");
  return { ...event, id: event.id ?? uuidv7(now), timestamp: event.timestamp ?? new Date(now).toISOString() };
}

/** `{ type: "flux/local", payload: event }` with `event` stamped (`stampLocal`): every slice sees the same id. */
export const local = (event) => ({ type: LOCAL, payload: stampLocal(event) });

/** Plain, serializable data about an error: `{ kind, message }` plus `status` (HTTP) when known. */
export function errorInfo(error) {
  if (error && typeof error === "object") {
    const info = {
      kind: typeof error.kind === "string" ? error.kind : typeof error.code === "string" ? error.code : "error",
      message: typeof error.message === "string" ? error.message : String(error),
    };
    if (typeof error.status === "number") info.status = error.status;
    return info;
  }
  return { kind: "error", message: String(error) };
}

/** `{ type: "flux/rejected", payload: { id, error } }`: the server refused pending event `id`. */
export const rejected = (id, error) => ({ type: REJECTED, payload: { id: String(id), error: errorInfo(error) } });

/**
 * `{ type: "flux/dismissed", payload: { id } }`: forget pending event `id` (a rejected
 * one; or one the server answered with no event, which no commit will confirm).
 */
export const dismissed = (id) => ({ type: DISMISSED, payload: { id: String(id) } });

/** A new pending entry for a stamped local event. */
export const entryOf = (event) => ({ id: event.id, event, status: "sending" });

/** `pending` without the entries whose id a committed event of `batch` carries (the same array when none). */
export function withoutCommitted(pending, batch) {
  if (pending.length === 0) return pending;
  const ids = new Set();
  for (const e of batch) if (typeof e?.id === "string") ids.add(e.id);
  if (ids.size === 0) return pending;
  const out = pending.filter((p) => !ids.has(p.id));
  return out.length === pending.length ? pending : out;
}

/** `pending` with entry `id` marked rejected with `error` (the same array when it holds no such entry). */
export function markRejected(pending, id, error) {
  const i = pending.findIndex((p) => p.id === id);
  if (i < 0) return pending;
  const out = pending.slice();
  out[i] = { id, event: pending[i].event, status: "rejected", error };
  return out;
}

/** `pending` without entry `id`. */
export function withoutEntry(pending, id) {
  const out = pending.filter((p) => p.id !== id);
  return out.length === pending.length ? pending : out;
}

/**
 * The visible state: `confirmed` plus every entry still sending, applied in order.
 * Never throws: an entry that no longer applies (another user's event changed what
 * it touches) is left out of the state and carries the local `error` until the
 * server answers for it; rejected entries are left out. Returns `{ state, pending }`
 * (`pending` with those errors updated; the same array when none changed).
 */
export function rebase(confirmed, pending, apply) {
  let state = confirmed;
  let out = pending;
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i];
    if (p.status === "rejected") continue;
    let next = p;
    try {
      state = apply(state, [p.event]);
      if (p.error) next = { id: p.id, event: p.event, status: p.status };
    } catch (err) {
      const error = errorInfo(err);
      if (!p.error || p.error.kind !== error.kind || p.error.message !== error.message) next = { ...p, error };
    }
    if (next !== p) {
      if (out === pending) out = pending.slice();
      out[i] = next;
    }
  }
  return { state, pending: out };
}
