// flux-capacitor/testing: scenario/snapshot tests of your reducers' wasm package.
import type { FluxEvent, Row, Schema, WasmReducer } from "./index.js";

/** `"ok"` or an error kind (`"invalid_payload"`, `"duplicate_key"`, ...). */
export type Outcome = string;

/** One event of a scenario: an FSA, optionally with the outcome it must have. */
export interface ScenarioEvent extends FluxEvent {
  expect?: Outcome;
}

/** A scenario file (`<dir>/scenarios/<name>.json`). */
export interface Scenario {
  description: string;
  schema?: Schema;
  /** Rows present before the first event, by collection. */
  initial?: Record<string, Row[]>;
  events: ScenarioEvent[];
}

/** A snapshot file (`<dir>/snapshots/<name>.json`): one outcome per event and the final state. */
export interface Snapshot {
  results: Outcome[];
  state: Record<string, Row[]>;
}

/** A scenario as `loadScenarios` gives it. */
export interface ScenarioCase {
  name: string;
  scenario: Scenario;
  /** Absent until recorded. */
  expected?: Snapshot;
  scenarioPath: string;
  snapshotPath: string;
}

export interface CheckOptions {
  /** Record snapshots instead of failing on them (default: `UPDATE_SNAPSHOTS=1`). */
  update?: boolean;
}

export declare const UPDATE_SNAPSHOTS: "UPDATE_SNAPSHOTS";
export declare function timestampFor(seq: number): string;
/** `event` as every runner stores it when committed as number `seq` (id `Uuid::from_u128(seq)`, `timestampFor(seq)`). */
export declare function storedAt<E extends object>(event: E, seq: number): E & { id: string; seq: number; timestamp: string };
export declare function loadScenarios(dir: string | URL): Promise<ScenarioCase[]>;
export declare function runScenario(scenario: Scenario, reducer: WasmReducer): Snapshot;
export declare function formatSnapshot(snapshot: Snapshot): string;
export declare function unifiedDiff(expected: string, actual: string, context?: number): string;
export declare function checkScenario(
  scenarioCase: ScenarioCase,
  reducer: WasmReducer,
  options?: CheckOptions,
): Promise<"passed" | "recorded">;
export declare function checkScenarios(
  dir: string | URL,
  reducer: WasmReducer,
  options?: CheckOptions,
): Promise<{ passed: number; recorded: number }>;
