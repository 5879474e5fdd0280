// The divergence check: the server attaches to each committed event the hash of the
// changeset it applied (`event.hash`, 16 hex digits); the client hashes the changeset
// it computed for the same event with the same code (the wasm package's
// `changesetHash`) and reports a mismatch instead of drifting silently.

// changeset object -> (event object -> its divergence, or null), module-wide: every
// slice and adapter applying the same event with the same reducer gets the same
// changeset object (apply.js caches it per reducer and event), so they share one
// hash computation; another reducer's changeset for that event is checked on its own.
const results = new WeakMap();
// event object -> the callbacks told about it already (each is told once).
const told = new WeakMap();
const warned = new WeakSet();

/**
 * The divergence of committed `event`, whose changeset here is `changeset`: `null`
 * when the event carries no `hash`, or it matches; else `{ event, seq, id, expected,
 * actual, changeset }` (`expected`: the server's hash, `actual`: the client's).
 */
export function divergenceOf(event, changeset, changesetHash) {
  if (typeof event?.hash !== "string" || typeof changesetHash !== "function") return null;
  const cacheable = changeset !== null && typeof changeset === "object";
  let byEvent = cacheable ? results.get(changeset) : undefined;
  if (byEvent?.has(event)) return byEvent.get(event);
  const actual = changesetHash(changeset);
  const found = actual === event.hash
    ? null
    : { event, seq: event.seq, id: event.id, expected: event.hash, actual, changeset };
  if (cacheable) {
    if (!byEvent) results.set(changeset, (byEvent = new WeakMap()));
    byEvent.set(event, found);
  }
  return found;
}

/** Tells `onDivergence` (once per event and callback) and the console (once per event), after the current reducer. */
function report(divergence, onDivergence) {
  const { event } = divergence;
  let callbacks = told.get(event);
  if (!callbacks) told.set(event, (callbacks = new Set()));
  const tellCallback = typeof onDivergence === "function" && !callbacks.has(onDivergence);
  if (tellCallback) callbacks.add(onDivergence);
  const warn = !warned.has(event);
  if (warn) warned.add(event);
  if (!tellCallback && !warn) return;
  // After the reducer: a callback may dispatch.
  queueMicrotask(() => {
    if (warn) {
      console.warn(
        `flux-capacitor: divergence at seq ${divergence.seq} (event ${divergence.id}, ${event.type}): ` +
          `the server applied a changeset with hash ${divergence.expected}, this client computed ${divergence.actual}. ` +
          "A reducer is not deterministic (reads a clock, random numbers, or differs between builds).",
      );
    }
    if (tellCallback) onDivergence(divergence);
  });
}

/**
 * The `verify(event, changeset)` hook of an adapter (see apply.js), or undefined
 * when there is no hash function: `options.changesetHash`, else the reducer
 * package's own `changesetHash` export. `count(divergence)` is called at once
 * (synchronously) for each divergent event this adapter applies.
 */
export function verifier(reducer, options = {}, count) {
  const hash = options.changesetHash ?? (typeof reducer === "object" ? reducer?.changesetHash : undefined);
  if (typeof hash !== "function") return undefined;
  const { onDivergence } = options;
  return (event, changeset) => {
    const divergence = divergenceOf(event, changeset, hash);
    if (!divergence) return;
    count?.(divergence);
    report(divergence, onDivergence);
  };
}
