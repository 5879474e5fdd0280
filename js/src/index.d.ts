/** An event on the wire (Flux Standard Action); stored events add id, seq, timestamp. */
export interface FluxEvent<P = unknown> {
  type: string;
  payload?: P;
  meta?: unknown;
  error?: boolean;
  id?: string;
  seq?: number;
  timestamp?: string;
  /** On a committed event: the hash of the changeset the server applied (16 hex digits; absent on old events). */
  hash?: string;
}
export type Key = string | number;
export type Row = Record<string, unknown>;
export type Filter =
  | { op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte"; field: string; value: string | number | boolean }
  | { op: "in"; field: string; values: Array<string | number | boolean> }
  | { op: "is_null"; field: string }
  | { op: "and" | "or"; filters: Filter[] }
  | { op: "not"; filter: Filter };
export type Operation =
  | { op: "create"; collection: string; key?: string; row: Row }
  | { op: "update_by_id"; collection: string; key?: string; id: Key; patch: Row }
  | { op: "destroy_by_id"; collection: string; key?: string; id: Key }
  | { op: "update_where"; collection: string; key?: string; filter: Filter; patch: Row }
  | { op: "destroy_where"; collection: string; key?: string; filter: Filter };
export type Changeset = Operation[];
/** The wasm package of a reducers crate, or its `reduce` function. */
export type WasmReducer = ((event: FluxEvent) => Changeset) | { reduce(event: FluxEvent): Changeset };
export type FieldType = "text" | "integer" | "real" | "boolean" | "json";
export type Schema = Record<string, { key?: string; fields: Record<string, FieldType> }>;
export interface Options {
  /** Check every operation against this schema, as the SQL store does. */
  schema?: Schema;
  /** Apply actions other than the `flux/` ones as local events, for good, not pending (default true). */
  localEvents?: boolean;
  /** The hash function of the divergence check (default: the reducer package's own `changesetHash`). */
  changesetHash?: (changeset: Changeset) => string;
  /**
   * Called (once per committed event, after the reducer returns) when the changeset
   * computed here for a committed event does not hash to the event's `hash`. A
   * `console.warn` says so too.
   */
  onDivergence?: (divergence: Divergence) => void;
}
/** A committed event whose changeset here differs from the one the server applied. */
export interface Divergence {
  event: FluxEvent;
  seq: number;
  id: string;
  /** The server's hash (`event.hash`). */
  expected: string;
  /** The hash of the changeset this client computed. */
  actual: string;
  changeset: Changeset;
}
/** Plain, serializable data about why an event was refused. */
export interface EventError {
  /** The error kind (`duplicate_key`, `rejected`, `forbidden`, `id_conflict`, ...). */
  kind: string;
  message: string;
  /** The HTTP status, when the server answered. */
  status?: number;
}
/**
 * A pending event: applied optimistically until the server commits it (then it
 * leaves the list) or refuses it (`rejected`, with `error`; it stays until dismissed,
 * and is no longer applied). An event still `sending` with an `error` no longer
 * applies on the current confirmed state (another user's event changed what it
 * touches): it is left out of the optimistic state until the server answers.
 */
export interface PendingEvent<E extends FluxEvent = FluxEvent> {
  id: string;
  /** The stamped local event (`id`, provisional `timestamp`, no `seq`). */
  event: E & { id: string; timestamp: string };
  status: "sending" | "rejected";
  error?: EventError;
}
/** A slice or state's pending bookkeeping (present only while events are pending). */
export interface OptimisticMeta<S> {
  confirmed: S;
  pending: PendingEvent[];
}
export interface EntityState<T = Row, Id extends Key = Key> {
  ids: Id[];
  entities: Record<Id, T>;
}
/**
 * A `reduxify` slice: RTK's `EntityState` (so RTK's entity selectors work on it
 * unchanged) plus the seq of the last committed event applied.
 */
export interface CollectionState<T = Row, Id extends Key = Key> extends EntityState<T, Id> {
  /** The seq of the last committed event applied (0: none). Committed events at or below it are skipped. */
  lastSeq: number;
  /** While events are pending: the confirmed state and the pending list (read with the selectors). */
  "flux/optimistic"?: OptimisticMeta<CollectionState<T, Id>>;
  /** Committed events whose changeset here did not hash to the server's; absent until one does (read it with `selectDivergences`). */
  "flux/divergences"?: number;
}
export interface CommittedAction {
  type: "flux/committed";
  payload: FluxEvent[];
  [extra: string]: unknown;
}
export interface AnyAction {
  type: string;
  [extra: string]: unknown;
}
export interface LocalAction<E extends FluxEvent = FluxEvent> {
  type: "flux/local";
  payload: E & { id: string; timestamp: string };
  [extra: string]: unknown;
}
export interface RejectedAction {
  type: "flux/rejected";
  payload: { id: string; error: EventError };
  [extra: string]: unknown;
}
export interface DismissedAction {
  type: "flux/dismissed";
  payload: { id: string };
  [extra: string]: unknown;
}
export declare const COMMITTED: "flux/committed";
export declare const LOCAL: "flux/local";
export declare const REJECTED: "flux/rejected";
export declare const DISMISSED: "flux/dismissed";
export declare function committed(events: FluxEvent[]): CommittedAction;
/**
 * A pending local event: stamped with an `id` (a new UUID v7 unless it has one) and a
 * provisional `timestamp`; applied at once, kept pending until its commit arrives.
 * Throws a TypeError for an event without a string `type` or with a `seq`.
 */
export declare function local<E extends FluxEvent>(event: E): LocalAction<E>;
/** The server refused pending event `id`: it is marked `rejected` with `error` (an Error, an API error, or `EventError`). */
export declare function rejected(id: string, error: unknown): RejectedAction;
/** Removes event `id` from the pending list (a rejected one; or one the server answered without committing any event). */
export declare function dismissed(id: string): DismissedAction;
/** A new UUID version 7 (time-ordered) string. */
export declare function uuidv7(now?: number): string;
/** The pending events of a reduxify slice or reduxifyAll state, oldest first (one stable empty array when none). */
export declare function selectPending(state: object | undefined): PendingEvent[];
/** The confirmed state (the server's committed events only): the state itself when nothing is pending. */
export declare function selectConfirmed<S extends object>(state: S): S;
/**
 * How many committed events applied to a reduxify slice or a reduxifyAll state were
 * divergent (their changeset here did not hash to the server's `hash`); 0 until one
 * is. Kept in the state under `"flux/divergences"` (a plain number: serializable).
 */
export declare function selectDivergences(state: object | undefined): number;
/** The optimistic state without the bookkeeping key (the state itself when nothing is pending; stable per state). */
export declare function selectOptimistic<S extends object>(state: S): S;
export declare function reduxify<T = Row, Id extends Key = string>(
  reducer: WasmReducer,
  collection: string,
  options?: Options,
): (state: CollectionState<T, Id> | EntityState<T, Id> | undefined, action: AnyAction) => CollectionState<T, Id>;
export declare function reduxifyAll(
  reducer: WasmReducer,
  options?: Options,
): (state: Record<string, CollectionState> | undefined, action: AnyAction) => Record<string, CollectionState>;
/**
 * The seq of the last committed event applied to a `reduxify` slice (its
 * `lastSeq`) or to a `reduxifyAll` state; 0 when none. Resume a feed from it:
 * `connectLive({ after: selectLastSeq(store.getState().notes), ... })`.
 */
export declare function selectLastSeq(state: { lastSeq?: number } | Record<string, { lastSeq?: number }> | undefined): number;
export declare function rowsOf<T, Id extends Key>(state: EntityState<T, Id>): T[];
export declare function compareKeys(a: Key, b: Key): number;
export declare function compareStrings(a: string, b: string): number;
export declare function matches(filter: Filter, row: Row): boolean;
export declare function validateOperation(op: Operation, schema?: Schema): void;
export declare class FluxCapacitorError extends Error {
  constructor(kind: string, message: string);
  kind: string;
}
