// flux-capacitor/rxjs: the state of a store's collections as RxJS observables, with
// the same semantics as reduxify (committed batches, pending local events, rejection,
// divergence check), and the live feed as an observable of committed batches.
import { BehaviorSubject, Observable, distinctUntilChanged, map } from "rxjs";
import { committed } from "./actions.js";
import { connectLive } from "./feed.js";
import { reduxify, reduxifyAll } from "./redux.js";
import { selectConfirmed, selectOptimistic, selectPending } from "./selectors.js";

/**
 * A state container over the wasm reducers: `state$` (the current state on
 * subscription, then each new one), `dispatch(action)` (the actions of reduxify:
 * `committed(events)`, `local(event)`, `rejected(id, error)`, `dismissed(id)`;
 * throws on a reducer error and the state stays), `pending$`, `confirmed$`,
 * `optimistic$`. With `options.collection`, the state is that collection's
 * `CollectionState` (reduxify); else every collection's (reduxifyAll).
 */
export function fluxState(reducer, options = {}) {
  const { collection, ...rest } = options;
  const step = collection === undefined ? reduxifyAll(reducer, rest) : reduxify(reducer, collection, rest);
  const subject = new BehaviorSubject(step(undefined, { type: "@@flux-capacitor/INIT" }));
  const state$ = subject.asObservable();
  const select = (selector) => state$.pipe(map(selector), distinctUntilChanged());
  return {
    state$,
    pending$: select(selectPending),
    confirmed$: select(selectConfirmed),
    optimistic$: select(selectOptimistic),
    getState: () => subject.getValue(),
    dispatch(action) {
      if (subject.closed || subject.isStopped) throw new Error("fluxState: completed");
      const next = step(subject.getValue(), action); // throws: the state stays, subscribers see nothing
      if (next !== subject.getValue()) subject.next(next);
      return action;
    },
    /** Completes every observable. */
    complete: () => subject.complete(),
  };
}

/**
 * The live feed as a cold observable of committed batches: each subscription opens
 * its own `connectLive` connection (the same options, minus `onEvents`), closed on
 * unsubscribe. Errors of the feed go to `options.onError` (default: the
 * observable's error, which also closes it).
 */
export function liveEvents(options) {
  return new Observable((subscriber) => {
    const live = connectLive({
      ...options,
      onEvents: (batch) => subscriber.next(batch),
      onError: options.onError ?? ((err) => subscriber.error(err)),
    });
    return () => live.close();
  });
}

/** `batches$` into `state.dispatch` as `committed` actions; returns the Subscription. A failing batch goes to `onError` (default: thrown as uncaught). */
export function follow(state, batches$, onError) {
  return batches$.subscribe({
    next: (batch) => {
      try {
        state.dispatch(committed(batch));
      } catch (err) {
        if (onError) onError(err);
        else queueMicrotask(() => { throw err; });
      }
    },
    error: (err) => {
      if (onError) onError(err);
      else queueMicrotask(() => { throw err; });
    },
  });
}
