//! The notes app's server: the [`notes_reducers`] in a Flux Capacitor store,
//! its commands, its users, who may change which note ([`NotesAccess`]), and
//! its migrations for SQLite, PostgreSQL and MySQL/MariaDB, and its
//! [`Activity`] saga (run by `serve` only).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use flux_capacitor_server::Context;
//! use serde_json::json;
//!
//! let store = notes_server::open("sqlite::memory:").await?;
//! let ctx = Context::user("Mary");
//! store.command("addNote", json!({ "id": "n1", "title": "Hi", "text": "" }), &ctx).await?;
//! assert_eq!(store.find_by_id("notes", "n1").await?.unwrap()["title"], "Hi");
//! # Ok(())
//! # }
//! ```

mod access;
mod activity;

pub use access::NotesAccess;
pub use activity::{Activity, DIGEST_DUE_EVENT, DIGEST_EVENT};

use flux_capacitor::Event;
use flux_capacitor_server::http::{BearerTokens, HttpConfig};
use flux_capacitor_server::{Context, DbPool, Store, StoreError, command_fn};
use notes_reducers::NoteEvent;
use serde_json::Value;

/// The demo's users; each one's bearer token is the name itself.
pub const USERS: [&str; 3] = ["George", "Tony", "Mary"];

/// The commands: one per notes event, named like it.
pub const COMMANDS: [&str; 4] = ["addNote", "editNoteTitle", "editNoteText", "removeNote"];

/// Connects to `url`, runs the notes migrations of its dialect (the store
/// creates its own event log) and opens the store with the notes commands
/// and the [`Activity`] saga (registered; [`Store::run_sagas`] runs it).
pub async fn open(url: &str) -> Result<Store, StoreError> {
    let pool = DbPool::connect(url, 10).await?;
    let migrator = match &pool {
        DbPool::Sqlite(_) => sqlx::migrate!("migrations/sqlite"),
        DbPool::Postgres(_) => sqlx::migrate!("migrations/postgres"),
        DbPool::MySql(_) => sqlx::migrate!("migrations/mysql"),
        _ => return Err(StoreError::rejected(None, "unsupported database")),
    };
    // Safe when several instances start at once (sqlx's own lock is not, on SQLite and MariaDB).
    pool.run_migrations(&migrator)
        .await
        .map_err(|e| StoreError::from(sqlx::Error::from(e)))?;
    let mut builder = Store::builder(notes_reducers::root()).saga(Activity);
    for name in COMMANDS {
        builder = builder.command(
            name,
            command_fn(move |store, payload, ctx| note_command(store, name, payload, ctx)),
        );
    }
    builder.open(pool).await
}

/// A notes command: the payload must decode as the event of the same name,
/// and a note must exist before it is edited or removed; an edit or removal
/// carries the note's author in `meta.author` (for the [`Activity`] saga).
async fn note_command(
    store: Store,
    name: &'static str,
    payload: Value,
    _ctx: Context,
) -> Result<Vec<Event>, StoreError> {
    let event = Event::new(name, payload);
    let typed = event
        .decode::<NoteEvent>()
        .map_err(|e| StoreError::rejected(Some(name), e.to_string()))?;
    let id = match &typed {
        Some(NoteEvent::AddNote { .. }) | None => None,
        Some(
            NoteEvent::EditNoteTitle { id, .. } | NoteEvent::EditNoteText { id, .. } | NoteEvent::RemoveNote { id },
        ) => Some(id.as_str()),
    };
    let mut event = event;
    if let Some(id) = id {
        let Some(note) = store.find_by_id("notes", id).await? else {
            return Err(StoreError::rejected(Some(name), format!("no note `{id}`")));
        };
        // The note's author, for the Activity saga, which reads no tables.
        if let Some(author) = note.get("author") {
            event = event.with_meta(serde_json::json!({ "author": author }));
        }
    }
    Ok(vec![event])
}

/// The page's directory the `notes` binary serves by default: the build output
/// of `scripts/build-notes-web.sh` (`examples/notes/web/dist`: `index.html`,
/// `app.js`, `style.css` and the browser builds under `vendor/`), never the
/// page's sources, whose `package.json`, `README.md`, `test/` and
/// `node_modules/` (linking into `js/`) are no one's business.
pub const WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist");

/// The service's settings: the demo users' bearer tokens, who may change
/// which note ([`NotesAccess`]: only its author) and the frontend's files
/// (every file in `web_dir` is public: pass a build output such as
/// [`WEB_DIR`]).
pub fn http_config(web_dir: impl Into<std::path::PathBuf>) -> HttpConfig {
    HttpConfig::default()
        .authenticator(BearerTokens::new(USERS.map(|u| (u, u))))
        .access(NotesAccess)
        .static_dir(web_dir)
}
