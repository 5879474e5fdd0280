//! `notes`: the notes app. Serves the frontend and the store.
//!
//! ```sh
//! notes                                   # sqlite://notes.db, http://127.0.0.1:8080/
//! notes --database postgres://localhost/notes --port 0
//! notes events --follow                   # print the log as it grows
//! notes as-of 42 notes                    # the notes right after event 42
//! notes history notes n1                  # who changed note n1, and how
//! notes restore notes n1 --user Mary      # bring a removed note back
//! notes replay --table notes=notes_next   # rebuild from the log into a new table, then switch
//! notes sagas list                        # the Activity saga's position, lag, effects, timers
//! ```
//!
//! Only `serve` runs the sagas.

use clap::{Parser, Subcommand};
use flux_capacitor_server::cli::{self, EventsArgs, ServeArgs, TimeMachine};
use flux_capacitor_server::saga::cli::{SagasCommand, sagas};

/// The notes app: Redux on the backend and in the browser, the same reducers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The database: sqlite://notes.db (created if missing), postgres://..., mysql://...
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://notes.db")]
    database: String,
    /// The frontend's directory: the page as built by scripts/build-notes-web.sh
    /// (every file in it is served, without authentication).
    #[arg(long, default_value = notes_server::WEB_DIR)]
    web: std::path::PathBuf,
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the app (the default).
    Serve(ServeArgs),
    /// Print the event log as JSON lines.
    Events(EventsArgs),
    #[command(flatten)]
    TimeMachine(TimeMachine),
    /// The sagas: `list`, `parked`, `retry KEY`.
    #[command(subcommand)]
    Sagas(SagasCommand),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    cli::init_tracing();
    let cli = Cli::parse();
    let store = notes_server::open(&cli.database).await?;
    match cli.command {
        Some(Command::Events(args)) => cli::print_events(&store, &args, &mut std::io::stdout().lock()).await?,
        Some(Command::TimeMachine(command)) => {
            cli::time_machine(&store, &command, notes_reducers::root, &mut std::io::stdout().lock()).await?
        }
        Some(Command::Sagas(command)) => sagas(&store, &command, &mut std::io::stdout().lock()).await?,
        Some(Command::Serve(args)) => serve(store, &cli.web, &args).await?,
        None => serve(store, &cli.web, &cli.serve).await?,
    }
    Ok(())
}

async fn serve(store: flux_capacitor_server::Store, web: &std::path::Path, args: &ServeArgs) -> std::io::Result<()> {
    if !web.join("index.html").is_file() {
        tracing::warn!(web = %web.display(), "no index.html in the web directory: build the page with scripts/build-notes-web.sh");
    }
    let sagas = store.run_sagas();
    let served = cli::serve(store, notes_server::http_config(web), args, |address| {
        println!("notes app listening on http://{address}/");
    })
    .await;
    sagas.stop().await;
    served
}
