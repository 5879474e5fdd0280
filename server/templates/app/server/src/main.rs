//! `{{name}}`: serves the page and the store.
//!
//! ```sh
//! {{name}}                                    # sqlite://{{name}}.db, http://127.0.0.1:8080/
//! {{name}} --database postgres://localhost/{{crate}} --port 0
//! {{name}} events --follow                    # print the log as it grows
//! ```

use clap::{Parser, Subcommand};
use flux_capacitor_server::cli::{self, EventsArgs, ServeArgs, TimeMachine};

/// {{name}}: Redux on the backend and in the browser, the same reducers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The database: sqlite://{{name}}.db (created if missing), postgres://..., mysql://...
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://{{name}}.db")]
    database: String,
    /// The page's directory (built by web/build.sh; every file in it is public).
    #[arg(long, default_value = {{crate}}_server::WEB_DIR)]
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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    cli::init_tracing();
    let cli = Cli::parse();
    let store = {{crate}}_server::open(&cli.database).await?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Some(Command::Events(args)) => cli::print_events(&store, &args, &mut out).await?,
        Some(Command::TimeMachine(command)) => {
            cli::time_machine(&store, &command, {{crate}}_reducers::root, &mut out).await?
        }
        Some(Command::Serve(args)) => serve(store, &cli.web, &args).await?,
        None => serve(store, &cli.web, &cli.serve).await?,
    }
    Ok(())
}

async fn serve(store: flux_capacitor_server::Store, web: &std::path::Path, args: &ServeArgs) -> std::io::Result<()> {
    if !web.join("index.html").is_file() {
        tracing::warn!(web = %web.display(), "no index.html in the web directory: build the page with web/build.sh");
    }
    cli::serve(store, {{crate}}_server::http_config(web), args, |address| {
        println!("{{name}} listening on http://{address}/");
    })
    .await
}
