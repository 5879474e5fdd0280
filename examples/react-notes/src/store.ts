// The store: the notes reducers compiled to wasm, as a reduxify slice.
import { configureStore, createEntityAdapter, createSelector } from "@reduxjs/toolkit";
import { reduxify, selectLastSeq } from "flux-capacitor";
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
    // committed events only: the live push is the single source (localEvents: false)
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
