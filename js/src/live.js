// flux-capacitor/live: the live feed of committed events (`connectLive`, feed.js), the
// client tying it to local events, sending and the pending queue (`createClient`,
// client.js), and the IndexedDB storage of that queue (`indexedDBStorage`, storage.js).
// Only re-exports, exactly what live.d.ts declares.
export { CLOSE_BEHIND, connectLive } from "./feed.js";
export { createClient } from "./client.js";
export { indexedDBStorage } from "./storage.js";
