// MemoryDatabase's rules in JS (reducers/src: key.rs, filter.rs, validate.rs): the order
// of keys and values, filters, and the checks of an operation that do not depend on the
// rows present, with the same error kinds. Kept in step with Rust by the conformance
// suite and the fuzzer (test/conformance.test.js, test/differential.test.js).

/** The error of a rejected changeset; `kind` is MemoryDatabase's stable error kind. */
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

// A row's field, own properties only: a row without `constructor` or `toString`
// has no such field, whatever Object.prototype holds.
const field = (row, name) => (Object.hasOwn(row, name) ? row[name] : undefined);

function compares(row, name, value, holds) {
  const f = field(row, name);
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
    case "is_null": { const f = field(row, filter.field); return f === undefined || f === null; }
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
  const v = field(row, keyField);
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
    const table = Object.hasOwn(schema, collection) ? schema[collection] : undefined;
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
