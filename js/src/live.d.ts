import type { FluxEvent } from "./index.js";

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
