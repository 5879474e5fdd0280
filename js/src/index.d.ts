/** An event on the wire (Flux Standard Action); stored events add id, seq, timestamp. */
export interface FluxEvent<P = unknown> {
  type: string;
  payload?: P;
  meta?: unknown;
  error?: boolean;
  id?: string;
  seq?: number;
  timestamp?: string;
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
  /** Apply actions other than `flux/committed` as local events (default true). */
  localEvents?: boolean;
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
export declare const COMMITTED: "flux/committed";
export declare function committed(events: FluxEvent[]): CommittedAction;
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
