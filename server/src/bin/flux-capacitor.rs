//! `flux-capacitor`: start a new app, inspect any store's log, or browse its
//! tables over HTTP.
//!
//! ```sh
//! flux-capacitor new my-app --flux-path ~/src/flux-capacitor
//! flux-capacitor events --database sqlite://notes.db --type addNote --follow
//! flux-capacitor serve --database postgres://localhost/notes --port 8080
//! flux-capacitor freeze --older-than 90d --icelog /var/lib/notes/icelog
//! flux-capacitor icelog --verify
//! ```

use clap::{Parser, Subcommand};
use flux_capacitor::combine_reducers;
use flux_capacitor_server::cli::{self, EventsArgs, IceLogCommand, ServeArgs};
use flux_capacitor_server::http::HttpConfig;
use flux_capacitor_server::starter::{self, Dependencies};
use flux_capacitor_server::{Config, Store};

/// mimalloc rather than the system's allocator: replaying a log spent about a
/// quarter of its time in glibc's malloc and free (BENCHMARKS.md §3). The
/// `mimalloc` feature, on by default, built without transparent huge pages
/// (with them the resident memory more than doubled); the library itself sets
/// no allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where and how to make the app.
#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The app's directory (created; if it exists it must be empty).
    path: std::path::PathBuf,
    /// The app's name (default: the directory's name): lowercase letters,
    /// digits, `-` and `_`, starting with a letter.
    #[arg(long)]
    name: Option<String>,
    /// A checkout of Flux Capacitor to depend on by path (the crates and the
    /// npm package are not published yet). Without it the app depends on
    /// version 0.1 from crates.io and npm, which is what it will be once
    /// they are published.
    #[arg(long, value_name = "CHECKOUT")]
    flux_path: Option<std::path::PathBuf>,
}

fn new_app(args: &NewArgs) -> Result<(), Box<dyn std::error::Error>> {
    let deps = match &args.flux_path {
        Some(path) => Dependencies::Checkout(path.clone()),
        None => Dependencies::Published,
    };
    let files = match starter::new_app(&args.path, args.name.as_deref(), &deps) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    };
    let dir = args.path.display();
    // The name new_app used: --name, or the directory's (it checked that one exists).
    let name = args.name.clone().unwrap_or_else(|| {
        args.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    println!("created {} files in {dir}; next:", files.len());
    println!("  cd {dir} && cargo test        # the reducers and the store on SQLite");
    println!("  bash web/build.sh             # the wasm packages and the page");
    let run = format!("cargo run --bin {name}");
    println!("  {run:<30}# http://127.0.0.1:8080/ (README.md has the rest)");
    Ok(())
}

/// Start a Flux Capacitor app, or inspect a store.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The store's database: sqlite://file.db, postgres://..., mysql://...
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://notes.db")]
    database: String,
    /// Where frozen events go (`freeze`): a directory, file://... or
    /// s3://bucket/prefix (the `s3` feature). Default: beside an SQLite file.
    #[arg(long, global = true, env = "FLUX_ICELOG")]
    icelog: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new app from the template: reducers, wasm, server, page, scenario.
    New(NewArgs),
    /// Print the event log as JSON lines.
    Events(EventsArgs),
    /// Serve the tables and the log over HTTP (read-only: no reducers, no
    /// commands, no time machine: `as_of` and `history` need the app's own
    /// binary, which keeps the row versions).
    Serve(ServeArgs),
    #[command(flatten)]
    IceLog(IceLogCommand),
    /// The sagas of the database: `list`, `parked`, `retry KEY` (runs none).
    #[command(subcommand)]
    Sagas(flux_capacitor_server::saga::cli::SagasCommand),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    cli::init_tracing();
    let cli = Cli::parse();
    if let Command::New(args) = &cli.command {
        // Before connecting: a new app has no store yet.
        return new_app(args);
    }
    // No reducers: this binary never dispatches; it reads the log and tables.
    // Nor does it keep row versions: without the app's reducers it could not
    // build a missing versions table from the log, and one started at the
    // head would keep the app from building the whole history later.
    let config = Config {
        icelog: cli.icelog.clone(),
        row_versions: false,
        ..Config::default()
    };
    let store = Store::builder(combine_reducers())
        .config(config)
        .connect(&cli.database)
        .await?;
    match cli.command {
        Command::Events(args) => cli::print_events(&store, &args, &mut std::io::stdout().lock()).await?,
        Command::New(_) => unreachable!("handled above"),
        Command::IceLog(command) => cli::ice_log(&store, &command, &mut std::io::stdout().lock()).await?,
        Command::Sagas(command) => {
            flux_capacitor_server::saga::cli::sagas(&store, &command, &mut std::io::stdout().lock()).await?
        }
        Command::Serve(args) => {
            cli::serve(store, HttpConfig::default(), &args, |address| {
                println!("serving {} on http://{address}/", cli.database);
            })
            .await?
        }
    }
    Ok(())
}
