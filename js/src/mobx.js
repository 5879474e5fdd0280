// The MobX adapter: an observable collection that applies changesets in place.
import { action, makeObservable, observable, remove, set } from "mobx";
import { eventsOf } from "./actions.js";
import { applyEvents } from "./apply.js";
import { EntityDraft } from "./draft.js";
import { freshEvents } from "./seq.js";

// Up to this many id changes per batch go to `ids` as splices (each O(n) memmove,
// ~0.05 ms at 100,000 ids); more, one replace (~3 ms at 100,000).
const SPLICES = 32;

/**
 * An observable collection: `ids` (observable array, key order) and
 * `entities` (observable map id → observable row). `apply(events)` applies a
 * batch in one MobX action (reactions run once), all or nothing, with
 * MemoryDatabase's semantics (the same applier as reduxify). `lastSeq`
 * (observable) is the seq of the last committed event applied: committed events
 * at or below it are skipped, so overlapping feeds and replays apply nothing twice.
 */
export class ObservableCollection {
  constructor(reducer, collection, options = {}) {
    this.reducer = reducer;
    this.collection = collection;
    this.schema = options.schema;
    this.state = { ids: [], entities: {} }; // plain shadow, for the shared applier (updated in place)
    this.ids = observable.array([], { deep: false });
    this.entities = observable.map();
    this.lastSeq = 0;
    makeObservable(this, { lastSeq: observable, apply: action, dispatch: action });
  }

  /** Applies a batch of (committed or local) events; committed ones at or below `lastSeq` are skipped. */
  apply(batch) {
    const { events, lastSeq } = freshEvents(batch, this.lastSeq);
    if (events.length === 0) return;
    const draft = this.run(events);
    this.lastSeq = lastSeq;
    if (!draft.changed) return;
    const rows = this.state.entities; // already updated in place
    for (const id of draft.touched) {
      const row = Object.hasOwn(rows, id) ? rows[id] : undefined; // "__proto__" when gone would read Object.prototype
      const current = this.entities.get(id);
      if (row === undefined) this.entities.delete(id);
      else if (current === undefined) this.entities.set(id, row);
      else {
        for (const k of Object.keys(current)) if (!Object.hasOwn(row, k)) remove(current, k);
        for (const k of Object.keys(row)) if (current[k] !== row[k]) set(current, k, row[k]);
      }
    }
    if (!draft.removed.size && !draft.inserted.size) return;
    const { removed, added, at } = draft.idChanges();
    if (removed.length + added.length > SPLICES) {
      // many changes: one O(n) pass beats many O(n) splices
      const ids = draft.nextIds();
      this.state.ids = ids;
      this.ids.replace(ids);
      return;
    }
    // from the end, so earlier indexes stay valid; at one index, the removal first
    const ids = this.state.ids;
    for (let r = removed.length - 1, a = added.length - 1; r >= 0 || a >= 0;) {
      if (r >= 0 && (a < 0 || removed[r] >= at[a])) {
        ids.splice(removed[r], 1);
        this.ids.splice(removed[r--], 1);
      } else {
        ids.splice(at[a], 0, added[a]);
        this.ids.splice(at[a], 0, added[a--]);
      }
    }
  }

  /** Runs `events` against the current rows without changing anything; throws what `apply` would throw. */
  check(batch) {
    this.run(freshEvents(batch, this.lastSeq).events).rollback();
  }

  /** Applies `events` to the plain shadow in place; on any error puts it back and throws. */
  run(events) {
    const draft = new EntityDraft(this.state, this.collection, { inPlace: true });
    try {
      applyEvents(this.reducer, events, (name) => (name === this.collection ? draft : null), this.schema);
    } catch (err) {
      draft.rollback();
      throw err;
    }
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
