import type { IObservableArray, ObservableMap } from "mobx";
import type { AnyAction, FluxEvent, Key, Options, Row, WasmReducer } from "./index.js";
export declare class ObservableCollection<T = Row> {
  constructor(reducer: WasmReducer, collection: string, options?: Options);
  readonly collection: string;
  readonly ids: IObservableArray<Key>;
  readonly entities: ObservableMap<Key, T>;
  /** The seq of the last committed event applied (observable; 0: none). Committed events at or below it are skipped. */
  readonly lastSeq: number;
  apply(events: FluxEvent[]): void;
  check(events: FluxEvent[]): void;
  dispatch(action: AnyAction | FluxEvent): void;
  readonly rows: T[];
}
export declare function observableCollection<T = Row>(
  reducer: WasmReducer,
  collection: string,
  options?: Options,
): ObservableCollection<T>;
