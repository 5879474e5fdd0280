// The live client (flux-capacitor/live `createClient`): one object for a store's
// frontend. Local events are applied at once (`flux/local` into the adapter), kept in
// an outbox persisted per store URL and user (storage.js: localStorage or IndexedDB),
// and sent in order, each with its id, so a resend (after a network failure, a
// reconnect or a reload) never commits twice; the live feed brings the committed
// events, which confirm them. The tabs of one user share the stored outbox (tabs.js):
// each shows every queued event, one of them sends.
import { committed } from "./actions.js";
import { reduceWith } from "./apply.js";
import { verifier } from "./divergence.js";
import { connectLive } from "./feed.js";
import { dismissed, errorInfo, local, rejected } from "./pending.js";
import { FluxCapacitorError } from "./semantics.js";
import { queueOf } from "./storage.js";
import { canShareTabs, joinTabs } from "./tabs.js";

const DEFAULT_RETRY = { minDelay: 250, maxDelay: 10_000, factor: 2, jitter: true, requestTimeout: 10_000 };

/** The base URL of the store, ending in "/" (relative to the page in a browser). */
function baseUrl(url) {
  const page = globalThis.location?.href;
  const u = page ? new URL(String(url), page) : new URL(String(url));
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  u.search = "";
  u.hash = "";
  return u;
}

/** Whether an HTTP answer is final for the event (a refusal): 4xx except timeouts and rate limits. */
const refused = (status) => status >= 400 && status < 500 && status !== 408 && status !== 429;

/** The server's `{ error: { code, message } }` answer as an Error with `kind` and `status`. */
async function answerError(response) {
  const text = await response.text().catch(() => "");
  let code = `http_${response.status}`;
  let message = text || response.statusText || `HTTP ${response.status}`;
  try {
    const body = JSON.parse(text);
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // not JSON: keep the text
  }
  const err = new FluxCapacitorError(code, message);
  err.status = response.status;
  return err;
}

/** An `EventError` (plain data, as another tab posts it) as the Error a `response` rejects with. */
function errorFrom(info) {
  const err = new FluxCapacitorError(info?.kind ?? "error", info?.message ?? "refused");
  if (typeof info?.status === "number") err.status = info.status;
  return err;
}

const isThenable = (value) => typeof value?.then === "function";

/**
 * A client of one store for one user: `dispatch(event)` applies at once and sends,
 * `pending` and `status` say where things are, the live feed keeps the adapter's
 * confirmed state current. See live.d.ts for the options.
 */
export function createClient(options) {
  const {
    url,
    token,
    user,
    dispatch: target,
    after = 0,
    reducer,
    onDivergence,
    onRejected,
    onStatus,
    onError,
    fetch: fetchImpl = globalThis.fetch,
    WebSocket: Socket,
    liveUrl,
  } = options ?? {};
  if (url === undefined || url === null) throw new TypeError("createClient: `url` (the store's base URL) is required");
  if (typeof target !== "function") {
    throw new TypeError("createClient: `dispatch` (a Redux store's dispatch, or an adapter's) must be a function");
  }
  if (typeof fetchImpl !== "function") throw new TypeError("createClient: no fetch implementation (pass `fetch`)");
  const retry = { ...DEFAULT_RETRY, ...(options.retry || {}) };
  const base = baseUrl(url);
  const key = options.storageKey ?? `flux-capacitor/pending ${base.href} ${user ?? token ?? ""}`;
  const meta = options.meta ?? (user !== undefined ? { user } : undefined);
  const queue = queueOf(options.storage, key); // null: the outbox lives in memory only

  const report = (err) => {
    if (onError) onError(err);
    else queueMicrotask(() => { throw err; });
  };
  /** Runs a storage operation (synchronous or not); a failure is reported, the outbox still lives in memory. */
  const stored = (operation) => {
    if (!queue) return;
    try {
      const result = operation(queue);
      if (isThenable(result)) result.then(undefined, report);
    } catch (err) {
      report(err); // a full or unavailable storage
    }
  };

  let outbox = []; // [{ id, event, answer? }]: not yet confirmed by the feed
  let loaded = false; // the stored outbox is in `outbox`: sending may start
  const waiters = new Map(); // id -> { resolve, reject }
  let sending = null; // the entry in flight
  let timer = null;
  let attempt = 0;
  let closed = false;
  let lastError = null;
  let rejectedCount = 0;
  let divergences = 0;
  let connection = "connecting";
  let lastSeq = Number(after) || 0;
  let tabs = null; // the other tabs of this queue (tabs.js), when shared

  const verify = reducer ? verifier(reducer, { onDivergence, changesetHash: options.changesetHash }, () => divergences++) : undefined;

  const status = () => ({
    connection,
    lastSeq,
    pending: outbox.length,
    retrying: lastError !== null,
    error: lastError,
    rejected: rejectedCount,
    divergences,
    leader: !tabs || tabs.leader,
  });
  const changed = () => {
    if (!onStatus) return;
    try {
      onStatus(status());
    } catch (err) {
      report(err);
    }
  };
  /** Shows `event` as pending in the adapter; false when it no longer applies here. */
  const showLocal = (event) => {
    try {
      target(local(event));
      return true;
    } catch {
      return false;
    }
  };
  const settle = (id, outcome, value) => {
    const w = waiters.get(id);
    if (!w) return;
    waiters.delete(id);
    w[outcome](value);
  };
  const drop = (id) => {
    const before = outbox.length;
    outbox = outbox.filter((e) => e.id !== id);
    if (outbox.length !== before) stored((q) => q.remove(id));
  };

  /** Entries the server answered whose events the adapter has already applied (a feed resumed past them): confirm them. */
  const confirmAnswered = () => {
    for (const entry of outbox) {
      if (!entry.answer || entry === sending) continue;
      const top = entry.answer.reduce((m, e) => Math.max(m, e.seq ?? 0), 0);
      if (top > lastSeq) continue;
      drop(entry.id);
      // seqs at or below lastSeq: nothing is applied again, the pending entry leaves
      if (entry.answer.length) target(committed(entry.answer));
      else target(dismissed(entry.id));
    }
  };

  const onEvents = (batch) => {
    if (verify) {
      for (const event of batch) {
        if (typeof event?.seq !== "number") continue;
        try {
          verify(event, reduceWith(reducer, event));
        } catch {
          // the adapter reports the reducer's error when it applies the batch
        }
      }
    }
    target(committed(batch));
    for (const event of batch) if (typeof event?.seq === "number" && event.seq > lastSeq) lastSeq = event.seq;
    const ids = new Set(batch.map((e) => e?.id));
    for (const entry of outbox.filter((e) => ids.has(e.id))) {
      drop(entry.id);
      // sent by another tab (or before a reload): the commit answers it; an entry in
      // flight here is answered by its response (all the events its command committed)
      if (entry !== sending) settle(entry.id, "resolve", batch.filter((e) => e?.id === entry.id));
    }
    confirmAnswered();
    changed();
  };

  const schedule = () => {
    if (closed || timer !== null) return;
    const delay = Math.min(retry.maxDelay, retry.minDelay * retry.factor ** attempt);
    attempt += 1;
    timer = setTimeout(() => {
      timer = null;
      pump();
    }, retry.jitter ? delay / 2 + Math.random() * (delay / 2) : delay);
  };

  /** Sends the first unanswered entry, then the next: one in flight, in order. */
  const pump = () => {
    if (closed || !loaded || (tabs && !tabs.leader) || sending || timer !== null) return;
    const entry = outbox.find((e) => !e.answer);
    if (!entry) return;
    sending = entry;
    send(entry).then(
      () => {
        sending = null;
        attempt = 0;
        lastError = null;
        confirmAnswered();
        changed();
        pump();
      },
      (err) => {
        sending = null;
        lastError = errorInfo(err);
        changed();
        schedule();
      },
    );
  };

  /** One POST; resolves when the server gave a final answer (commit or refusal), throws to retry. */
  const send = async (entry) => {
    const { event } = entry;
    const endpoint = new URL(`dispatch/${encodeURIComponent(event.type)}`, base);
    endpoint.searchParams.set("id", entry.id);
    const headers = { "Content-Type": "application/json" };
    if (token !== undefined && token !== null) headers.Authorization = `Bearer ${token}`;
    // A request the network swallowed (a connection cut while it opened may
    // never answer) is abandoned and sent again: the id keeps it committed once.
    const response = await fetchImpl(endpoint.href, {
      method: "POST",
      headers,
      body: event.payload === undefined ? "" : JSON.stringify(event.payload),
      signal: AbortSignal.timeout(retry.requestTimeout),
    });
    if (response.ok) {
      const events = await response.json();
      if (!outbox.includes(entry)) {
        settle(entry.id, "resolve", events); // the feed confirmed it meanwhile
        return;
      }
      entry.answer = Array.isArray(events) ? events : [];
      tabs?.post({ kind: "answered", id: entry.id, events: entry.answer });
      settle(entry.id, "resolve", entry.answer);
      return;
    }
    const err = await answerError(response);
    if (!refused(response.status)) throw err;
    tabs?.post({ kind: "rejected", id: entry.id, error: errorInfo(err) });
    refuse(entry, err);
  };

  /** The server refused `entry` (told by its answer, or by the tab that sent it). */
  const refuse = (entry, err) => {
    drop(entry.id);
    rejectedCount++;
    target(rejected(entry.id, err));
    settle(entry.id, "reject", err);
    tellRejected(entry, err);
  };

  const tellRejected = (entry, err) => {
    if (!onRejected) return;
    try {
      onRejected({ id: entry.id, event: entry.event, error: errorInfo(err) });
    } catch (e) {
      report(e);
    }
  };

  /** What another tab of this queue says: it queued an event, or the server answered one. */
  const onTabMessage = (message) => {
    if (closed || typeof message?.id !== "string") return;
    const entry = outbox.find((e) => e.id === message.id);
    if (message.kind === "queued") {
      if (entry || typeof message.event?.type !== "string") return;
      showLocal(message.event);
      outbox.push({ id: message.id, event: message.event });
      changed();
      pump(); // this tab may be the leader
    } else if (message.kind === "answered" && entry) {
      entry.answer = Array.isArray(message.events) ? message.events : [];
      settle(entry.id, "resolve", entry.answer);
      confirmAnswered();
      changed();
    } else if (message.kind === "rejected" && entry) {
      refuse(entry, errorFrom(message.error));
      changed();
    }
  };
  tabs = queue && options.tabs !== false && canShareTabs()
    ? joinTabs(key, { onMessage: onTabMessage, onLeader: () => { changed(); pump(); }, onError: report })
    : null;

  let live = null;
  /**
   * The stored outbox is read: its events first, in their order, as they were before
   * the reload (events dispatched or told by another tab meanwhile come after them).
   * One that no longer applies here (typically: it was committed, and the restored
   * state already holds it) is not shown but still resent: the server's answer says
   * committed or refused. Then the feed opens and sending starts.
   */
  const start = (entries) => {
    if (closed) return;
    const known = new Map(outbox.map((e) => [e.id, e]));
    const storedIds = new Set(entries.map((e) => e.id));
    for (const e of entries) if (!known.has(e.id)) showLocal(e.event);
    outbox = [...entries.map((e) => known.get(e.id) ?? { id: e.id, event: e.event }), ...outbox.filter((e) => !storedIds.has(e.id))];
    loaded = true;
    live = connectLive({
      url: liveUrl ?? new URL("events/live", base).href,
      after: lastSeq,
      token,
      WebSocket: Socket,
      retry: options.retry,
      onEvents,
      onError: report,
      onStatus: (next) => {
        const reopened = next === "open" && connection !== "open";
        connection = next;
        if (reopened && timer !== null) {
          // back online: resend now rather than after the backoff
          clearTimeout(timer);
          timer = null;
          attempt = 0;
        }
        changed();
        if (reopened) pump();
      },
    });
    if (outbox.length) changed();
    pump();
  };
  const unreadable = (err) => {
    report(new Error(`createClient: the stored pending events under "${key}" are unreadable (${err?.message ?? err}); starting without them`));
    return [];
  };
  let initial;
  try {
    initial = queue ? queue.load() : [];
  } catch (err) {
    initial = unreadable(err);
  }
  // A synchronous storage (localStorage) starts at once: the reloaded events are in the
  // first render. An asynchronous one (IndexedDB) starts when they are read.
  if (isThenable(initial)) initial.then(start, (err) => start(unreadable(err)));
  else start(initial);

  const onOnline = () => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
      attempt = 0;
    }
    pump();
  };
  globalThis.addEventListener?.("online", onOnline);

  return {
    /**
     * Applies `event` at once (the adapter's `flux/local`) and queues it to be sent.
     * Returns `{ id, event, response }`: `response` resolves to the stored events
     * when the server commits it (or had committed it), and rejects with the server's
     * refusal. A local reducer error throws here, and nothing is queued or sent.
     */
    dispatch(event) {
      if (closed) throw new Error("createClient: the client is closed");
      const withMeta = meta && event?.meta === undefined ? { ...event, meta } : event;
      const action = local(withMeta);
      target(action); // throws on a local reducer error: nothing queued
      const entry = { id: action.payload.id, event: action.payload };
      outbox.push(entry);
      stored((q) => q.append(entry));
      tabs?.post({ kind: "queued", id: entry.id, event: entry.event });
      const response = new Promise((resolve, reject) => waiters.set(entry.id, { resolve, reject }));
      response.catch(() => {}); // a refusal nobody awaits is reported through onRejected and the adapter
      changed();
      pump();
      return { id: entry.id, event: action.payload, response };
    },
    /** The events not yet confirmed by the feed, oldest first: `[{ id, event }]`. */
    get pending() {
      return outbox.map(({ id, event }) => ({ id, event }));
    },
    /** `{ connection, lastSeq, pending, retrying, error, rejected, divergences, leader }` (a new object each time). */
    get status() {
      return status();
    },
    /** Sends now, without waiting for the backoff (e.g. when the app knows the network is back). */
    retryNow: onOnline,
    /** Stops the feed and the sending; the outbox stays in storage for the next client. */
    close() {
      if (closed) return;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      globalThis.removeEventListener?.("online", onOnline);
      tabs?.close();
      live?.close();
    },
  };
}
