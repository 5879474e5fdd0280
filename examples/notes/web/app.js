// The notes app: a Redux store whose `notes` slice is the very reducers the
// server runs (compiled to wasm), fed by the server's committed events over a
// WebSocket. A user's own command is applied at once by those reducers (a
// pending event, marked on its note) and sent by `createClient` as
// POST /dispatch/{command}?id=: the push of the committed event confirms it, a
// refusal is shown on its note, and the queue is kept across reloads and
// resent when the network is back (the server commits an id once).
import { configureStore, createSelector, createSlice } from "@reduxjs/toolkit";
import { COMMITTED, committed, dismissed, reduxify, rowsOf, selectPending } from "flux-capacitor";
import { createClient } from "flux-capacitor/live";
import init, * as notesWasm from "notes-wasm-web";

const USERS = ["George", "Tony", "Mary"];
const RESTORE = "flux/restore";
const NOTIFY = "notes/notify"; // the Activity saga's: someone else changed your note

// ---------------------------------------------------------------- the store

/** The note an event is about: `payload.id`, or the restored row's key for `flux/restore`. */
function noteIdOf(event) {
  const p = event.payload ?? {};
  if (event.type === RESTORE) return p.row?.[p.key ?? "id"];
  if (event.type === NOTIFY) return p.note;
  return p.id;
}

/** The title a note has after `event`, when the event sets one. */
function titleAfter(event) {
  const p = event.payload ?? {};
  if (event.type === "addNote" || event.type === "editNoteTitle") return p.title;
  if (event.type === RESTORE) return p.row?.title;
  return undefined;
}

/**
 * The stored events, in seq order and as pushed (the very objects the notes
 * reducer saw, so replaying them hits its changeset cache), plus the last title
 * of every note they name and, by seq, the title a note had before that event.
 */
const logSlice = createSlice({
  name: "log",
  initialState: { events: [], titles: {}, before: {} },
  reducers: {},
  extraReducers: (builder) => {
    builder.addCase(COMMITTED, (state, action) => {
      const last = state.events.length ? state.events[state.events.length - 1].seq : 0;
      for (const event of action.payload) {
        if (event.seq <= last) continue;
        const id = noteIdOf(event);
        // The title as it was at this event (a removed note keeps its last one).
        if (state.titles[id] !== undefined) state.before[event.seq] = state.titles[id];
        const title = titleAfter(event);
        if (title !== undefined) state.titles[id] = title;
        state.events.push(event);
      }
    });
  },
});

const uiSlice = createSlice({
  name: "ui",
  // asOf: null when live, else the seq whose notes are shown (read-only);
  // outbox: the client's events not yet confirmed, and whether sending them fails (offline)
  initialState: {
    user: "George",
    status: { kind: "info", text: "Loading…" },
    connection: "connecting",
    outbox: { pending: 0, retrying: false },
    // refusals of events the notes slice does not hold as pending (resent after a
    // reload without applying here): [{ id, event, error }], shown on their notes too
    refused: [],
    asOf: null,
  },
  reducers: {
    refusedShown: (state, action) => void state.refused.push(action.payload),
    refusedDismissed: (state, action) => void (state.refused = state.refused.filter((r) => r.id !== action.payload)),
    outboxChanged: (state, action) => {
      const { pending, retrying } = action.payload;
      if (state.outbox.pending !== pending || state.outbox.retrying !== retrying) state.outbox = { pending, retrying };
    },
    userChanged: (state, action) => void (state.user = action.payload),
    asOfChosen: (state, action) => void (state.asOf = action.payload),
    statusShown: (state, action) => void (state.status = action.payload),
    connectionChanged: (state, action) => void (state.connection = action.payload),
  },
});
const { userChanged, asOfChosen, statusShown, connectionChanged, outboxChanged, refusedShown, refusedDismissed } = uiSlice.actions;
const info = (text) => statusShown({ kind: "info", text });
const failure = (text) => statusShown({ kind: "error", text });

const time = (ts) => Date.parse(ts) || 0;
/** Rows of a notes EntityState, newest first. */
const newestFirst = (notes) =>
  rowsOf(notes).sort((a, b) => time(b.created) - time(a.created) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
/** Notes, newest first. */
const selectNotes = createSelector([(s) => s.notes], newestFirst);

/** How many of `events` (in seq order) have a seq <= `seq`. */
function prefixLength(events, seq) {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The notes as they were right after `seq`: the log's prefix up to it applied
 * by the same reducers to a fresh state (`committed(prefix)`), no server call.
 * Memoized on the prefix (the log only grows, so a prefix never changes).
 * Resolves to `{ seq, event, notes }`, `event` the last one applied (null at 0).
 */
function asOfSelector(notesReducer) {
  let cache = null;
  return (events, seq) => {
    const end = prefixLength(events, seq);
    const event = events[end - 1] ?? null;
    if (cache && cache.seq === seq && cache.end === end && cache.event === event) return cache.view;
    const prefix = events.slice(0, end);
    const view = { seq, event, notes: newestFirst(notesReducer(undefined, committed(prefix))) };
    cache = { seq, end, event, view };
    return view;
  };
}

/**
 * The notes that were removed and are not back, derived from the log: it is
 * replayed one event at a time through the same reducers (incrementally: only
 * events not seen yet), and a note that leaves the state is remembered with its
 * last row and the event that removed it, until an event brings it back.
 * Newest removal first; the same array while nothing changes.
 */
function removedSelector(notesReducer) {
  let seen = 0;
  let lastEvent = null;
  let notes;
  let gone = new Map();
  let list = [];
  return (events) => {
    if (events.length < seen || (seen > 0 && events[seen - 1] !== lastEvent)) {
      // not the log we followed (never happens: it only grows): start over
      seen = 0;
      notes = undefined;
      gone = new Map();
      list = [];
    }
    if (events.length === seen) return list;
    let changed = false;
    for (let i = seen; i < events.length; i++) {
      const event = events[i];
      const before = notes ?? { ids: [], entities: {} };
      let after;
      try {
        after = notesReducer(before, committed([event]));
      } catch {
        continue; // the live store refused it too (and said so in the status line)
      }
      if (after.ids !== before.ids) {
        const present = new Set(after.ids);
        for (const id of before.ids) {
          if (!present.has(id)) {
            gone.set(id, { id, row: before.entities[id], event });
            changed = true;
          }
        }
        for (const id of after.ids) if (gone.delete(id)) changed = true;
      }
      notes = after;
    }
    seen = events.length;
    lastEvent = events[seen - 1];
    if (changed) list = [...gone.values()].sort((a, b) => b.event.seq - a.event.seq);
    return list;
  };
}

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
/** "today 01:02:03", or with the date when not today; `today` is the word for today. */
function formatWhen(ts, today = "today ") {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts || "—";
  const clock = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (sameDay(d, new Date())) return `${today}${clock}`;
  return `${d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })} ${clock}`;
}

const quote = (title) => `“${title}”`;
const strong = (text) => Object.assign(document.createElement("strong"), { textContent: text });
const shortId = (id) => String(id ?? "?").slice(0, 8);

/** What an event did, in words, for the log (`before`: the note's title before it). */
function describe(event, before) {
  const p = event.payload ?? {};
  const name = (title) => (title ? quote(title) : `note ${shortId(noteIdOf(event))}`);
  switch (event.type) {
    case "addNote": return `added ${name(p.title)}`;
    case "editNoteTitle": return `renamed ${name(before)} to ${quote(p.title)}`;
    case "editNoteText": return `edited the text of ${name(before)}`;
    case "removeNote": return `removed ${name(before)}`;
    case RESTORE: return `restored ${name(p.row?.title ?? before)}`;
    case NOTIFY: return `told ${p.recipient} that ${p.actor} ${p.action} ${name(before)}`;
    default: return event.type;
  }
}

function setAvatar(el, user) {
  el.textContent = (user ?? "?").slice(0, 1);
  el.dataset.user = user ?? "";
}

// ------------------------------------------------------------- the server

/**
 * POST to `path` (relative to the page) as the current user; throws an Error
 * with the server's message. Always `Content-Type: application/json`, also
 * without a body (restore): the server requires it of every POST, which a
 * cross-site form cannot send.
 */
async function post(store, path, payload) {
  const { user } = store.getState().ui;
  const headers = { Authorization: `Bearer ${user}`, "Content-Type": "application/json" };
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
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

/** The live client (`createClient`): one per signed-in user, replaced when the user changes. */
let client = null;

/** "message (kind)": an error as the status line and a note show it. */
const explain = (error) => (error?.kind && error.kind !== "error" ? `${error.message} (${error.kind})` : String(error?.message ?? error));

/**
 * Applies command `command` at once (a pending event) and sends it. A local
 * reducer error refuses it here, before anything is sent; a refusal by the
 * server comes through `onRejected` (shown on the note and the status line).
 * Returns whether it was applied.
 */
function run(store, command, payload, done) {
  let sent;
  try {
    sent = client.dispatch({ type: command, payload });
  } catch (err) {
    store.dispatch(failure(`${command} failed: ${explain(err)}`));
    return false;
  }
  store.dispatch(info(`${done} (pending)`));
  sent.response.then(
    (events) => {
      // only when nothing newer took the status line meanwhile
      if (store.getState().ui.status.text !== `${done} (pending)`) return;
      const seqs = (Array.isArray(events) ? events : []).map((e) => e.seq).join(", ");
      store.dispatch(info(`${done}${seqs ? ` (seq ${seqs})` : ""}`));
    },
    () => {}, // told by onRejected
  );
  return true;
}

/** The seq of the last event the store has applied. */
const appliedSeq = (state) => state.log.events.at(-1)?.seq ?? 0;

/** Notes being restored (their Restore button stays disabled meanwhile). */
const restoring = new Set();

/**
 * POST /collections/notes/{id}/restore: the server logs a `flux/restore` event
 * with the note's last state. Its answer is not applied either: the note comes
 * back, here and in every other tab, when the push carrying that event arrives.
 */
async function restoreNote(store, id, title) {
  restoring.add(id);
  try {
    const event = await post(store, `./collections/notes/${encodeURIComponent(id)}/restore`);
    store.dispatch(info(`Restored ${quote(title)}${event?.seq ? ` (seq ${event.seq})` : ""}`));
    return event;
  } catch (err) {
    store.dispatch(failure(`restore failed: ${err.message}`));
    return null;
  } finally {
    restoring.delete(id);
  }
}

// ---------------------------------------------------------------- the view

function noteView(store, id) {
  const el = document.getElementById("note-template").content.firstElementChild.cloneNode(true);
  el.dataset.id = id;
  const title = $("note-title", el);
  const text = $("note-text", el);
  const current = () => store.getState().notes.entities[id];
  const refresh = () => {
    const state = store.getState();
    fill(el, current(), state.ui.user, marksOf(selectPending(state.notes), state.ui.refused).get(id));
  };

  // The new value is in the store at once (a pending event): no waiting for the push.
  const commit = (input, field, command) => {
    const row = current();
    const value = input.value;
    if (!row || value === row[field]) return;
    if (field === "title" && !value.trim()) {
      input.value = row.title;
      store.dispatch(failure("A note needs a title."));
      return;
    }
    if (!run(store, command, { id, [field]: value }, field === "title" ? `Renamed to ${quote(value)}` : "Text saved")) {
      input.value = row[field] ?? ""; // refused locally: show the store's value again
    }
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
  // the user has read the refusal: forget the refused events of this note
  $("note-error-dismiss", el).addEventListener("click", () => {
    for (const p of selectPending(store.getState().notes)) {
      if (p.status === "rejected" && noteIdOf(p.event) === id) store.dispatch(dismissed(p.id));
    }
    for (const r of store.getState().ui.refused) if (noteIdOf(r.event) === id) store.dispatch(refusedDismissed(r.id));
  });
  return el;
}

/**
 * What the pending events (and the other refusals, `ui.refused`) say about each
 * note: note id -> `{ sending, rejected }` (`sending`: events not yet confirmed;
 * `rejected`: the refused ones, with their error). Memoized on both lists.
 */
const marksOf = (() => {
  let last = null;
  let lastRefused = null;
  let marks = new Map();
  return (pending, refused) => {
    if (pending === last && refused === lastRefused) return marks;
    last = pending;
    lastRefused = refused;
    marks = new Map();
    for (const p of [...refused.map((r) => ({ ...r, status: "rejected" })), ...pending]) {
      const id = noteIdOf(p.event);
      if (id === undefined) continue;
      const mark = marks.get(id) ?? { sending: 0, rejected: [] };
      if (p.status === "rejected") mark.rejected.push(p);
      else mark.sending += 1;
      marks.set(id, mark);
    }
    return marks;
  };
})();

const NO_MARK = { sending: 0, rejected: [] };

/**
 * Shows `row` in a note's element, leaving alone a field the user is editing.
 * Only the note's author (`user` is the signed-in one) gets editable fields
 * and a Remove button: the server refuses anyone else's edit (403), and the
 * page does not offer it. `mark` (from `marksOf`): a note with events not yet
 * confirmed is marked pending (`data-pending`); a refused event's error shows
 * on its note until dismissed.
 */
function fill(el, row, user, mark = NO_MARK) {
  if (!row) return;
  for (const [input, value] of [[$("note-title", el), row.title], [$("note-text", el), row.text ?? ""]]) {
    if (document.activeElement !== input && input.value !== value) input.value = value;
  }
  const edited = row.updated && row.updated !== row.created ? ` · edited ${formatWhen(row.updated)}` : "";
  $("note-meta", el).textContent = `by ${row.author} · ${formatWhen(row.created)}${edited}`;
  el.dataset.author = row.author;
  const mine = row.author === user;
  el.dataset.mine = String(mine);
  for (const input of [$("note-title", el), $("note-text", el)]) {
    input.readOnly = !mine;
    input.title = mine ? "" : `Only ${row.author} can change this note`;
  }
  $("note-remove", el).hidden = !mine;

  if (mark.sending > 0) el.dataset.pending = String(mark.sending);
  else delete el.dataset.pending;
  $("note-pending", el).hidden = mark.sending === 0;
  const error = $("note-error", el);
  if (mark.rejected.length) {
    const last = mark.rejected.at(-1);
    el.dataset.rejected = String(mark.rejected.length);
    $("note-error-text", error).textContent = `${last.event.type} refused: ${explain(last.error)}`;
    error.hidden = false;
  } else {
    delete el.dataset.rejected;
    error.hidden = true;
  }
}

function renderNotes(store, views, notes, pending, refused, user) {
  const list = $("notes");
  const marks = marksOf(pending, refused);
  let previous = null;
  const seen = new Set();
  for (const row of notes) {
    let el = views.get(row.id);
    if (!el) views.set(row.id, (el = noteView(store, row.id)));
    fill(el, row, user, marks.get(row.id));
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

function renderLog(shown, log) {
  const { events, before } = log;
  const list = $("log");
  const template = document.getElementById("log-template").content.firstElementChild;
  for (let i = shown.count; i < events.length; i++) {
    const event = events[i];
    const user = event.meta?.user ?? "anonymous";
    const el = template.cloneNode(true);
    el.dataset.type = event.type;
    el.dataset.user = user;
    el.dataset.seq = String(event.seq);
    el.dataset.noteId = noteIdOf(event) ?? "";
    setAvatar(el.querySelector(".avatar"), user);
    $("log-user", el).textContent = user;
    $("log-what", el).textContent = describe(event, before[event.seq]);
    $("log-type", el).textContent = event.type;
    const when = $("log-when", el);
    when.dateTime = event.timestamp;
    when.title = event.timestamp;
    when.textContent = formatWhen(event.timestamp);
    const seq = $("log-seq", el);
    seq.textContent = `#${event.seq}`;
    seq.dataset.seq = String(event.seq);
    seq.title = `View the notes as of #${event.seq}`;
    list.prepend(el);
  }
  shown.count = events.length;
  $("log-count").textContent = String(events.length);
}

/** In the log, dims the events after `asOf` and marks the last one applied (none when live). */
function markLog(asOf) {
  let current = null;
  for (const el of $("log").children) {
    const seq = Number(el.dataset.seq);
    const future = asOf !== null && seq > asOf;
    el.classList.toggle("future", future);
    el.classList.remove("current");
    if (asOf !== null && !future && (!current || seq > Number(current.dataset.seq))) current = el;
  }
  current?.classList.add("current");
}

/** "#12 — 01:02:03 by Mary": the state right after `seq`, and the event that made it. */
function fillMoment(el, seq, event) {
  el.replaceChildren();
  el.append(strong(`#${seq}`), " — ");
  if (!event) {
    el.append("before the first event");
    return;
  }
  const when = document.createElement("time");
  when.dateTime = event.timestamp;
  when.title = event.timestamp;
  when.textContent = formatWhen(event.timestamp, "");
  el.append(when, " by ", strong(event.meta?.user ?? "anonymous"));
}

/** The slider, the readout beside it, and which view shows (live, or as of a seq). */
function renderTimeTravel(state, view) {
  const head = appliedSeq(state);
  const { asOf } = state.ui;
  const viewing = asOf !== null;
  const slider = $("as-of-slider");
  slider.max = String(head);
  slider.value = String(viewing ? asOf : head);
  slider.disabled = head === 0;
  slider.setAttribute("aria-valuetext", viewing ? `as of #${asOf}` : `live, #${head}`);
  document.body.dataset.mode = viewing ? "as-of" : "live";
  $("live-view").hidden = viewing;
  $("removed-section").hidden = viewing;
  $("as-of-view").hidden = !viewing;
  $("time-travel").dataset.mode = viewing ? "as-of" : "live";

  const readout = $("as-of-readout");
  if (viewing) {
    readout.textContent = `#${asOf} of ${head} · ${head - asOf} event${head - asOf === 1 ? "" : "s"} later`;
  } else {
    readout.textContent = head ? `Live · #${head}` : "Live · no events yet";
  }
  if (!viewing) return;

  fillMoment($("as-of-caption"), view.seq, view.event);
  const what = view.event ? `after ${view.event.meta?.user ?? "anonymous"} ${describe(view.event, state.log.before[view.event.seq])}` : "";
  $("as-of-what").textContent = `${what ? `${what} · ` : ""}read-only; live updates keep arriving`;
  $("as-of-heading-seq").textContent = `#${view.seq}`;
}

/** The notes of the as-of view, read-only. */
function renderAsOf(view) {
  const template = document.getElementById("as-of-template").content.firstElementChild;
  const items = view.notes.map((row) => {
    const el = template.cloneNode(true);
    el.dataset.id = row.id;
    el.dataset.author = row.author;
    $("as-of-title", el).textContent = row.title;
    const text = $("as-of-text", el);
    text.textContent = row.text ?? "";
    text.hidden = !row.text;
    const edited = row.updated && row.updated !== row.created ? ` · edited ${formatWhen(row.updated)}` : "";
    $("as-of-meta", el).textContent = `by ${row.author} · ${formatWhen(row.created)}${edited}`;
    return el;
  });
  $("as-of-notes").replaceChildren(...items);
  $("as-of-count").textContent = String(view.notes.length);
  $("as-of-empty").hidden = view.notes.length > 0;
}

/** The signed-in user's notifications (rows of `notifications`), newest first, with the note's last title. */
function renderNotifications(notifications, titles, user) {
  const mine = rowsOf(notifications).filter((n) => n.recipient === user).sort((a, b) => Number(b.id) - Number(a.id));
  const items = mine.map((n) => {
    const el = document.createElement("li");
    el.className = "notification";
    el.dataset.testid = "notification";
    el.dataset.id = n.id;
    el.dataset.note = n.note;
    const title = titles[n.note];
    el.append(strong(n.actor), ` ${n.action} your note ${title ? quote(title) : shortId(n.note)}`);
    const when = document.createElement("span");
    when.className = "notification-when";
    when.textContent = formatWhen(n.at);
    el.append(when);
    return el;
  });
  $("notifications").replaceChildren(...items);
  $("notifications-count").textContent = String(mine.length);
  $("notifications-section").hidden = mine.length === 0;
}

/** The removed notes, each with a Restore button for its author (`user`: the signed-in one). */
function renderRemoved(store, removed, user) {
  const template = document.getElementById("removed-template").content.firstElementChild;
  const items = removed.map(({ id, row, event }) => {
    const el = template.cloneNode(true);
    el.dataset.id = id;
    el.dataset.author = row.author;
    $("removed-title", el).textContent = row.title;
    const text = $("removed-text", el);
    text.textContent = row.text ?? "";
    text.hidden = !row.text;
    const who = event.meta?.user ?? "anonymous";
    $("removed-meta", el).textContent = `by ${row.author} · removed by ${who} ${formatWhen(event.timestamp)} (#${event.seq})`;
    const button = $("removed-restore", el);
    button.hidden = row.author !== user; // only the author may restore it (the server says so too)
    button.disabled = restoring.has(id);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const ok = await restoreNote(store, id, row.title);
      // on success the element goes when the push arrives (it may have already)
      if (!ok) button.disabled = false;
    });
    return el;
  });
  $("removed").replaceChildren(...items);
  $("removed-count").textContent = String(removed.length);
  $("removed-empty").hidden = removed.length > 0;
}

const CONNECTION_TEXT = { connecting: "connecting…", open: "live", retrying: "reconnecting…", closed: "offline" };

function render(store, views, shown, previous, derived) {
  const state = store.getState();
  const logChanged = state.log !== previous.log;
  const asOfChanged = state.ui.asOf !== previous.ui?.asOf;
  const { user } = state.ui;
  const userChanged = user !== previous.ui?.user; // whose notes are editable changes with it
  if (state.notes !== previous.notes || userChanged || state.ui.refused !== previous.ui?.refused) {
    renderNotes(store, views, selectNotes(state), selectPending(state.notes), state.ui.refused, user);
  }
  if (logChanged) renderLog(shown, state.log);
  if (state.notifications !== previous.notifications || userChanged || logChanged) {
    renderNotifications(state.notifications, state.log.titles, user);
  }
  if (logChanged || userChanged) {
    const removed = derived.removed(state.log.events);
    if (removed !== derived.shownRemoved || userChanged) renderRemoved(store, (derived.shownRemoved = removed), user);
  }
  if (logChanged || asOfChanged) {
    const { asOf } = state.ui;
    const view = asOf === null ? null : derived.asOf(state.log.events, asOf);
    if (view && view !== derived.shownAsOf) renderAsOf((derived.shownAsOf = view));
    renderTimeTravel(state, view);
    if (asOf !== null || asOfChanged) markLog(asOf);
  }
  if (state.ui !== previous.ui) {
    const { status, connection } = state.ui;
    $("user-select").value = user;
    setAvatar($("user-avatar"), user);
    const line = $("status");
    line.textContent = status.text;
    line.dataset.kind = status.kind;
    const pill = $("connection");
    pill.dataset.status = connection;
    pill.textContent = CONNECTION_TEXT[connection] ?? connection;
    const { pending, retrying } = state.ui.outbox;
    const outbox = $("outbox");
    outbox.hidden = pending === 0;
    outbox.dataset.retrying = String(retrying);
    outbox.textContent = `${pending} unsent${retrying ? " · retrying" : ""}`;
    document.body.dataset.outbox = retrying ? "retrying" : pending ? "sending" : "idle";
  }
  return state;
}

// ------------------------------------------------------------------ start

async function main() {
  await init(); // the wasm module, before the first event reaches the reducers

  // Only committed events change notes: no local (optimistic) events.
  const notesReducer = reduxify(notesWasm, "notes", { localEvents: false });
  const store = configureStore({
    reducer: {
      notes: notesReducer,
      // the same reducers' other collection: rows made by the server's Activity saga
      notifications: reduxify(notesWasm, "notifications", { localEvents: false }),
      log: logSlice.reducer,
      ui: uiSlice.reducer,
    },
  });
  store.dispatch(userChanged(initialUser()));

  const views = new Map();
  const shown = { count: 0 };
  // Derived from the log with the same reducers: the as-of view, the removed notes.
  const derived = { asOf: asOfSelector(notesReducer), removed: removedSelector(notesReducer) };
  let previous = {};
  const update = () => {
    try {
      previous = render(store, views, shown, previous, derived);
    } catch (err) {
      previous = store.getState();
      store.dispatch(failure(`Could not show the notes: ${err.message}`));
      console.error(err);
    }
  };
  update();
  store.subscribe(update);

  // View as of: the slider (its right end is live), the log's #seq, Back to live.
  const viewAsOf = (seq) => {
    const head = appliedSeq(store.getState());
    store.dispatch(asOfChosen(seq >= head ? null : Math.max(0, seq)));
  };
  const slider = $("as-of-slider");
  slider.addEventListener("input", () => viewAsOf(Number(slider.value)));
  slider.addEventListener("keydown", (e) => {
    if (e.key === "Escape") viewAsOf(Infinity);
  });
  $("back-to-live").addEventListener("click", () => viewAsOf(Infinity));
  $("log").addEventListener("click", (e) => {
    const seq = e.target.closest?.('[data-testid="log-seq"]')?.dataset.seq;
    if (seq !== undefined) viewAsOf(Number(seq));
  });

  // The client: every committed event from seq `after` on (0: the whole log),
  // applied by the same reducers; the user's own commands applied at once and
  // sent, kept in localStorage per user until the push confirms them.
  const connect = (after) => {
    if (client) {
      // another user's queue: kept in storage (sent when that user is back), not shown
      for (const p of selectPending(store.getState().notes)) store.dispatch(dismissed(p.id));
      for (const r of store.getState().ui.refused) store.dispatch(refusedDismissed(r.id));
      client.close();
    }
    const { user } = store.getState().ui;
    let connection = "connecting";
    client = createClient({
      url: new URL("./", location.href),
      token: user,
      user,
      after,
      dispatch: store.dispatch,
      reducer: notesWasm, // the divergence check
      retry: { minDelay: 250, maxDelay: 5000 },
      onRejected: ({ id, event, error }) => {
        // marked on its note by the notes slice, unless it was resent after a reload
        // without applying here (its note was not loaded yet): then kept in ui.refused
        if (!selectPending(store.getState().notes).some((p) => p.id === id)) store.dispatch(refusedShown({ id, event, error }));
        store.dispatch(failure(`${event.type} failed: ${explain(error)}`));
      },
      onStatus: (status) => {
        const was = connection;
        connection = status.connection;
        store.dispatch(connectionChanged(connection));
        store.dispatch(outboxChanged(status));
        if (connection === "open" && store.getState().ui.status.text === "Loading…") {
          store.dispatch(info(`Signed in as ${user}.`));
        }
        if (connection === "retrying" && was === "open") {
          store.dispatch(failure("Lost the live connection; retrying… (your changes are kept and sent when it is back)"));
        }
        if (connection === "open" && was !== "open" && store.getState().ui.status.text.startsWith("Lost the live")) {
          store.dispatch(info("Live again."));
        }
      },
      onDivergence: ({ seq }) => store.dispatch(failure(`The reducers here computed another change than the server's for #${seq}: reload the page.`)),
      onError: (err) => store.dispatch(failure(`Could not apply pushed events: ${err.message}`)),
    });
  };
  connect(0);

  $("user-select").addEventListener("change", (e) => {
    const user = e.target.value;
    sessionStorage.setItem("notes.user", user);
    const url = new URL(location.href);
    url.searchParams.set("user", user);
    history.replaceState(null, "", url);
    store.dispatch(userChanged(user));
    store.dispatch(info(`Signed in as ${user}.`));
    connect(appliedSeq(store.getState())); // the token is the user: reconnect, resuming where we were
  });
  sessionStorage.setItem("notes.user", store.getState().ui.user);

  const form = $("add-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const title = form.elements.title.value.trim();
    const text = form.elements.text.value;
    if (!title) {
      store.dispatch(failure("A note needs a title."));
      return;
    }
    // shown at once (pending); a local refusal (a duplicate id, say) keeps the form
    if (run(store, "addNote", { id: uuid(), title, text }, `Added ${quote(title)}`)) {
      form.reset();
      form.elements.title.focus();
    }
  });

  document.body.dataset.ready = "true";
  globalThis.notesApp = { store, get client() { return client; } }; // for the console and tests
}

main().catch((err) => {
  const line = $("status");
  line.textContent = `The app failed to start: ${err.message}`;
  line.dataset.kind = "error";
  console.error(err);
});
