// The MobX adapter: an observable collection that applies changesets in place.
import { action, makeObservable, observable, remove, set } from "mobx";
import { EntityDraft } from "./apply.js";
import { applyEvents, eventsOf } from "./index.js";

/**
 * An observable collection: `ids` (observable array, key order) and
 * `entities` (observable map id → observable row). `apply(events)` applies a
 * batch in one MobX action (reactions run once), all or nothing, with
 * MemoryDatabase's semantics (the same applier as reduxify).
 */
export class ObservableCollection {
  constructor(reducer, collection, options = {}) {
    this.reducer = reducer;
    this.collection = collection;
    this.schema = options.schema;
    this.state = { ids: [], entities: {} }; // plain shadow, for the shared applier
    this.ids = observable.array([], { deep: false });
    this.entities = observable.map();
    makeObservable(this, { apply: action, dispatch: action });
  }

  /** Applies a batch of (committed or local) events. */
  apply(events) {
    const draft = this.check(events);
    const next = draft.finish();
    if (next === this.state) return;
    for (const id of draft.touched) {
      const row = next.entities[id];
      const current = this.entities.get(id);
      if (row === undefined) this.entities.delete(id);
      else if (current === undefined) this.entities.set(id, row);
      else {
        for (const k of Object.keys(current)) if (!Object.hasOwn(row, k)) remove(current, k);
        for (const k of Object.keys(row)) if (current[k] !== row[k]) set(current, k, row[k]);
      }
    }
    if (next.ids !== this.state.ids) this.ids.replace(next.ids);
    this.state = next;
  }

  /** Runs `events` against the current rows without changing anything; throws what `apply` would throw. */
  check(events) {
    const draft = new EntityDraft(this.state, this.collection);
    applyEvents(this.reducer, events, (name) => (name === this.collection ? draft : null), this.schema);
    return draft;
  }

  /** Applies one action: a `flux/committed` batch or a local event. */
  dispatch(actionOrEvent) {
    const events = eventsOf(actionOrEvent, true);
    if (events) this.apply(events);
  }

  /** Rows in key order, as plain objects. */
  get rows() {
    return this.state.ids.map((id) => this.state.entities[id]);
  }
}

export const observableCollection = (reducer, collection, options) => new ObservableCollection(reducer, collection, options);
