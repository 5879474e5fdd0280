import type { AnyAction, Changeset, Divergence, EventError, FluxEvent, WasmReducer } from "./index.js";

/** The connection's state, as told to `onStatus`. */
export type LiveStatus = "connecting" | "open" | "retrying" | "closed";

export interface LiveStatusDetail {
  /** The seq of the last event delivered so far. */
  lastSeq: number;
  /** Failed connections in a row (0 once a connection opened). */
  attempt: number;
  /** "retrying": milliseconds until the next connection. */
  delay?: number;
  /** "retrying" after an error: what the WebSocket reported. */
  error?: unknown;
  /** "retrying" after a close: the close code and reason. */
  code?: number;
  reason?: string;
}

export interface RetryOptions {
  /** First delay in ms (default 250). */
  minDelay?: number;
  /** Largest delay in ms (default 10000). */
  maxDelay?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Pick each delay at random in [delay/2, delay] (default true). */
  jitter?: boolean;
  /**
   * A POST of an event without an answer within this many ms is abandoned and sent
   * again after the next delay, with the same id (default 10000).
   */
  requestTimeout?: number;
}

/** The WebSocket constructor: the browser's, Node's, or the `ws` package's. */
export interface WebSocketLike {
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onerror: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface LiveOptions<E extends FluxEvent = FluxEvent> {
  /** The live endpoint, e.g. `ws://host/events/live` (http(s): becomes ws(s):; relative to the page in a browser). */
  url: string | URL;
  /** Deliver events with seq > after (default 0: everything). */
  after?: number;
  /** Sent as the `token` query parameter. */
  token?: string;
  /** Each batch of new events, in seq order, never one seen before. */
  onEvents: (events: E[]) => void;
  /** Connection state changes. */
  onStatus?: (status: LiveStatus, detail: LiveStatusDetail) => void;
  /** Errors thrown by `onEvents`/`onStatus` and malformed messages (default: rethrown as uncaught). */
  onError?: (error: unknown) => void;
  /** The WebSocket implementation (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Backoff between reconnects, or `false` for no reconnect (a `CLOSE_BEHIND` close that follows progress is still resumed at once). */
  retry?: RetryOptions | false;
}

export interface LiveConnection {
  /** Closes for good: no more events, no reconnect. */
  close(): void;
  /** The seq of the last event delivered to `onEvents` (or `after`). */
  readonly lastSeq: number;
  readonly status: LiveStatus;
}

/**
 * The close code of a subscriber the server dropped for falling behind (4001);
 * `connectLive` resumes from `lastSeq` at once.
 */
export declare const CLOSE_BEHIND: 4001;

export declare function connectLive<E extends FluxEvent = FluxEvent>(options: LiveOptions<E>): LiveConnection;

/** The Web Storage interface (localStorage's); any object with these three methods. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * A stored pending queue: one per storage key (store URL and user). Each operation
 * touches one entry, so two tabs writing the same queue never overwrite each other.
 * Synchronous (a Web Storage) or asynchronous (IndexedDB).
 */
export interface PendingQueue {
  /** The stored entries, oldest first. */
  load(): OutboxEntry[] | Promise<OutboxEntry[]>;
  /** Stores `entry` after the others (an id already stored is left alone). */
  append(entry: OutboxEntry): void | Promise<void>;
  /** Forgets entry `id` (an id not stored is no error). */
  remove(id: string): void | Promise<void>;
}

/** Where pending queues are kept: `open(key)` answers the queue under `key`. */
export interface QueueStorage {
  open(key: string): PendingQueue;
}

export interface IndexedDBStorageOptions {
  /** The database's name (default "flux-capacitor"); its one object store is `pending`. */
  name?: string;
  /** The IndexedDB factory (default `globalThis.indexedDB`). */
  indexedDB?: IDBFactory;
}

/**
 * The pending queues in IndexedDB: one record per event (auto-increment key: appends
 * from several tabs keep their order), a unique index on (queue key, id). Throws a
 * TypeError where there is no IndexedDB.
 */
export declare function indexedDBStorage(options?: IndexedDBStorageOptions): QueueStorage;

/** An event the client has not yet seen committed by the feed. */
export interface OutboxEntry<E extends FluxEvent = FluxEvent> {
  id: string;
  event: E & { id: string; timestamp: string };
}

export interface ClientStatus {
  /** The live feed's connection. */
  connection: LiveStatus;
  /** The seq of the last committed event the feed delivered. */
  lastSeq: number;
  /** Events sent or to send that the feed has not confirmed yet (persisted). */
  pending: number;
  /** Whether the last attempt to send failed (network, 5xx, 408, 429): the client retries with backoff. */
  retrying: boolean;
  /** The error of that last failed attempt, or null. */
  error: EventError | null;
  /** Events the server refused (4xx) since the client started. */
  rejected: number;
  /** Committed events whose changeset here did not hash to the server's (needs `reducer`). */
  divergences: number;
  /** Whether this client sends the queue: true unless it shares the queue with other tabs and another tab holds the lock. */
  leader: boolean;
}

export interface ClientOptions {
  /** The store's base URL (`http(s)://host[:port][/prefix]`; relative to the page in a browser): `POST {url}/dispatch/{type}?id=`, `{url}/events/live`. */
  url: string | URL;
  /** The bearer token (`Authorization: Bearer`, and `?token=` on the feed). */
  token?: string;
  /** The user: part of the storage key, and `meta.user` of local events (what the server stamps), unless `meta` says otherwise. */
  user?: string;
  /** `meta` of local events that have none (default `{ user }` when `user` is given). */
  meta?: unknown;
  /** Where the actions go: a Redux store's `dispatch`, or `(action) => collection.dispatch(action)` for MobX. It must throw on a local reducer error (the adapters do). */
  dispatch: (action: AnyAction) => unknown;
  /** Resume the feed after this seq (e.g. `selectLastSeq(store.getState().notes)`; default 0). */
  after?: number;
  /** The reducers' wasm package: enables the divergence check (its `changesetHash`). */
  reducer?: WasmReducer;
  changesetHash?: (changeset: Changeset) => string;
  onDivergence?: (divergence: Divergence) => void;
  /** An event the server refused (4xx): it is marked `rejected` in the adapter and not sent again. */
  onRejected?: (rejection: { id: string; event: FluxEvent; error: EventError }) => void;
  onStatus?: (status: ClientStatus) => void;
  /** Errors of the feed, of callbacks, of the storage (default: rethrown as uncaught). */
  onError?: (error: unknown) => void;
  /**
   * Where the outbox is kept across reloads: "localstorage" (the default:
   * `globalThis.localStorage`, memory only where there is none), "indexeddb"
   * (`indexedDBStorage()`), a Web Storage, a `QueueStorage`, or `null` (memory only).
   */
  storage?: "localstorage" | "indexeddb" | StorageLike | QueueStorage | null;
  /**
   * Share the stored outbox with the other tabs of this user and store (default true
   * where Web Locks and BroadcastChannel exist and `storage` is not null): every tab
   * shows every queued event as pending; one tab (the Web Lock's holder) sends.
   */
  tabs?: boolean;
  /** The storage key (default: `flux-capacitor/pending <base URL> <user or token>`). */
  storageKey?: string;
  /** Backoff of both the feed's reconnects and the resends. */
  retry?: RetryOptions;
  fetch?: typeof fetch;
  WebSocket?: WebSocketConstructor;
  /** The feed's URL, when not `{url}/events/live`. */
  liveUrl?: string | URL;
}

export interface Client {
  /**
   * Applies `event` at once (`flux/local`) and queues it: sent in order, one at a time,
   * as `POST {url}/dispatch/{event.type}?id={id}` with `event.payload` as the body,
   * resent until the server answers. A local reducer error throws here (nothing is
   * queued). `response` resolves to the stored events, or rejects with the refusal
   * (an Error with `kind` and `status`).
   */
  dispatch<E extends FluxEvent>(event: E): { id: string; event: E & { id: string; timestamp: string }; response: Promise<FluxEvent[]> };
  /** The events not yet confirmed by the feed, oldest first. */
  readonly pending: OutboxEntry[];
  readonly status: ClientStatus;
  /** Sends now instead of after the backoff (the client also does on `online` events and when the feed reconnects). */
  retryNow(): void;
  /** Stops the feed and the sending; the outbox stays in storage. */
  close(): void;
}

/** One client of a store for one user: local events, the outbox (persisted), sending, the live feed. */
export declare function createClient(options: ClientOptions): Client;
