// EntityDraft: a draft of RTK's EntityState `{ ids, entities }` (ids in key order) that
// a changeset is applied to. A container only: what an operation means is in apply.js.
import { copy, own, put } from "./dict.js";
import { compareKeys } from "./semantics.js";

/** The first index of the key-ordered `ids` (from `lo`) whose id is not before `id`. */
function lowerBound(ids, id, lo = 0) {
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(ids[mid], id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const ABSENT = Symbol("absent");
/** How `entities[id]` names its property. */
const propertyKey = (id) => (typeof id === "string" ? id : String(id));

/**
 * A draft of an EntityState `{ ids, entities }` (ids in key order).
 *
 * Copy-on-write (the default, for Redux): the first write copies `entities`
 * once per batch; untouched entities keep their identity; `finish()` returns
 * the base when nothing changed, otherwise a new state.
 *
 * In place (`{ inPlace: true }`, for a mutable shadow such as the MobX
 * adapter's): writes go straight into `base.entities`, with an undo log;
 * `rollback()` restores it exactly, `idChanges()` says where `ids` changes.
 */
export class EntityDraft {
  constructor(base, collection, options) {
    this.base = base ?? { ids: [], entities: {} };
    this.collection = collection;
    this.inPlace = !!options?.inPlace;
    this.entities = this.inPlace ? this.base.entities : null; // copy-on-write: made on first write
    this.undo = this.inPlace ? new Map() : null; // property key -> the row before, or ABSENT
    this.inserted = new Set(); // ids not in base.ids
    this.removed = new Set(); // ids of base.ids
    this.touched = new Set(); // ids written (for in-place adapters)
  }
  /** The row stored under `id`'s property key: for `1`, possibly the row of `"1"`. */
  get(id) {
    return own(this.entities ?? this.base.entities, propertyKey(id));
  }
  /** The entities to write `id` into (copied on the first write, or logged for undo). */
  write(id) {
    this.touched.add(id);
    if (this.inPlace) {
      const e = this.entities, k = propertyKey(id);
      if (!this.undo.has(k)) this.undo.set(k, Object.hasOwn(e, k) ? e[k] : ABSENT);
      return e;
    }
    if (!this.entities) this.entities = copy(this.base.entities);
    return this.entities;
  }
  rows() {
    return Object.values(this.entities ?? this.base.entities);
  }
  /** Adds the row of an id that has none. */
  insert(id, row) {
    put(this.write(id), propertyKey(id), row);
    if (this.removed.has(id)) this.removed.delete(id); else this.inserted.add(id);
  }
  /** Replaces the row of an id that has one. */
  replace(id, row) {
    put(this.write(id), propertyKey(id), row);
  }
  remove(id) {
    delete this.write(id)[id];
    if (this.inserted.has(id)) this.inserted.delete(id); else this.removed.add(id);
  }
  /** Whether anything was written. */
  get changed() {
    return this.touched.size > 0;
  }
  /**
   * Where `base.ids` changes: `removed`, ascending indexes into base.ids;
   * `added`, the new ids in key order, each inserted before base.ids[`at[i]`].
   * Binary searches, not a scan: O((removed + added) log n).
   */
  idChanges() {
    const ids = this.base.ids;
    const removed = [];
    for (const id of this.removed) {
      let i = lowerBound(ids, id);
      if (ids[i] !== id) i = ids.indexOf(id); // ids not in key order: still exact
      if (i >= 0) removed.push(i);
    }
    removed.sort((a, b) => a - b);
    const added = [...this.inserted].sort(compareKeys);
    const at = new Array(added.length);
    let lo = 0;
    for (let j = 0; j < added.length; j++) at[j] = lo = lowerBound(ids, added[j], lo);
    return { removed, added, at };
  }
  /** The new ids (a new array), or base.ids when no id was added or removed. */
  nextIds() {
    const ids = this.base.ids;
    if (!this.removed.size && !this.inserted.size) return ids;
    const { removed, added, at } = this.idChanges();
    const out = [];
    const n = ids.length;
    let i = 0, r = 0, a = 0;
    while (a < added.length || r < removed.length) {
      const pa = a < added.length ? at[a] : n + 1, pr = r < removed.length ? removed[r] : n + 1;
      if (pa <= pr) {
        while (i < pa) out.push(ids[i++]);
        out.push(added[a++]);
      } else {
        while (i < pr) out.push(ids[i++]);
        if (i === pr) i++;
        r++;
      }
    }
    while (i < n) out.push(ids[i++]);
    return out;
  }
  /** In place: puts `base.entities` back as it was. */
  rollback() {
    if (!this.inPlace) return;
    const e = this.entities;
    for (const [k, row] of this.undo) {
      if (row === ABSENT) delete e[k];
      else put(e, k, row);
    }
    this.undo.clear();
  }
  finish() {
    if (!this.entities || this.inPlace) return this.base;
    return { ...this.base, ids: this.nextIds(), entities: this.entities };
  }
}
