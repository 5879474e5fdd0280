// The notes server's commands: POST /dispatch/{command}. Their answer is not
// applied: the change comes back through the live feed, like everyone else's.

/** Each command's payload (examples/notes/server: COMMANDS). */
export interface Commands {
  addNote: { id: string; title: string; text: string };
  editNoteTitle: { id: string; title: string };
  editNoteText: { id: string; text: string };
  removeNote: { id: string };
}

/** Runs `name` as `user` (the demo's bearer token is the user name); throws the server's message. */
export async function command<C extends keyof Commands>(user: string, name: C, payload: Commands[C]): Promise<void> {
  const response = await fetch(`/dispatch/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${user}` },
    body: JSON.stringify(payload),
  });
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => null);
    const message = (body as { error?: { message?: string } } | null)?.error?.message;
    throw new Error(message ?? `${name}: HTTP ${response.status}`);
  }
}
