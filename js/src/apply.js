// Applies changesets with exactly MemoryDatabase's semantics (reducers/src/memory.rs).

export class FluxCapacitorError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "FluxCapacitorError";
    this.kind = kind;
  }
}

const isScalar = (v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
const isKey = (v) => typeof v === "string" || Number.isSafeInteger(v);
const json = (v) => JSON.stringify(v);
const fmtKey = (k) => (typeof k === "string" ? JSON.stringify(k) : String(k));

/** Strings by code point (JS `<` compares UTF-16 code units). */
export function compareStrings(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        const sx = x <= 0xdfff, sy = y <= 0xdfff;
        if (sx !== sy) return sx ? 1 : -1;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : 1;
}

/** Key order: integers (numerically) before strings (by code point). */
export function compareKeys(a, b) {
  const na = typeof a === "number", nb = typeof b === "number";
  if (na && nb) return a < b ? -1 : a > b ? 1 : 0;
  if (na !== nb) return na ? -1 : 1;
  return compareStrings(a, b);
}

function compareScalars(a, b) {
  if (typeof a !== typeof b || !isScalar(a)) return undefined;
  if (typeof a === "string") return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function compares(row, field, value, holds) {
  const f = row[field];
  if (f === undefined || f === null) return false;
  const o = compareScalars(f, value);
  return o !== undefined && holds(o);
}

export function validateFilter(filter) {
  const check = (field, v) => {
    const reason = v === null || v === undefined ? "cannot compare with null; use is_null"
      : Array.isArray(v) ? "cannot compare with an array" : typeof v === "object" ? "cannot compare with an object" : null;
    if (reason) throw new FluxCapacitorError("invalid_filter", `invalid filter on field \`${field}\`: ${reason}`);
  };
  switch (filter.op) {
    case "eq": case "ne": case "lt": case "lte": case "gt": case "gte": return check(filter.field, filter.value);
    case "in": return filter.values.forEach((v) => check(filter.field, v));
    case "is_null": return;
    case "and": case "or": return filter.filters.forEach(validateFilter);
    case "not": return validateFilter(filter.filter);
    default: throw new FluxCapacitorError("invalid_filter", `unknown filter op ${json(filter.op)}`);
  }
}

export function matches(filter, row) {
  switch (filter.op) {
    case "eq": return compares(row, filter.field, filter.value, (o) => o === 0);
    case "ne": return !compares(row, filter.field, filter.value, (o) => o === 0);
    case "lt": return compares(row, filter.field, filter.value, (o) => o < 0);
    case "lte": return compares(row, filter.field, filter.value, (o) => o <= 0);
    case "gt": return compares(row, filter.field, filter.value, (o) => o > 0);
    case "gte": return compares(row, filter.field, filter.value, (o) => o >= 0);
    case "in": return filter.values.some((v) => compares(row, filter.field, v, (o) => o === 0));
    case "is_null": return row[filter.field] === undefined || row[filter.field] === null;
    case "and": return filter.filters.every((f) => matches(f, row));
    case "or": return filter.filters.some((f) => matches(f, row));
    case "not": return !matches(filter.filter, row);
  }
  return false;
}

function filterFields(filter, out = []) {
  if (filter.op === "and" || filter.op === "or") filter.filters.forEach((f) => filterFields(f, out));
  else if (filter.op === "not") filterFields(filter.filter, out);
  else out.push(filter.field);
  return out;
}

const TYPES = {
  text: (v) => typeof v === "string",
  integer: (v) => Number.isSafeInteger(v),
  real: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  json: () => true,
};

function rowKey(collection, keyField, row) {
  const v = row[keyField];
  if (v === undefined || v === null)
    throw new FluxCapacitorError("missing_key", `collection \`${collection}\`: the row has no key field \`${keyField}\``);
  if (!isKey(v))
    throw new FluxCapacitorError("invalid_key",
      `collection \`${collection}\`: key field \`${keyField}\` must be a string or an integer, got ${json(v)}`);
  return v;
}

/** Operation::validate: every check that does not depend on the rows present. */
export function validateOperation(op, schema) {
  const { collection } = op;
  const key = op.key ?? "id";
  if (op.op === "update_where" || op.op === "destroy_where") validateFilter(op.filter);
  if (schema) {
    const table = schema[collection];
    if (!table) throw new FluxCapacitorError("unknown_collection", `unknown collection \`${collection}\``);
    const tkey = table.key ?? "id";
    if (tkey !== key)
      throw new FluxCapacitorError("key_field_mismatch",
        `collection \`${collection}\`: the key field is \`${tkey}\`, the changeset uses \`${key}\``);
    const fieldType = (field) => {
      const t = table.fields[field];
      if (!Object.hasOwn(table.fields, field))
        throw new FluxCapacitorError("unknown_field", `collection \`${collection}\`: unknown field \`${field}\``);
      return t;
    };
    const checkValue = (field, value) => {
      const t = fieldType(field);
      if (value !== null && !TYPES[t](value))
        throw new FluxCapacitorError("type_mismatch",
          `collection \`${collection}\`: field \`${field}\` expects ${t}, got ${json(value)}`);
    };
    const checkRow = (row) => Object.keys(row).forEach((f) => checkValue(f, row[f]));
    const checkFilter = (filter) => filterFields(filter).forEach((f) => {
      if (fieldType(f) === "json")
        throw new FluxCapacitorError("invalid_filter", `invalid filter on field \`${f}\`: cannot filter on a json field`);
    });
    switch (op.op) {
      case "create": checkRow(op.row); break;
      case "update_by_id": checkValue(tkey, op.id); checkRow(op.patch); break;
      case "destroy_by_id": checkValue(tkey, op.id); break;
      case "update_where": checkFilter(op.filter); checkRow(op.patch); break;
      case "destroy_where": checkFilter(op.filter); break;
    }
  }
  const keyChange = () => new FluxCapacitorError("key_change",
    `collection \`${collection}\`: the key field \`${key}\` cannot be changed by an update`);
  switch (op.op) {
    case "create": rowKey(collection, key, op.row); break;
    case "update_by_id": if (Object.hasOwn(op.patch, key) && op.patch[key] !== op.id) throw keyChange(); break;
    case "update_where": if (Object.hasOwn(op.patch, key)) throw keyChange(); break;
    case "destroy_by_id": case "destroy_where": break;
    default: throw new FluxCapacitorError("invalid_changeset", `unknown operation ${json(op.op)}`);
  }
}

function withoutNulls(row) {
  const out = {};
  for (const k in row) if (row[k] !== null && row[k] !== undefined) put(out, k, row[k]);
  return out;
}

/** The merged row, or the same row when the patch changes nothing. */
function merge(row, patch) {
  let out = row;
  for (const k in patch) {
    const v = patch[k];
    if (v === null || v === undefined) {
      if (Object.hasOwn(out, k)) { if (out === row) out = { ...row }; delete out[k]; }
    } else if (out[k] !== v || !Object.hasOwn(out, k)) {
      if (out === row) out = { ...row };
      put(out, k, v);
    }
  }
  return out;
}

/**
 * A shallow copy of `entities` with Object.assign's result (own enumerable keys, in
 * order). A loop over Object.keys is several times faster than Object.assign or a
 * spread for the large dictionary-mode objects entity maps are (V8).
 */
/**
 * `obj[k] = v` for any own key: a key named `__proto__` (a valid row key or
 * field, as in Rust) becomes an own property instead of changing the prototype.
 */
function put(obj, k, v) {
  if (k === "__proto__") Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

/** `obj[k]` if `obj` has it as its own property (never `Object.prototype`'s members). */
const own = (obj, k) => (Object.hasOwn(obj, k) ? obj[k] : undefined);

function copyEntities(src) {
  const out = {};
  const keys = Object.keys(src);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    put(out, k, src[k]);
  }
  for (const s of Object.getOwnPropertySymbols(src)) if (Object.prototype.propertyIsEnumerable.call(src, s)) out[s] = src[s];
  return out;
}

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
  get(id) {
    return own(this.entities ?? this.base.entities, propertyKey(id));
  }
  write(id) {
    this.touched.add(id);
    if (this.inPlace) {
      const e = this.entities, k = propertyKey(id);
      if (!this.undo.has(k)) this.undo.set(k, Object.hasOwn(e, k) ? e[k] : ABSENT);
      return e;
    }
    if (!this.entities) this.entities = copyEntities(this.base.entities);
    return this.entities;
  }
  rows() {
    return Object.values(this.entities ?? this.base.entities);
  }
  apply(op) {
    const key = op.key ?? "id";
    const ents = this.entities ?? this.base.entities;
    const sameKey = (row, id) => row !== undefined && row[key] === id;
    switch (op.op) {
      case "create": {
        const id = op.row[key];
        const existing = own(ents, propertyKey(id));
        if (existing !== undefined) {
          if (existing[key] === id)
            throw new FluxCapacitorError("duplicate_key",
              `collection \`${this.collection}\`: a row with id ${fmtKey(id)} already exists`);
          throw new FluxCapacitorError("key_collision",
            `collection \`${this.collection}\`: EntityState cannot hold both ${fmtKey(existing[key])} and ${fmtKey(id)}`);
        }
        put(this.write(id), propertyKey(id), withoutNulls(op.row));
        if (this.removed.has(id)) this.removed.delete(id); else this.inserted.add(id);
        return;
      }
      case "update_by_id": {
        const row = own(ents, propertyKey(op.id));
        if (!sameKey(row, op.id)) return;
        const next = merge(row, op.patch);
        if (next !== row) put(this.write(op.id), propertyKey(op.id), next);
        return;
      }
      case "destroy_by_id": {
        if (!sameKey(own(ents, propertyKey(op.id)), op.id)) return;
        this.remove(op.id);
        return;
      }
      case "update_where": {
        for (const row of this.rows().filter((r) => matches(op.filter, r))) {
          const next = merge(row, op.patch);
          if (next !== row) put(this.write(row[key]), propertyKey(row[key]), next);
        }
        return;
      }
      case "destroy_where": {
        for (const row of this.rows().filter((r) => matches(op.filter, r))) this.remove(row[key]);
        return;
      }
    }
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
