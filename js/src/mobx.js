// The MobX adapter: an observable collection that applies changesets in place, and
// keeps the client's own events pending (optimistic) over the confirmed rows.
import * as mobx from "mobx";
import { eventsOf } from "./actions.js";
import { applyEvents } from "./apply.js";
import { own } from "./dict.js";
import { verifier } from "./divergence.js";
import { EntityDraft } from "./draft.js";
import {
  DISMISSED, LOCAL, NO_PENDING, REJECTED, entryOf, errorInfo, markRejected, rebase, stampLocal,
  withoutCommitted, withoutEntry,
} from "./pending.js";
import { freshEvents } from "./seq.js";

const { action, makeObservable, observable, remove, set } = mobx;
// The reference-only annotation: `observable.ref` in MobX 6, `observableRef` in MobX 7.
const observableRef = observable.ref ?? mobx.observableRef;

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
 *
 * `local(event)` applies an event optimistically and keeps it in `pending` until a
 * committed batch brings its id (or `reject(id, error)` marks it rejected): `ids`
 * and `entities` show the confirmed rows plus the pending events re-applied in
 * order; `confirmed` holds the confirmed rows alone.
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
    /** Pending events, oldest first (observable; replaced, never mutated). */
    this.pending = NO_PENDING;
    /** Committed events whose changeset here did not hash to the server's (observable count). */
    this.divergences = 0;
    this.confirmedState = null; // while events are pending: the confirmed rows (copy-on-write)
    this.verify = verifier(reducer, options, () => this.divergences++);
    makeObservable(this, {
      lastSeq: observable, pending: observableRef, divergences: observable,
      apply: action, dispatch: action, local: action, reject: action, dismiss: action,
    });
  }

  /** The confirmed rows alone (plain `{ ids, entities }`; the visible ones when nothing is pending). Do not mutate. */
  get confirmed() {
    return this.confirmedState ?? this.state;
  }

  /** Applies a batch of (committed or local) events; committed ones at or below `lastSeq` are skipped. */
  apply(batch) {
    if (this.confirmedState) {
      this.applyUnderPending(batch);
      return;
    }
    const { events, lastSeq } = freshEvents(batch, this.lastSeq);
    if (events.length === 0) return;
    const draft = this.run(events, this.verify);
    this.lastSeq = lastSeq;
    if (!draft.changed) return;
    const rows = this.state.entities; // already updated in place
    for (const id of draft.touched) this.showRow(id, Object.hasOwn(rows, id) ? rows[id] : undefined); // "__proto__" when gone would read Object.prototype
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

  /** Runs `events` against the confirmed rows without changing anything; throws what `apply` would throw. */
  check(batch) {
    const events = freshEvents(batch, this.lastSeq).events;
    if (this.confirmedState) this.derive(this.confirmedState, events);
    else this.run(events).rollback();
  }

  /** Applies `events` to the plain shadow in place; on any error puts it back and throws. */
  run(events, verify) {
    const draft = new EntityDraft(this.state, this.collection, { inPlace: true });
    try {
      applyEvents(this.reducer, events, (name) => (name === this.collection ? draft : null), this.schema, verify);
    } catch (err) {
      draft.rollback();
      throw err;
    }
    return draft;
  }

  /** `state` with `events` applied, copy-on-write (`state` untouched); throws on any error. */
  derive(state, events, verify) {
    const draft = new EntityDraft(state, this.collection);
    applyEvents(this.reducer, events, (name) => (name === this.collection ? draft : null), this.schema, verify);
    return draft.finish();
  }

  /**
   * Applies `event` at once and keeps it pending until its commit arrives. Stamps
   * it (an `id`, a UUID v7 unless it has one, and a provisional `timestamp`) and
   * returns the stamped event. A reducer error throws, and nothing changes.
   */
  local(event) {
    const stamped = stampLocal(event);
    // Already pending (a second client over the same stored queue, e.g. a remount): once is enough.
    if (this.pending.some((p) => p.id === stamped.id)) return stamped;
    const visible = this.derive(this.state, [stamped]); // throws: nothing is pending
    if (!this.confirmedState) this.confirmedState = this.state; // from now on copy-on-write
    this.pending = [...this.pending, entryOf(stamped)];
    this.show(visible);
    return stamped;
  }

  /** Marks pending event `id` rejected with `error` (left out of the rows, kept in `pending` until dismissed). */
  reject(id, error) {
    if (!this.confirmedState) return;
    this.settle(this.confirmedState, markRejected(this.pending, String(id), errorInfo(error)));
  }

  /** Removes event `id` from `pending` (a rejected one, or one the server answered without committing anything). */
  dismiss(id) {
    if (!this.confirmedState) return;
    this.settle(this.confirmedState, withoutEntry(this.pending, String(id)));
  }

  /** A batch while events are pending: onto the confirmed rows, then the pending ones again. */
  applyUnderPending(batch) {
    const { events, lastSeq } = freshEvents(batch, this.lastSeq);
    const confirmed = events.length ? this.derive(this.confirmedState, events, this.verify) : this.confirmedState;
    this.lastSeq = lastSeq;
    this.settle(confirmed, batch.some((e) => typeof e?.seq === "number") ? withoutCommitted(this.pending, batch) : this.pending);
  }

  /** Shows `confirmed` plus `pending` re-applied (never throws: see pending.js `rebase`). */
  settle(confirmed, pending) {
    if (pending.length === 0) {
      this.confirmedState = null; // in place again: nothing else holds `confirmed`
      this.pending = NO_PENDING;
      this.show(confirmed);
      return;
    }
    const rebased = rebase(confirmed, pending, (state, events) => this.derive(state, events));
    this.confirmedState = confirmed;
    this.pending = rebased.pending;
    this.show(rebased.state);
  }

  /** Makes the observables show plain state `next` (rows compared by identity: O(rows)). */
  show(next) {
    const prev = this.state;
    if (prev === next) return;
    this.state = next;
    if (prev.entities !== next.entities) {
      const kept = new Set(next.ids);
      for (const id of prev.ids) if (!kept.has(id)) this.entities.delete(id);
      for (const id of next.ids) {
        const row = own(next.entities, String(id));
        if (row !== own(prev.entities, String(id))) this.showRow(id, row);
      }
    }
    if (prev.ids !== next.ids) this.ids.replace(next.ids);
  }

  /** Makes `entities` show `row` under `id` (undefined: none), updating an observable row in place. */
  showRow(id, row) {
    const current = this.entities.get(id);
    if (row === undefined) this.entities.delete(id);
    else if (current === undefined) this.entities.set(id, row);
    else {
      for (const k of Object.keys(current)) if (!Object.hasOwn(row, k)) remove(current, k);
      for (const k of Object.keys(row)) if (current[k] !== row[k]) set(current, k, row[k]);
    }
  }

  /** Applies one action: a `flux/committed` batch, `flux/local`, `flux/rejected`, `flux/dismissed`, or a local event. */
  dispatch(actionOrEvent) {
    switch (actionOrEvent?.type) {
      case LOCAL:
        this.local(actionOrEvent.payload);
        return;
      case REJECTED:
        this.reject(actionOrEvent.payload.id, actionOrEvent.payload.error);
        return;
      case DISMISSED:
        this.dismiss(actionOrEvent.payload.id);
        return;
    }
    const events = eventsOf(actionOrEvent, true);
    if (events) this.apply(events);
  }

  /** Rows in key order, as plain objects. */
  get rows() {
    return this.state.ids.map((id) => this.state.entities[id]);
  }
}

export const observableCollection = (reducer, collection, options) => new ObservableCollection(reducer, collection, options);
