// The live feed as a React effect: connect on mount, close on unmount.
import { useEffect, useState } from "react";
import { useStore } from "react-redux";
import { committed } from "flux-capacitor";
import { connectLive, type LiveStatus } from "flux-capacitor/live";
import { selectNotesLastSeq, type AppDispatch, type RootState } from "./store";

/**
 * Follows the server's committed events into the store while the component is
 * mounted, and answers the connection's status. Each mount resumes from the
 * slice's last seq, and the slice skips any event it has applied, so StrictMode's
 * double mount, a remount or a second component using it apply nothing twice.
 */
export function useLiveNotes(token: string): LiveStatus {
  const store = useStore<RootState>();
  const [status, setStatus] = useState<LiveStatus>("connecting");
  useEffect(() => {
    const dispatch: AppDispatch = store.dispatch;
    const live = connectLive({
      url: "/events/live",
      after: selectNotesLastSeq(store.getState()),
      token,
      onEvents: (events) => dispatch(committed(events)),
      onStatus: (next) => setStatus(next),
    });
    return () => live.close();
  }, [store, token]);
  return status;
}
