import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { devProxy } from "../dev-proxy.js";

// ../vite.config.ts for Vite 7: the app's sources are in the parent directory,
// and Vite 7's dev server needs one more line (the build does not).
export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  cacheDir: fileURLToPath(new URL("./node_modules/.vite", import.meta.url)),
  plugins: [react()],
  // Vite 7's dependency optimizer would bundle the wasm package's glue into
  // node_modules/.vite, where its `new URL("notes_wasm_bg.wasm", import.meta.url)`
  // finds no file: keep it out.
  optimizeDeps: { exclude: ["notes-wasm-web"] },
  server: { proxy: devProxy },
  build: { outDir: fileURLToPath(new URL("./dist", import.meta.url)), emptyOutDir: true },
});
