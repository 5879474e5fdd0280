// The page: the same reducers as the server (wasm) as a Redux Toolkit slice,
// fed by the server's committed events over a WebSocket. Commands are
// POST /dispatch/{command}; their answers are not applied: the push is the one
// source of changes, so nothing is applied twice.
import { configureStore } from "@reduxjs/toolkit";
import { committed, reduxify, rowsOf } from "flux-capacitor";
import { connectLive } from "flux-capacitor/live";
import init, * as wasm from "app-wasm";

const $ = (id) => document.getElementById(id);

async function command(name, payload) {
  const response = await fetch(`./dispatch/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  if (!response.ok) $("status").textContent = (await response.json()).error?.message ?? response.statusText;
}

function render(state) {
  const list = $("todos");
  list.replaceChildren(
    ...rowsOf(state.todos).map((todo) => {
      const item = document.createElement("li");
      Object.assign(item.dataset, { id: todo.id, title: todo.title });
      const done = document.createElement("input");
      done.type = "checkbox";
      done.checked = todo.done;
      done.addEventListener("change", () => command("setTodoDone", { id: todo.id, done: !todo.done }));
      const remove = document.createElement("button");
      remove.textContent = "Remove";
      remove.addEventListener("click", () => command("removeTodo", { id: todo.id }));
      item.append(done, ` ${todo.title} `, remove);
      return item;
    }),
  );
}

await init(); // the wasm module, before the first event reaches the reducer
const store = configureStore({ reducer: { todos: reduxify(wasm, "todos", { localEvents: false }) } });
store.subscribe(() => render(store.getState()));
render(store.getState());

connectLive({
  url: new URL("./events/live", location.href),
  after: 0,
  onEvents: (batch) => store.dispatch(committed(batch)),
  onStatus: (status) => {
    $("status").textContent = status;
    $("status").dataset.status = status; // "connecting", "open", "retrying" or "closed"
  },
  onError: (err) => ($("status").textContent = `Could not apply pushed events: ${err.message}`),
});

$("add").addEventListener("submit", (e) => {
  e.preventDefault();
  const title = e.target.title.value.trim();
  if (title) command("addTodo", { id: crypto.randomUUID(), title });
  e.target.reset();
});
