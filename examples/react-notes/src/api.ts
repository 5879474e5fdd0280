// The notes server's commands, as events: `POST /dispatch/{command}` with the payload
// as the body is what the live client sends for `{ type: command, payload }`.

/** Each command's payload (examples/notes/server: COMMANDS). */
export interface Commands {
  addNote: { id: string; title: string; text: string };
  editNoteTitle: { id: string; title: string };
  editNoteText: { id: string; text: string };
  removeNote: { id: string };
}

/** The event of command `name`: what the client applies at once and sends. */
export function commandEvent<C extends keyof Commands>(name: C, payload: Commands[C]): { type: C; payload: Commands[C] } {
  return { type: name, payload };
}
