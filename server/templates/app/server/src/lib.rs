//! The server of {{name}}: the reducers in a Flux Capacitor store, its
//! commands, and its migrations for SQLite, PostgreSQL and MySQL/MariaDB.

use flux_capacitor::Event;
use flux_capacitor_server::http::HttpConfig;
use flux_capacitor_server::{Context, DbPool, Store, StoreError, command_fn};
use serde_json::Value;
use {{crate}}_reducers::TodoEvent;

/// The commands (`POST /dispatch/{command}`): one per event, named like it.
pub const COMMANDS: [&str; 3] = ["addTodo", "setTodoDone", "removeTodo"];

/// Connects to `url`, runs the migrations of its dialect (the store creates
/// its own event log) and opens the store with the commands.
pub async fn open(url: &str) -> Result<Store, StoreError> {
    let pool = DbPool::connect(url, 10).await?;
    let migrator = match &pool {
        DbPool::Sqlite(_) => sqlx::migrate!("migrations/sqlite"),
        DbPool::Postgres(_) => sqlx::migrate!("migrations/postgres"),
        DbPool::MySql(_) => sqlx::migrate!("migrations/mysql"),
        _ => return Err(StoreError::rejected(None, "unsupported database")),
    };
    pool.run_migrations(&migrator)
        .await
        .map_err(|e| StoreError::from(sqlx::Error::from(e)))?;
    let mut builder = Store::builder({{crate}}_reducers::root());
    for name in COMMANDS {
        builder = builder.command(name, command_fn(move |_store, payload, _ctx: Context| todo_command(name, payload)));
    }
    builder.open(pool).await
}

/// A command's payload must decode as the event of the same name.
async fn todo_command(name: &'static str, payload: Value) -> Result<Vec<Event>, StoreError> {
    let event = Event::new(name, payload);
    event
        .decode::<TodoEvent>()
        .map_err(|e| StoreError::rejected(Some(name), e.to_string()))?;
    Ok(vec![event])
}

/// The page's directory served by default (built by `web/build.sh`).
pub const WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist");

/// The service's settings: anyone may read and dispatch (add an
/// `authenticator` and an `access` policy before you deploy it), and the
/// page's files (every file in `web_dir` is public).
pub fn http_config(web_dir: impl Into<std::path::PathBuf>) -> HttpConfig {
    HttpConfig::default().static_dir(web_dir)
}
