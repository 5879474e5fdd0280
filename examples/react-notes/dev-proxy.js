// The dev server's proxy to the notes server (Vite's `server.proxy`; `vite
// preview` reuses it): the page, the API and the WebSocket share one origin, so
// the service needs no CORS. `ws: true` forwards the WebSocket upgrade of
// /events/live. NOTES_SERVER says where the notes server listens.
const target = process.env.NOTES_SERVER ?? "http://127.0.0.1:8080";

export const devProxy = {
  "/dispatch": target,
  "/collections": target,
  "/events": { target, ws: true },
};
