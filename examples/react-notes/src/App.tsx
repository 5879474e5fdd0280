import { useEffect, useState, type FormEvent } from "react";
import { useDispatch, useSelector } from "react-redux";
import { dismissed } from "flux-capacitor";
import { commandEvent, type Commands } from "./api";
import {
  noteIdOf, selectNoteMarks, selectNotesByTitle, selectNotesLastSeq, selectRefusals, type AppDispatch, type Note, type NoteMark,
} from "./store";
import { useNotesClient } from "./useNotesClient";

const USERS = ["George", "Tony", "Mary"] as const;

/** The user from `?user=` (one of the demo's users; Mary by default). */
function userFromUrl(): string {
  const user = new URLSearchParams(window.location.search).get("user");
  return USERS.find((u) => u === user) ?? "Mary";
}

export function App() {
  const [user] = useState(userFromUrl);
  const [showNotes, setShowNotes] = useState(true);
  return (
    <main className="app">
      <header className="bar">
        <h1>Notes</h1>
        <span className="user" data-testid="user">{user}</span>
        <button type="button" data-testid="toggle-notes" onClick={() => setShowNotes((shown) => !shown)}>
          {showNotes ? "Hide notes" : "Show notes"}
        </button>
      </header>
      {showNotes ? (
        <NotesPanel user={user} />
      ) : (
        <p className="hint" data-testid="notes-hidden">
          Notes hidden: the live client is closed (unsent events stay queued). Showing them resumes the feed from the last seq.
        </p>
      )}
    </main>
  );
}

const NO_MARK: NoteMark = { sending: 0, rejected: [] };

/**
 * The notes, sorted by title, live: this component owns the client. A command is
 * applied at once (a pending event, marked on its note) and sent; the feed
 * confirms it. A refusal shows on its note and in the list of refusals.
 */
function NotesPanel({ user }: { user: string }) {
  const { client, status } = useNotesClient(user);
  const dispatch = useDispatch<AppDispatch>();
  const notes = useSelector(selectNotesByTitle);
  const marks = useSelector(selectNoteMarks);
  const refusals = useSelector(selectRefusals);
  const lastSeq = useSelector(selectNotesLastSeq);
  const [error, setError] = useState<string | null>(null);
  const run = <C extends keyof Commands>(name: C, payload: Commands[C]) => {
    if (!client) return;
    try {
      client.dispatch(commandEvent(name, payload));
      setError(null);
    } catch (err) {
      // the notes reducers refused it here (e.g. a note that is gone): nothing was sent
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section className="panel">
      <p className="status">
        <span className="connection" data-testid="connection" data-status={status.connection}>{status.connection}</span>
        {status.pending > 0 && (
          <span className="outbox" data-testid="outbox" data-retrying={status.retrying}>
            {status.pending} unsent{status.retrying ? " · retrying" : ""}
          </span>
        )}
        <span className="seq">
          last seq <span data-testid="last-seq">{lastSeq}</span>
        </span>
      </p>
      <AddNote onAdd={(title, text) => run("addNote", { id: crypto.randomUUID(), title, text })} />
      {error !== null && (
        <p className="error" role="alert" data-testid="error">{error}</p>
      )}
      {refusals.length > 0 && (
        <ul className="refusals" data-testid="refusals">
          {refusals.map((p) => (
            <li key={p.id} className="error" role="alert" data-testid="refusal" data-id={p.id} data-note={noteIdOf(p)}>
              {p.event.type} refused: <span data-testid="refusal-message">{p.error?.message}</span>
              <button type="button" className="dismiss" data-testid="dismiss" onClick={() => dispatch(dismissed(p.id))}>
                Dismiss
              </button>
            </li>
          ))}
        </ul>
      )}
      <ul className="notes" data-testid="notes">
        {notes.map((note) => (
          <NoteItem
            key={note.id}
            note={note}
            mark={marks[note.id] ?? NO_MARK}
            mine={note.author === user}
            onTitle={(title) => run("editNoteTitle", { id: note.id, title })}
            onText={(text) => run("editNoteText", { id: note.id, text })}
            onRemove={() => run("removeNote", { id: note.id })}
          />
        ))}
      </ul>
      {notes.length === 0 && <p className="hint">No notes yet.</p>}
    </section>
  );
}

function AddNote({ onAdd }: { onAdd: (title: string, text: string) => void }) {
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!title.trim()) return;
    onAdd(title.trim(), text);
    setTitle("");
    setText("");
  };
  return (
    <form className="add" onSubmit={submit}>
      <input data-testid="new-title" placeholder="Title" value={title} onChange={(e) => setTitle(e.target.value)} />
      <textarea data-testid="new-text" placeholder="Text" value={text} onChange={(e) => setText(e.target.value)} />
      <button type="submit" data-testid="add">Add note</button>
    </form>
  );
}

interface NoteItemProps {
  note: Note;
  /** Its pending events (shown as "pending") and refusals (their error shows on it). */
  mark: NoteMark;
  /** Whether the signed-in user wrote it: only the author edits and removes a note (the server refuses anyone else, 403). */
  mine: boolean;
  onTitle: (title: string) => void;
  onText: (text: string) => void;
  onRemove: () => void;
}

/**
 * One note, edited in place by its author: a change is sent when the field
 * loses focus (or Enter in the title). Anyone else's note is read-only.
 */
function NoteItem({ note, mark, mine, onTitle, onText, onRemove }: NoteItemProps) {
  const [title, setTitle] = useState(note.title);
  const [text, setText] = useState(note.text);
  useEffect(() => setTitle(note.title), [note.title]); // someone else's edit
  useEffect(() => setText(note.text), [note.text]);
  const saveTitle = () => {
    if (title.trim() && title !== note.title) onTitle(title);
    else setTitle(note.title);
  };
  return (
    <li
      className="note"
      data-testid="note"
      data-id={note.id}
      data-author={note.author}
      data-mine={mine}
      data-pending={mark.sending > 0 ? mark.sending : undefined}
      data-rejected={mark.rejected.length > 0 ? mark.rejected.length : undefined}
    >
      <input
        data-testid="note-title"
        aria-label="Title"
        readOnly={!mine}
        value={title}
        onChange={(e) => setTitle(e.target.value)}
        onBlur={saveTitle}
        onKeyDown={(e) => e.key === "Enter" && e.currentTarget.blur()}
      />
      <textarea
        data-testid="note-text"
        aria-label="Text"
        readOnly={!mine}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => text !== note.text && onText(text)}
      />
      {mark.rejected.length > 0 && (
        <p className="error" data-testid="note-error">{mark.rejected.at(-1)?.message}</p>
      )}
      <p className="meta">
        by <span data-testid="note-author">{note.author}</span>
        {mark.sending > 0 && (
          <span className="pending" data-testid="note-pending"> · pending</span>
        )}
        {mine && (
          <button type="button" className="remove" data-testid="note-remove" onClick={onRemove}>
            Remove
          </button>
        )}
      </p>
    </li>
  );
}
