// The tabs of one user on one store share one pending queue (the stored one): each
// tab shows every queued event as pending, and one tab, the leader, sends them.
// Leadership is a Web Lock named after the queue: the first tab holding it sends;
// when that tab closes (or its client does), the browser hands the lock to the
// next one, which sends whatever is left (a resend is idempotent: the server
// answers an id it committed with the stored events). The tabs tell each other
// what they queue and what the server answered over a BroadcastChannel of the
// same name.

/** Whether this environment has both Web Locks and BroadcastChannel. */
export const canShareTabs = () =>
  typeof globalThis.BroadcastChannel === "function" && typeof globalThis.navigator?.locks?.request === "function";

/**
 * Joins the tabs sharing queue `key`: `onMessage(message)` for each message another
 * tab posts, `onLeader()` once this tab holds the lock. Returns `{ leader, post(message), close() }`;
 * `close()` leaves (the lock passes on).
 */
export function joinTabs(key, { onMessage, onLeader, onError }) {
  const name = `flux-capacitor ${key}`;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => onMessage(event.data);
  let leader = false;
  let closed = false;
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const abort = new AbortController();
  globalThis.navigator.locks
    .request(name, { signal: abort.signal }, () => {
      if (closed) return undefined;
      leader = true;
      onLeader();
      return held; // kept until close(), or until the page goes away
    })
    .catch((err) => {
      if (!closed) onError(err);
    });
  return {
    get leader() {
      return leader;
    },
    post(message) {
      if (!closed) channel.postMessage(message);
    },
    close() {
      if (closed) return;
      closed = true;
      leader = false;
      abort.abort(); // still waiting for the lock: stop waiting
      release();
      channel.close();
    },
  };
}
