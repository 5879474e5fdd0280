// The live feed (flux-capacitor/live `connectLive`): follow a store's committed
// events over a WebSocket, resuming from the last seen seq after every disconnect.

const DEFAULT_RETRY = { minDelay: 250, maxDelay: 10_000, factor: 2, jitter: true };

/** The close code of a subscriber the server dropped for falling behind (its
 * socket took nothing for the server's send timeout): resume from `lastSeq`. */
export const CLOSE_BEHIND = 4001;

/** `url` as a ws:/wss: URL string (http: → ws:, https: → wss:; relative to the page). */
function liveUrl(url, after, token) {
  const base = globalThis.location?.href;
  const u = base ? new URL(String(url), base) : new URL(String(url));
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  u.searchParams.set("after", String(after));
  if (token !== undefined && token !== null) u.searchParams.set("token", String(token));
  return u.toString();
}

const noop = () => {};
/** Stops listening to `ws` (no-op handlers, not null: the `ws` package throws an
 * "error" event that nobody listens to, e.g. when closed while connecting). */
function detach(ws) {
  ws.onopen = ws.onmessage = ws.onerror = ws.onclose = noop;
}

/** The text of a message's data (a string, or bytes from some WebSocket implementations). */
function textOf(data) {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return String(data);
}

/**
 * Connects to a live endpoint (`GET /events/live?after=SEQ&token=...`) whose every
 * message is a JSON array of stored events in seq order. Calls `onEvents(batch)`
 * with each batch's events newer than the last one delivered, and reconnects with
 * exponential backoff after any close or error, resuming from `lastSeq`. A close
 * with `CLOSE_BEHIND` (the server dropped a reader that fell behind) is resumed at
 * once, even with `retry: false`, as long as each such connection delivered
 * something (else it backs off like any other close).
 */
export function connectLive(options) {
  const {
    url,
    after = 0,
    token,
    onEvents,
    onStatus,
    onError,
    WebSocket: Socket = globalThis.WebSocket,
  } = options ?? {};
  if (url === undefined || url === null) throw new TypeError("connectLive: `url` is required");
  if (typeof onEvents !== "function") throw new TypeError("connectLive: `onEvents` must be a function");
  if (typeof Socket !== "function") {
    throw new TypeError("connectLive: no WebSocket implementation (pass `WebSocket`, e.g. from the `ws` package)");
  }
  const retry = options.retry === false ? false : { ...DEFAULT_RETRY, ...(options.retry ?? {}) };

  let lastSeq = Number(after) || 0;
  let socket = null;
  let timer = null;
  let attempt = 0; // failed connections in a row
  let closed = false;
  let status = "connecting";
  let behindAt = null; // lastSeq at the last CLOSE_BEHIND

  const setStatus = (next, detail = {}) => {
    status = next;
    if (onStatus) {
      try {
        onStatus(next, { lastSeq, attempt, ...detail });
      } catch (err) {
        report(err);
      }
    }
  };
  const report = (err) => {
    if (onError) onError(err);
    else queueMicrotask(() => { throw err; }); // an uncaught error, never a silent one
  };

  const deliver = (data) => {
    let batch;
    try {
      batch = JSON.parse(textOf(data));
    } catch (err) {
      report(new Error(`connectLive: a message is not JSON: ${err.message}`));
      return;
    }
    if (!Array.isArray(batch)) {
      report(new Error("connectLive: a message is not a JSON array of events"));
      return;
    }
    const fresh = [];
    for (const event of batch) {
      const seq = event?.seq;
      if (typeof seq === "number") {
        if (seq <= lastSeq) continue; // seen already (belt and braces)
        lastSeq = seq;
      }
      fresh.push(event);
    }
    if (fresh.length === 0) return;
    try {
      onEvents(fresh);
    } catch (err) {
      report(err);
    }
  };

  const schedule = (detail) => {
    if (closed) return;
    if (detail.code === CLOSE_BEHIND && behindAt !== lastSeq) {
      // Dropped for reading too slowly, after some progress: resume now.
      behindAt = lastSeq;
      setStatus("retrying", { ...detail, delay: 0 });
      timer = setTimeout(() => {
        timer = null;
        open();
      }, 0);
      return;
    }
    if (!retry) {
      closed = true;
      setStatus("closed", detail);
      return;
    }
    const base = Math.min(retry.maxDelay, retry.minDelay * retry.factor ** attempt);
    const delay = retry.jitter ? base / 2 + Math.random() * (base / 2) : base;
    attempt += 1;
    setStatus("retrying", { ...detail, delay });
    timer = setTimeout(() => {
      timer = null;
      open();
    }, delay);
  };

  const open = () => {
    if (closed) return;
    setStatus("connecting");
    let ws;
    try {
      ws = new Socket(liveUrl(url, lastSeq, token));
    } catch (error) {
      schedule({ error });
      return;
    }
    socket = ws;
    let failed = false;
    ws.onopen = () => {
      if (socket !== ws) return;
      attempt = 0;
      setStatus("open");
    };
    ws.onmessage = (event) => {
      if (socket !== ws || closed) return;
      deliver(event.data);
    };
    const lost = (detail) => {
      if (socket !== ws || failed) return;
      failed = true;
      socket = null;
      detach(ws);
      try {
        ws.close();
      } catch {
        // already closing
      }
      schedule(detail);
    };
    ws.onerror = (event) => lost({ error: event?.error ?? event });
    ws.onclose = (event) => lost({ code: event?.code, reason: event?.reason });
  };

  open();

  return {
    /** Closes the connection for good: no more events, no reconnect. */
    close() {
      if (closed) return;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const ws = socket;
      socket = null;
      if (ws) {
        detach(ws);
        try {
          ws.close();
        } catch {
          // already closing
        }
      }
      setStatus("closed");
    },
    /** The seq of the last event delivered to `onEvents` (or `after`). */
    get lastSeq() {
      return lastSeq;
    },
    /** "connecting" | "open" | "retrying" | "closed". */
    get status() {
      return status;
    },
  };
}
