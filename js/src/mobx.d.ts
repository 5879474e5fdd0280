import type { IObservableArray, ObservableMap } from "mobx";
import type { AnyAction, FluxEvent, Key, Options, Row, WasmReducer } from "./index.js";
export declare class ObservableCollection<T = Row> {
  constructor(reducer: WasmReducer, collection: string, options?: Options);
  readonly collection: string;
  readonly ids: IObservableArray<Key>;
  readonly entities: ObservableMap<Key, T>;
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
