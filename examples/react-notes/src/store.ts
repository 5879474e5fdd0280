// The store: the notes reducers compiled to wasm, as a reduxify slice: the server's
// committed events, plus the user's own events pending on top (optimistic).
import { configureStore, createEntityAdapter, createSelector } from "@reduxjs/toolkit";
import { reduxify, selectLastSeq, selectPending, type EventError, type PendingEvent } from "flux-capacitor";
import * as notesWasm from "notes-wasm-web";

/** A note, as the notes reducers write it (examples/notes/reducers). */
export interface Note {
  id: string;
  title: string;
  text: string;
  author: string;
  created: string;
  updated: string;
}

export const store = configureStore({
  reducer: {
    // committed events from the live feed, and `flux/local` events from the client
    // (pending until committed); no other action is an event (localEvents: false)
    notes: reduxify<Note, string>(notesWasm, "notes", { localEvents: false }),
  },
});
export type RootState = ReturnType<typeof store.getState>;
export type AppDispatch = typeof store.dispatch;

// RTK's entity selectors work on the slice as they are ({ ids, entities, lastSeq }).
const notes = createEntityAdapter<Note>().getSelectors((state: RootState) => state.notes);
export const selectNoteById = notes.selectById;

const byTitle = (a: Note, b: Note) => a.title.localeCompare(b.title) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
/**
 * The notes sorted by title. reduxify keeps `ids` in key order (an entity
 * adapter's `sortComparer` has no effect on it), so sort in a memoized
 * selector: a new array only when the notes change.
 */
export const selectNotesByTitle = createSelector([notes.selectAll], (all) => [...all].sort(byTitle));

/** The seq of the last committed event in the slice: where a live feed resumes. */
export const selectNotesLastSeq = (state: RootState) => selectLastSeq(state.notes);

/** The user's events not yet confirmed by the server, oldest first (refused ones included, marked). */
export const selectNotesPending = (state: RootState) => selectPending(state.notes);

/** What the pending events say about one note. */
export interface NoteMark {
  /** Events for this note sent or to send, not yet confirmed. */
  sending: number;
  /** The refusals of events for this note. */
  rejected: EventError[];
}

/** The note an event is about: every notes command has `payload.id`. */
export const noteIdOf = (p: PendingEvent): string | undefined => {
  const id = (p.event.payload as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? id : undefined;
};

/** Note id -> its mark, for the notes with pending or refused events. */
export const selectNoteMarks = createSelector([selectNotesPending], (pending) => {
  const marks: Record<string, NoteMark> = {};
  for (const p of pending) {
    const id = noteIdOf(p);
    if (id === undefined) continue;
    const mark = (marks[id] ??= { sending: 0, rejected: [] });
    if (p.status === "rejected" && p.error) mark.rejected.push(p.error);
    else mark.sending += 1;
  }
  return marks;
});

/** The refused events, until dismissed. */
export const selectRefusals = createSelector([selectNotesPending], (pending) => pending.filter((p) => p.status === "rejected"));
