// flux-capacitor: apply the changesets of wasm-compiled reducers in Redux.
// Only re-exports, exactly what index.d.ts declares (test/exports.test.js checks it).

export { COMMITTED, committed } from "./actions.js";
export { DISMISSED, LOCAL, REJECTED, dismissed, local, rejected } from "./pending.js";
export { reduxify, reduxifyAll, rowsOf } from "./redux.js";
export { selectConfirmed, selectDivergences, selectOptimistic, selectPending } from "./selectors.js";
export { selectLastSeq } from "./seq.js";
export { uuidv7 } from "./uuid.js";
export { FluxCapacitorError, compareKeys, compareStrings, matches, validateOperation } from "./semantics.js";
