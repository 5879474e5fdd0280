// The .d.ts of a reducers package built by wasm-pack (export_reducer!'s custom
// section): `reduce` and `reduceBatch` are typed, not `any`, and the package is a
// WasmReducer for reduxify and the MobX adapter.
import { configureStore } from "@reduxjs/toolkit";
import { committed, reduxify, type Changeset, type FluxEvent, type WasmReducer } from "flux-capacitor";
import { ObservableCollection } from "flux-capacitor/mobx";
import init, * as notesWasm from "../../pkg-notes/web/notes_wasm.js";
import * as notesNode from "../../pkg-notes/nodejs/notes_wasm.js";

type IsAny<T> = 0 extends 1 & T ? true : false;
const reduceReturnsNoAny: IsAny<ReturnType<typeof notesWasm.reduce>> = false;
const reduceTakesNoAny: IsAny<Parameters<typeof notesWasm.reduce>[0]> = false;
const batchReturnsNoAny: IsAny<ReturnType<typeof notesWasm.reduceBatch>[number]> = false;

const asReducer: WasmReducer = notesWasm;
const nodeReducer: WasmReducer = notesNode;
const event: FluxEvent = { type: "addNote", payload: { id: "n1", title: "Hi", text: "" } };
const changeset: Changeset = notesWasm.reduce(event);
const first = changeset[0];
if (first?.op === "create") {
  const row: Record<string, unknown> = first.row;
  void row;
}
// @ts-expect-error an event needs a `type`
notesWasm.reduce({ payload: {} });

void init().then(() => {
  const store = configureStore({ reducer: { notes: reduxify(notesWasm, "notes") } });
  store.dispatch(committed([event]));
  new ObservableCollection(notesWasm, "notes").apply([event]);
});
void [reduceReturnsNoAny, reduceTakesNoAny, batchReturnsNoAny, asReducer, nodeReducer];
