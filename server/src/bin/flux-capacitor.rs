//! `flux-capacitor`: inspect any store's log, or browse its tables over HTTP.
//!
//! ```sh
//! flux-capacitor events --database sqlite://notes.db --type addNote --follow
//! flux-capacitor serve --database postgres://localhost/notes --port 8080
//! ```

use clap::{Parser, Subcommand};
use flux_capacitor::combine_reducers;
use flux_capacitor_server::Store;
use flux_capacitor_server::cli::{self, EventsArgs, ServeArgs};
use flux_capacitor_server::http::HttpConfig;

/// Inspect a Flux Capacitor store.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The store's database: sqlite://file.db, postgres://..., mysql://...
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://notes.db")]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the event log as JSON lines.
    Events(EventsArgs),
    /// Serve the tables and the log over HTTP (read-only: no reducers, no commands).
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    cli::init_tracing();
    let cli = Cli::parse();
    // No reducers: this binary never dispatches; it reads the log and tables.
    let store = Store::connect(&cli.database, combine_reducers()).await?;
    match cli.command {
        Command::Events(args) => cli::print_events(&store, &args, &mut std::io::stdout().lock()).await?,
        Command::Serve(args) => {
            cli::serve(store, HttpConfig::default(), &args, |address| {
                println!("serving {} on http://{address}/", cli.database);
            })
            .await?
        }
    }
    Ok(())
}
