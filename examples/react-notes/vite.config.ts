import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { devProxy } from "./dev-proxy.js";

// Nothing for the wasm package: with the `web` target Vite needs no plugin and no
// optimizeDeps entry (Vite 7's dev server needs one line: vite7/vite.config.ts).
export default defineConfig({
  plugins: [react()],
  server: { proxy: devProxy },
});
