import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "react-redux";
import init from "notes-wasm-web";
import { App } from "./App";
import { store } from "./store";
import "./style.css";

// The wasm module loads first (the `web` target's init fetches notes_wasm_bg.wasm,
// which the bundler emits as an asset); then the app renders.
const root = document.getElementById("root")!;
init().then(
  () => {
    createRoot(root).render(
      <StrictMode>
        <Provider store={store}>
          <App />
        </Provider>
      </StrictMode>,
    );
  },
  (error: unknown) => {
    root.textContent = `The notes reducers (wasm) did not load: ${String(error)}`;
    throw error;
  },
);
