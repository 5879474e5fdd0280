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
  for (const k in row) if (row[k] !== null && row[k] !== undefined) out[k] = row[k];
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
      out[k] = v;
    }
  }
  return out;
}

/**
 * A copy-on-write draft of an EntityState `{ ids, entities }`. Untouched
 * entities keep their identity; `finish()` returns the base when nothing changed.
 */
export class EntityDraft {
  constructor(base, collection) {
    this.base = base ?? { ids: [], entities: {} };
    this.collection = collection;
    this.entities = null; // copy, made on first write
    this.inserted = [];
    this.removed = new Set();
    this.touched = new Set(); // ids written (for in-place adapters)
  }
  get(id) {
    const row = (this.entities ?? this.base.entities)[id];
    return row;
  }
  write(id) {
    this.touched.add(id);
    if (!this.entities) this.entities = Object.assign({}, this.base.entities);
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
        const existing = ents[id];
        if (existing !== undefined) {
          if (existing[key] === id)
            throw new FluxCapacitorError("duplicate_key",
              `collection \`${this.collection}\`: a row with id ${fmtKey(id)} already exists`);
          throw new FluxCapacitorError("key_collision",
            `collection \`${this.collection}\`: EntityState cannot hold both ${fmtKey(existing[key])} and ${fmtKey(id)}`);
        }
        this.write(id)[id] = withoutNulls(op.row);
        if (this.removed.has(id)) this.removed.delete(id); else this.inserted.push(id);
        return;
      }
      case "update_by_id": {
        const row = ents[op.id];
        if (!sameKey(row, op.id)) return;
        const next = merge(row, op.patch);
        if (next !== row) this.write(op.id)[op.id] = next;
        return;
      }
      case "destroy_by_id": {
        if (!sameKey(ents[op.id], op.id)) return;
        this.remove(op.id);
        return;
      }
      case "update_where": {
        for (const row of this.rows().filter((r) => matches(op.filter, r))) {
          const next = merge(row, op.patch);
          if (next !== row) this.write(row[key])[row[key]] = next;
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
    const i = this.inserted.indexOf(id);
    if (i >= 0) this.inserted.splice(i, 1); else this.removed.add(id);
  }
  finish() {
    if (!this.entities) return this.base;
    let ids = this.base.ids;
    if (this.removed.size) ids = ids.filter((id) => !this.removed.has(id));
    if (this.inserted.length) {
      const add = this.inserted.slice().sort(compareKeys);
      const out = [];
      let i = 0, j = 0;
      while (i < ids.length || j < add.length) {
        if (j >= add.length || (i < ids.length && compareKeys(ids[i], add[j]) < 0)) out.push(ids[i++]);
        else out.push(add[j++]);
      }
      ids = out;
    }
    return { ...this.base, ids, entities: this.entities };
  }
}
