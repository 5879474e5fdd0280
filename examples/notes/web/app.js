// The notes app: a Redux store whose `notes` slice is the very reducers the
// server runs (compiled to wasm), fed by the server's committed events over a
// WebSocket. Commands go out as POST /dispatch/{command}; their effect comes
// back only through the live push (one source of truth, no doubles).
import { configureStore, createSelector, createSlice } from "@reduxjs/toolkit";
import { COMMITTED, committed, reduxify, rowsOf } from "flux-capacitor";
import { connectLive } from "flux-capacitor/live";
import init, * as notesWasm from "notes-wasm";

const USERS = ["George", "Tony", "Mary"];

// ---------------------------------------------------------------- the store

/** The stored events, in seq order, plus the last title of every note they name. */
const logSlice = createSlice({
  name: "log",
  initialState: { events: [], titles: {} },
  reducers: {},
  extraReducers: (builder) => {
    builder.addCase(COMMITTED, (state, action) => {
      const last = state.events.length ? state.events[state.events.length - 1].seq : 0;
      for (const event of action.payload) {
        if (event.seq <= last) continue;
        const p = event.payload ?? {};
        // The title as it was at this event (a removed note keeps its last one).
        const before = state.titles[p.id];
        if (event.type === "addNote" || event.type === "editNoteTitle") state.titles[p.id] = p.title;
        state.events.push({ ...event, before });
      }
    });
  },
});

const uiSlice = createSlice({
  name: "ui",
  initialState: { user: "George", status: { kind: "info", text: "Loading…" }, connection: "connecting" },
  reducers: {
    userChanged: (state, action) => void (state.user = action.payload),
    statusShown: (state, action) => void (state.status = action.payload),
    connectionChanged: (state, action) => void (state.connection = action.payload),
  },
});
const { userChanged, statusShown, connectionChanged } = uiSlice.actions;
const info = (text) => statusShown({ kind: "info", text });
const failure = (text) => statusShown({ kind: "error", text });

const time = (ts) => Date.parse(ts) || 0;
/** Notes, newest first. */
const selectNotes = createSelector([(s) => s.notes], (notes) =>
  rowsOf(notes).sort((a, b) => time(b.created) - time(a.created) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
);

// ------------------------------------------------------------------ helpers

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

function initialUser() {
  const fromUrl = new URLSearchParams(location.search).get("user");
  if (USERS.includes(fromUrl)) return fromUrl;
  const saved = sessionStorage.getItem("notes.user");
  return USERS.includes(saved) ? saved : USERS[0];
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Not a secure context (plain http on a LAN address): a v4 UUID by hand.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();
function formatWhen(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts || "—";
  const clock = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (sameDay(d, new Date())) return `today ${clock}`;
  return `${d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })} ${clock}`;
}

const quote = (title) => `“${title}”`;
const shortId = (id) => String(id ?? "?").slice(0, 8);

/** Who did what, in words, for the log. */
function describe(event) {
  const p = event.payload ?? {};
  const name = (title) => (title ? quote(title) : `note ${shortId(p.id)}`);
  switch (event.type) {
    case "addNote": return `added ${name(p.title)}`;
    case "editNoteTitle": return `renamed ${name(event.before)} to ${quote(p.title)}`;
    case "editNoteText": return `edited the text of ${name(event.before)}`;
    case "removeNote": return `removed ${name(event.before)}`;
    default: return event.type;
  }
}

function setAvatar(el, user) {
  el.textContent = (user ?? "?").slice(0, 1);
  el.dataset.user = user ?? "";
}

// ------------------------------------------------------------- the server

/** POST /dispatch/{command} as the current user; throws an Error with the server's message. */
async function send(store, command, payload) {
  const { user } = store.getState().ui;
  let response;
  try {
    response = await fetch(`./dispatch/${encodeURIComponent(command)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${user}` },
      body: JSON.stringify(payload),
    });
  } catch (err) {
    throw new Error(`cannot reach the server (${err.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: described by the status below
  }
  if (!response.ok) {
    const message = body?.error?.message ?? `${response.status} ${response.statusText}`;
    const code = body?.error?.code;
    throw new Error(code ? `${message} (${code})` : message);
  }
  return body; // the stored events: applied when the live push brings them
}

/** Sends a command and tells the status line; resolves to the stored events, or null on failure. */
async function run(store, command, payload, done) {
  try {
    const events = await send(store, command, payload);
    const list = Array.isArray(events) ? events : [];
    const seqs = list.map((e) => e.seq).join(", ");
    store.dispatch(info(`${done}${seqs ? ` (seq ${seqs})` : ""}`));
    return list;
  } catch (err) {
    store.dispatch(failure(`${command} failed: ${err.message}`));
    return null;
  }
}

/** The seq of the last event the store has applied. */
const appliedSeq = (state) => state.log.events.at(-1)?.seq ?? 0;

// ---------------------------------------------------------------- the view

function noteView(store, id) {
  const el = document.getElementById("note-template").content.firstElementChild.cloneNode(true);
  el.dataset.id = id;
  const title = $("note-title", el);
  const text = $("note-text", el);
  const current = () => store.getState().notes.entities[id];
  const refresh = () => fill(el, current(), appliedSeq(store.getState()));

  const commit = async (input, field, command) => {
    const row = current();
    const value = input.value;
    if (!row || value === row[field]) return;
    if (field === "title" && !value.trim()) {
      input.value = row.title;
      store.dispatch(failure("A note needs a title."));
      return;
    }
    // Keep showing the new value until the push that carries it is applied
    // (no flicker back to the old one in between; no optimistic state either).
    pending.set(input, Infinity);
    const events = await run(store, command, { id, [field]: value }, field === "title" ? `Renamed to ${quote(value)}` : "Text saved");
    if (events?.length) pending.set(input, Math.max(...events.map((e) => e.seq)));
    else pending.delete(input); // failed: show the store's value again
    refresh();
  };
  title.addEventListener("change", () => commit(title, "title", "editNoteTitle"));
  text.addEventListener("change", () => commit(text, "text", "editNoteText"));
  for (const [input, field] of [[title, "title"], [text, "text"]]) {
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        input.value = current()?.[field] ?? "";
        input.blur();
      } else if (e.key === "Enter" && (input === title || e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        input.blur(); // fires "change" when the value differs
      }
    });
    // a remote change that arrived while this field had focus shows now
    input.addEventListener("blur", () => queueMicrotask(refresh));
  }
  $("note-remove", el).addEventListener("click", () => {
    const row = current();
    run(store, "removeNote", { id }, `Removed ${quote(row?.title ?? shortId(id))}`);
  });
  return el;
}

/** Edited fields waiting for their event: input -> the seq that carries the edit (Infinity while sending). */
const pending = new WeakMap();

/**
 * Shows `row` in a note's element, leaving alone a field the user is editing
 * and a field whose edit is not yet applied (`applied`: the store's last seq).
 */
function fill(el, row, applied) {
  if (!row) return;
  for (const [input, value] of [[$("note-title", el), row.title], [$("note-text", el), row.text ?? ""]]) {
    if (pending.has(input)) {
      if (applied < pending.get(input)) continue;
      pending.delete(input);
    }
    if (document.activeElement !== input && input.value !== value) input.value = value;
  }
  const edited = row.updated && row.updated !== row.created ? ` · edited ${formatWhen(row.updated)}` : "";
  $("note-meta", el).textContent = `by ${row.author} · ${formatWhen(row.created)}${edited}`;
  el.dataset.author = row.author;
}

function renderNotes(store, views, notes, applied) {
  const list = $("notes");
  let previous = null;
  const seen = new Set();
  for (const row of notes) {
    let el = views.get(row.id);
    if (!el) views.set(row.id, (el = noteView(store, row.id)));
    fill(el, row, applied);
    const wanted = previous ? previous.nextSibling : list.firstChild;
    if (wanted !== el) list.insertBefore(el, wanted); // only moves what moved
    previous = el;
    seen.add(row.id);
  }
  for (const [id, el] of views) {
    if (!seen.has(id)) {
      el.remove();
      views.delete(id);
    }
  }
  $("notes-count").textContent = String(notes.length);
  $("notes-empty").hidden = notes.length > 0;
}

function renderLog(shown, events) {
  const list = $("log");
  const template = document.getElementById("log-template").content.firstElementChild;
  for (let i = shown.count; i < events.length; i++) {
    const event = events[i];
    const user = event.meta?.user ?? "anonymous";
    const el = template.cloneNode(true);
    el.dataset.type = event.type;
    el.dataset.user = user;
    el.dataset.seq = String(event.seq);
    el.dataset.noteId = event.payload?.id ?? "";
    setAvatar(el.querySelector(".avatar"), user);
    $("log-user", el).textContent = user;
    $("log-what", el).textContent = describe(event);
    $("log-type", el).textContent = event.type;
    const when = $("log-when", el);
    when.dateTime = event.timestamp;
    when.title = event.timestamp;
    when.textContent = formatWhen(event.timestamp);
    el.querySelector(".log-seq").textContent = `#${event.seq}`;
    list.prepend(el);
  }
  shown.count = events.length;
  $("log-count").textContent = String(events.length);
}

const CONNECTION_TEXT = { connecting: "connecting…", open: "live", retrying: "reconnecting…", closed: "offline" };

function render(store, views, shown, previous) {
  const state = store.getState();
  if (state.notes !== previous.notes) renderNotes(store, views, selectNotes(state), appliedSeq(state));
  if (state.log.events !== previous.log?.events) renderLog(shown, state.log.events);
  if (state.ui !== previous.ui) {
    const { user, status, connection } = state.ui;
    $("user-select").value = user;
    setAvatar($("user-avatar"), user);
    const line = $("status");
    line.textContent = status.text;
    line.dataset.kind = status.kind;
    const pill = $("connection");
    pill.dataset.status = connection;
    pill.textContent = CONNECTION_TEXT[connection] ?? connection;
  }
  return state;
}

// ------------------------------------------------------------------ start

async function main() {
  await init(); // the wasm module, before the first event reaches the reducers

  const store = configureStore({
    reducer: {
      // Only committed events change notes: no local (optimistic) events.
      notes: reduxify(notesWasm, "notes", { localEvents: false }),
      log: logSlice.reducer,
      ui: uiSlice.reducer,
    },
  });
  store.dispatch(userChanged(initialUser()));

  const views = new Map();
  const shown = { count: 0 };
  let previous = {};
  previous = render(store, views, shown, previous);
  store.subscribe(() => (previous = render(store, views, shown, previous)));

  // Live: every committed event from seq 0 on, applied by the same reducers.
  let live = null;
  const follow = (after) => {
    live?.close();
    live = connectLive({
      url: new URL("./events/live", location.href),
      after,
      token: store.getState().ui.user,
      onEvents: (batch) => store.dispatch(committed(batch)),
      onStatus: (status, detail) => {
        store.dispatch(connectionChanged(status));
        if (status === "open" && store.getState().ui.status.text === "Loading…") {
          store.dispatch(info(`Signed in as ${store.getState().ui.user}.`));
        }
        if (status === "retrying" && detail.attempt > 1) {
          store.dispatch(failure(`Lost the live connection; retrying in ${Math.round(detail.delay / 100) / 10}s…`));
        }
        if (status === "open" && detail.attempt === 0 && store.getState().ui.status.text.startsWith("Lost the live")) {
          store.dispatch(info("Live again."));
        }
      },
      onError: (err) => store.dispatch(failure(`Could not apply pushed events: ${err.message}`)),
    });
  };
  follow(0);

  $("user-select").addEventListener("change", (e) => {
    const user = e.target.value;
    sessionStorage.setItem("notes.user", user);
    const url = new URL(location.href);
    url.searchParams.set("user", user);
    history.replaceState(null, "", url);
    store.dispatch(userChanged(user));
    store.dispatch(info(`Signed in as ${user}.`));
    follow(live.lastSeq); // the token is the user: reconnect, resuming where we were
  });
  sessionStorage.setItem("notes.user", store.getState().ui.user);

  const form = $("add-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = form.elements.title.value.trim();
    const text = form.elements.text.value;
    if (!title) {
      store.dispatch(failure("A note needs a title."));
      return;
    }
    const button = $("add-submit");
    button.disabled = true;
    const ok = (await run(store, "addNote", { id: uuid(), title, text }, `Added ${quote(title)}`)) !== null;
    button.disabled = false;
    if (ok) {
      form.reset();
      form.elements.title.focus();
    }
  });

  document.body.dataset.ready = "true";
  globalThis.notesApp = { store, get live() { return live; } }; // for the console and tests
}

main().catch((err) => {
  const line = $("status");
  line.textContent = `The app failed to start: ${err.message}`;
  line.dataset.kind = "error";
  console.error(err);
});
