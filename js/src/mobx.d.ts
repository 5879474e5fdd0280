import type { IObservableArray, ObservableMap } from "mobx";
import type { AnyAction, EntityState, FluxEvent, Key, Options, PendingEvent, Row, WasmReducer } from "./index.js";
export declare class ObservableCollection<T = Row> {
  constructor(reducer: WasmReducer, collection: string, options?: Options);
  readonly collection: string;
  /** The visible ids (key order): confirmed rows plus pending events. */
  readonly ids: IObservableArray<Key>;
  /** The visible rows (confirmed plus pending events), updated in place. */
  readonly entities: ObservableMap<Key, T>;
  /** The seq of the last committed event applied (observable; 0: none). Committed events at or below it are skipped. */
  readonly lastSeq: number;
  /** Pending events, oldest first (observable; a new array on each change). */
  readonly pending: readonly PendingEvent[];
  /** Committed events whose changeset here did not hash to the server's `hash` (observable). */
  readonly divergences: number;
  /** The confirmed rows alone, plain (the visible ones when nothing is pending). Do not mutate. */
  readonly confirmed: EntityState<T>;
  apply(events: FluxEvent[]): void;
  check(events: FluxEvent[]): void;
  /** Applies `event` at once, pending until its commit arrives; returns it stamped (id, provisional timestamp). Throws on a reducer error (nothing pending then). */
  local<E extends FluxEvent>(event: E): E & { id: string; timestamp: string };
  /** Marks pending event `id` rejected (no longer applied; kept until dismissed). */
  reject(id: string, error: unknown): void;
  /** Removes event `id` from `pending` (a rejected one, or one the server answered without committing any event). */
  dismiss(id: string): void;
  /** A `flux/committed` batch, `flux/local`, `flux/rejected`, `flux/dismissed`, or a local event applied for good. */
  dispatch(action: AnyAction | FluxEvent): void;
  readonly rows: T[];
}
export declare function observableCollection<T = Row>(
  reducer: WasmReducer,
  collection: string,
  options?: Options,
): ObservableCollection<T>;
