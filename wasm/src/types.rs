//! The TypeScript types of what a reducers package exports.
//!
//! `export_reducer!` puts [`TYPESCRIPT`] into the package's `.d.ts` and types
//! `reduce(event: FluxEvent): Changeset` and `reduceBatch(events: FluxEvent[]):
//! Changeset[]` with it, instead of wasm-bindgen's `any`. The declarations are
//! the same as the `flux-capacitor` npm package's (`js/src/index.d.ts`), so the
//! package is a `WasmReducer` there; `js/test/types` checks that with `tsc`.

use wasm_bindgen::prelude::wasm_bindgen;

// In every package that links this crate: `export_reducer!` cannot emit it
// (wasm-bindgen 0.2.130 ignores `wasm_bindgen = path` on a custom section, and a
// user's crate need not depend on wasm-bindgen directly).
#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_SECTION: &str = TYPESCRIPT;

/// TypeScript declarations of an event and a changeset, appended to the
/// package's `.d.ts`.
pub const TYPESCRIPT: &str = r#"
/** An event: a Flux Standard Action; a stored event adds `id`, `seq` and `timestamp`. */
export interface FluxEvent<P = unknown> {
  type: string;
  payload?: P;
  meta?: unknown;
  error?: boolean;
  id?: string;
  seq?: number;
  timestamp?: string;
}
export type Key = string | number;
export type Row = Record<string, unknown>;
export type Filter =
  | { op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte"; field: string; value: string | number | boolean }
  | { op: "in"; field: string; values: Array<string | number | boolean> }
  | { op: "is_null"; field: string }
  | { op: "and" | "or"; filters: Filter[] }
  | { op: "not"; filter: Filter };
/** One operation of a changeset; `key` is the key field when it is not `id`. */
export type Operation =
  | { op: "create"; collection: string; key?: string; row: Row }
  | { op: "update_by_id"; collection: string; key?: string; id: Key; patch: Row }
  | { op: "destroy_by_id"; collection: string; key?: string; id: Key }
  | { op: "update_where"; collection: string; key?: string; filter: Filter; patch: Row }
  | { op: "destroy_where"; collection: string; key?: string; filter: Filter };
/** What a reducer returns for an event: operations, in order. */
export type Changeset = Operation[];
"#;
