import { useEffect, useState, type FormEvent } from "react";
import { useSelector } from "react-redux";
import { command, type Commands } from "./api";
import { selectNotesByTitle, selectNotesLastSeq, type Note } from "./store";
import { useLiveNotes } from "./useLiveNotes";

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
          Notes hidden: the live feed is closed. Showing them resumes it from the last seq.
        </p>
      )}
    </main>
  );
}

/** The notes, sorted by title, live: this component owns the subscription. */
function NotesPanel({ user }: { user: string }) {
  const status = useLiveNotes(user);
  const notes = useSelector(selectNotesByTitle);
  const lastSeq = useSelector(selectNotesLastSeq);
  const [error, setError] = useState<string | null>(null);
  const run = <C extends keyof Commands>(name: C, payload: Commands[C]) => {
    command(user, name, payload).then(
      () => setError(null),
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return (
    <section className="panel">
      <p className="status">
        <span className="connection" data-testid="connection" data-status={status}>{status}</span>
        <span className="seq">
          last seq <span data-testid="last-seq">{lastSeq}</span>
        </span>
      </p>
      <AddNote onAdd={(title, text) => run("addNote", { id: crypto.randomUUID(), title, text })} />
      {error !== null && (
        <p className="error" role="alert" data-testid="error">{error}</p>
      )}
      <ul className="notes" data-testid="notes">
        {notes.map((note) => (
          <NoteItem
            key={note.id}
            note={note}
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
function NoteItem({ note, mine, onTitle, onText, onRemove }: NoteItemProps) {
  const [title, setTitle] = useState(note.title);
  const [text, setText] = useState(note.text);
  useEffect(() => setTitle(note.title), [note.title]); // someone else's edit
  useEffect(() => setText(note.text), [note.text]);
  const saveTitle = () => {
    if (title.trim() && title !== note.title) onTitle(title);
    else setTitle(note.title);
  };
  return (
    <li className="note" data-testid="note" data-id={note.id} data-author={note.author} data-mine={mine}>
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
      <p className="meta">
        by <span data-testid="note-author">{note.author}</span>
        {mine && (
          <button type="button" className="remove" data-testid="note-remove" onClick={onRemove}>
            Remove
          </button>
        )}
      </p>
    </li>
  );
}
