// Plain objects used as maps (rows, and `entities` keyed by id): any string is a key,
// `__proto__` included, as in Rust's maps; nothing is read from Object.prototype.

/**
 * `obj[k] = v` for any own key: a key named `__proto__` (a valid row key or
 * field, as in Rust) becomes an own property instead of changing the prototype.
 */
export function put(obj, k, v) {
  if (k === "__proto__") Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

/** `obj[k]` if `obj` has it as its own property (never `Object.prototype`'s members). */
export const own = (obj, k) => (Object.hasOwn(obj, k) ? obj[k] : undefined);

/**
 * A shallow copy of `src` with Object.assign's result (own enumerable keys, in
 * order). A loop over Object.keys is several times faster than Object.assign or a
 * spread for the large dictionary-mode objects entity maps are (V8).
 */
export function copy(src) {
  const out = {};
  const keys = Object.keys(src);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    put(out, k, src[k]);
  }
  for (const s of Object.getOwnPropertySymbols(src)) if (Object.prototype.propertyIsEnumerable.call(src, s)) out[s] = src[s];
  return out;
}
