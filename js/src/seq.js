// Each committed event applies once: the adapters remember the `seq` of the last
// committed event they applied and skip any event at or below it. So feeds can
// overlap, resubscribe and replay from any point (a React remount, a second
// component, `connectLive({ after: 0 })` twice) without applying anything twice.

/** The last applied seq an adapter's state holds (0 when it holds none). */
export const lastSeqOf = (state) => (typeof state?.lastSeq === "number" ? state.lastSeq : 0);

/**
 * The events of `events` to apply after `lastSeq`, and the last seq after them.
 * A committed event (one with a numeric `seq`) passes when its seq is above every
 * seq before it; an event without `seq` (a local event) always passes. Returns
 * `events` itself when every event passes.
 */
export function freshEvents(events, lastSeq) {
  let last = lastSeq;
  let fresh = events;
  for (let i = 0; i < events.length; i++) {
    const seq = events[i]?.seq;
    const keep = typeof seq !== "number" || seq > last;
    if (keep && typeof seq === "number") last = seq;
    if (!keep && fresh === events) fresh = events.slice(0, i);
    else if (keep && fresh !== events) fresh.push(events[i]);
  }
  return { events: fresh, lastSeq: last };
}

/**
 * The seq of the last committed event applied to `state`: a `reduxify` slice
 * (`state.lastSeq`), or a `reduxifyAll` state (the largest of its collections').
 * Resume a feed from it: `connectLive({ after: selectLastSeq(state.notes), ... })`.
 */
export function selectLastSeq(state) {
  if (!state || typeof state !== "object") return 0;
  if (typeof state.lastSeq === "number") return state.lastSeq;
  let last = 0;
  for (const value of Object.values(state)) last = Math.max(last, lastSeqOf(value));
  return last;
}
