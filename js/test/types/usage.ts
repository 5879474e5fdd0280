import { configureStore, createEntityAdapter } from "@reduxjs/toolkit";
import { committed, reduxify, selectLastSeq, type CollectionState, type FluxEvent } from "flux-capacitor";
import { ObservableCollection } from "flux-capacitor/mobx";

interface Note { id: string; title: string }
declare const wasm: { reduce(event: FluxEvent): any };
const store = configureStore({ reducer: { notes: reduxify<Note>(wasm, "notes") } });
store.dispatch(committed([{ type: "addNote", payload: { id: "n1", title: "Hi" }, seq: 1 }]));
const title: string | undefined = createEntityAdapter<Note>().getSelectors((s: ReturnType<typeof store.getState>) => s.notes)
  .selectById(store.getState(), "n1")?.title;
const notes = new ObservableCollection<Note>(wasm.reduce, "notes");
notes.apply([{ type: "addNote", payload: { id: "n2", title: "Yo" } }]);
const first: Note | undefined = notes.entities.get("n2");
const slice: CollectionState<Note, string> = store.getState().notes;
const resumeFrom: number = selectLastSeq(store.getState().notes);
const observedSeq: number = notes.lastSeq;
void title; void first; void slice; void resumeFrom; void observedSeq;

import { CLOSE_BEHIND, connectLive, type LiveStatus } from "flux-capacitor/live";
declare const SocketImpl: new (url: string) => { onopen: any; onmessage: any; onerror: any; onclose: any; close(): void };
const live = connectLive({
  url: "ws://localhost:8080/events/live",
  after: selectLastSeq(store.getState().notes),
  token: "Mary",
  WebSocket: SocketImpl,
  retry: { minDelay: 100, maxDelay: 5000 },
  onEvents: (events) => store.dispatch(committed(events)),
  onStatus: (status: LiveStatus, detail) => void [status, detail.lastSeq, detail.delay, detail.code === CLOSE_BEHIND],
});
const seen: number = live.lastSeq;
live.close();
void seen;

import { checkScenario, checkScenarios, loadScenarios, runScenario, type Snapshot } from "flux-capacitor/testing";
async function scenarioTests(): Promise<void> {
  for (const scenarioCase of await loadScenarios(new URL("./scenarios-dir/", import.meta.url))) {
    const outcome: "passed" | "recorded" = await checkScenario(scenarioCase, wasm);
    const snapshot: Snapshot = runScenario(scenarioCase.scenario, wasm.reduce);
    void outcome; void snapshot.results[0];
  }
  const { passed, recorded } = await checkScenarios("examples/notes", wasm, { update: false });
  void passed; void recorded;
}
void scenarioTests;

import { dismissed, local, rejected, selectConfirmed, selectOptimistic, selectPending, uuidv7, type PendingEvent } from "flux-capacitor";
import { createClient, type ClientStatus } from "flux-capacitor/live";
const optimisticStore = configureStore({ reducer: { notes: reduxify<Note>(wasm, "notes", { onDivergence: (d) => void d.expected }) } });
const pendingAdd = local({ type: "addNote", payload: { id: uuidv7(), title: "Hi" } });
optimisticStore.dispatch(pendingAdd);
const pendingNow: PendingEvent[] = selectPending(optimisticStore.getState().notes);
const statusOf: "sending" | "rejected" | undefined = pendingNow[0]?.status;
const confirmedNotes: CollectionState<Note, string> = selectConfirmed(optimisticStore.getState().notes);
const visibleNotes: CollectionState<Note, string> = selectOptimistic(optimisticStore.getState().notes);
optimisticStore.dispatch(rejected(pendingAdd.payload.id, new Error("no")));
optimisticStore.dispatch(dismissed(pendingAdd.payload.id));
const liveClient = createClient({ url: "http://localhost:8080", token: "Mary", user: "Mary", dispatch: optimisticStore.dispatch, reducer: wasm, storage: null, WebSocket: SocketImpl });
const sent = liveClient.dispatch({ type: "addNote", payload: { id: "n3", title: "Yo" } });
void sent.response.then((events) => events[0]?.seq);
const clientStatus: ClientStatus = liveClient.status;
notes.local({ type: "addNote", payload: { id: "n4", title: "Mobx" } });
const mobxPending: number = notes.pending.length + notes.divergences + notes.confirmed.ids.length;
void [statusOf, confirmedNotes, visibleNotes, clientStatus, mobxPending, sent.id];

import { fluxState, follow, liveEvents } from "flux-capacitor/rxjs";
const rxNotes = fluxState<Note>(wasm, { collection: "notes" });
rxNotes.state$.subscribe((state) => void state.entities["n1"]?.title);
rxNotes.pending$.subscribe((pending: PendingEvent[]) => void pending.length);
const rxAll = fluxState(wasm);
rxAll.dispatch(local({ type: "addNote", payload: { id: "n5", title: "Rx" } }));
const rxFeed = follow(rxNotes, liveEvents({ url: "ws://localhost:8080/events/live", token: "Mary", WebSocket: SocketImpl }));
rxFeed.unsubscribe();
createClient({ url: "http://localhost:8080", dispatch: rxNotes.dispatch, storage: null, WebSocket: SocketImpl });

import { selectDivergences } from "flux-capacitor";
import { indexedDBStorage, type PendingQueue, type QueueStorage } from "flux-capacitor/live";
const divergedNotes: number = selectDivergences(optimisticStore.getState().notes);
const idb: QueueStorage = indexedDBStorage({ name: "my-app" });
const ownQueue: QueueStorage = { open: (key: string): PendingQueue => ({ load: async () => [], append: () => void key, remove: async () => {} }) };
createClient({ url: "/", dispatch: rxNotes.dispatch, storage: idb, tabs: false });
createClient({ url: "/", dispatch: rxNotes.dispatch, storage: "indexeddb" });
createClient({ url: "/", dispatch: rxNotes.dispatch, storage: ownQueue });
// @ts-expect-error not a storage
createClient({ url: "/", dispatch: rxNotes.dispatch, storage: "sessionstorage" });
const leads: boolean = liveClient.status.leader;
void [divergedNotes, leads];
