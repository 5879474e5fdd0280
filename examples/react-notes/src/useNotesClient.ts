// The live client as a React effect: createClient on mount, close on unmount. It
// feeds the server's committed events into the store, applies the user's own events
// at once (pending until the feed confirms them), and keeps the unsent ones in
// localStorage, shared with the user's other tabs.
import { useEffect, useState } from "react";
import { useStore } from "react-redux";
import { createClient, type Client, type ClientStatus } from "flux-capacitor/live";
import * as notesWasm from "notes-wasm-web";
import { selectNotesLastSeq, type AppDispatch, type RootState } from "./store";

const CONNECTING: ClientStatus = {
  connection: "connecting", lastSeq: 0, pending: 0, retrying: false, error: null, rejected: 0, divergences: 0, leader: false,
};

/**
 * The client of `user` while the component is mounted (null before the first
 * effect), and its status. Each mount resumes the feed from the slice's last seq,
 * and the slice skips any event it has applied and any local event already
 * pending, so StrictMode's double mount or a remount apply nothing twice.
 */
export function useNotesClient(user: string): { client: Client | null; status: ClientStatus } {
  const store = useStore<RootState>();
  const [client, setClient] = useState<Client | null>(null);
  const [status, setStatus] = useState<ClientStatus>(CONNECTING);
  useEffect(() => {
    const dispatch: AppDispatch = store.dispatch;
    const live = createClient({
      url: "/", // the page's origin: POST /dispatch/{type}?id=, /events/live
      token: user, // the demo's bearer token is the user's name
      user,
      dispatch,
      after: selectNotesLastSeq(store.getState()),
      reducer: notesWasm, // its changesetHash: divergences are counted in the status
      onStatus: setStatus,
    });
    setClient(live);
    return () => {
      live.close();
      setClient(null);
    };
  }, [store, user]);
  return { client, status };
}
