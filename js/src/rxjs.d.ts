import type { Observable, Subscription } from "rxjs";
import type { AnyAction, CollectionState, FluxEvent, Options, PendingEvent, WasmReducer } from "./index.js";
import type { LiveOptions } from "./live.js";

export interface FluxStateOptions extends Options {
  /** One collection (`reduxify`'s state); default: every collection (`reduxifyAll`'s). */
  collection?: string;
}

export interface FluxState<S> {
  /** The (optimistic) state: the current one on subscription, then each new one. */
  readonly state$: Observable<S>;
  /** The pending events, on each change. */
  readonly pending$: Observable<PendingEvent[]>;
  /** The confirmed state (the server's committed events only), on each change. */
  readonly confirmed$: Observable<S>;
  /** The optimistic state without the bookkeeping key, on each change. */
  readonly optimistic$: Observable<S>;
  getState(): S;
  /** `committed(events)`, `local(event)`, `rejected(id, error)`, `dismissed(id)`: throws on a reducer error (the state stays). */
  dispatch<A extends AnyAction>(action: A): A;
  complete(): void;
}

export declare function fluxState<T = Record<string, unknown>>(
  reducer: WasmReducer,
  options: FluxStateOptions & { collection: string },
): FluxState<CollectionState<T, string>>;
export declare function fluxState(reducer: WasmReducer, options?: FluxStateOptions): FluxState<Record<string, CollectionState>>;

/** The live feed as a cold observable of committed batches (one connection per subscription, closed on unsubscribe). */
export declare function liveEvents<E extends FluxEvent = FluxEvent>(options: Omit<LiveOptions<E>, "onEvents">): Observable<E[]>;

/** Dispatches each batch of `batches$` into `state` as `committed(batch)`. */
export declare function follow(state: FluxState<unknown>, batches$: Observable<FluxEvent[]>, onError?: (error: unknown) => void): Subscription;
