// flux-capacitor/live: the live feed of committed events (`connectLive`, feed.js) and
// the client tying it to local events, sending and the pending queue (`createClient`,
// client.js). Only re-exports, exactly what live.d.ts declares.
export { CLOSE_BEHIND, connectLive } from "./feed.js";
export { createClient } from "./client.js";
