//! The command line of a store, for your app's binary (reducers are compiled
//! Rust, so a store's CLI is your app's own binary; it reuses these pieces):
//!
//! * [`ServeArgs`] + [`serve`]: serve [`http::app`] on a host and port;
//! * [`EventsArgs`] + [`print_events`]: print the log as JSON lines, `--after`,
//!   `--type`, `--limit`, and `--follow` to keep printing new events (also
//!   those committed by other processes);
//! * [`AsOfArgs`], [`HistoryArgs`], [`RestoreArgs`], [`ReplayArgs`] and
//!   [`time_machine`]: the read model as of a past point, the history of one
//!   row, restoring a destroyed row, and replaying the log into new tables
//!   with the binary's reducers (with a progress bar);
//! * [`init_tracing`]: logs to stderr, filtered by `RUST_LOG` (default `info`).
//!
//! The `flux-capacitor` binary of this crate is such a CLI for any database:
//! `flux-capacitor events --database sqlite://notes.db --follow`, or
//! `flux-capacitor serve` to browse a store's tables and log over HTTP
//! (it has no reducers, so it takes no commands).

use std::io::Write;
use std::net::SocketAddr;

use futures::StreamExt;

use crate::http::{self, HttpConfig, app};
use crate::{Context, EventQuery, Store, StoreError, SubscriptionItem};

/// Where to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "FLUX_HOST")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080, env = "FLUX_PORT")]
    pub port: u16,
}

/// Which events to print.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Only events after this `seq`.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Only events of this type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// At most this many events (without `--follow`).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Keep printing events as they are committed.
    #[arg(long)]
    pub follow: bool,
}

/// The read model as it was at a point.
#[derive(Debug, Clone, clap::Args)]
pub struct AsOfArgs {
    /// A `seq`, or an RFC 3339 time.
    pub point: String,
    /// Only this collection's rows (default: every collection).
    pub collection: Option<String>,
}

/// Every event that changed one row.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// The collection.
    pub collection: String,
    /// The row's key.
    pub id: String,
}

/// Brings a destroyed row back (a logged `flux/restore` event).
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The collection.
    pub collection: String,
    /// The row's key.
    pub id: String,
    /// Who restores it (written to the event's `meta.user`).
    #[arg(long)]
    pub user: Option<String>,
}

/// Rebuilds the read model from the log with this binary's reducers.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// `collection=new_table`, one per collection the reducers write; the new
    /// tables must exist (your new migrations) and be empty.
    #[arg(long = "table", value_name = "COLLECTION=TABLE", required = true)]
    pub tables: Vec<String>,
}

/// The time machine's commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TimeMachine {
    /// Print the read model as of a `seq` or a time, as JSON.
    AsOf(AsOfArgs),
    /// Print every event that changed a row, with the row before and after, as JSON lines.
    History(HistoryArgs),
    /// Bring a destroyed row back with a logged event.
    Restore(RestoreArgs),
    /// Replay the log into new tables with this binary's reducers, then switch to them.
    Replay(ReplayArgs),
}

/// Runs a [`TimeMachine`] command on `store`; `reducer` builds the reducers
/// for `replay` (the binary's own). Output goes to `out`, progress to stderr.
pub async fn time_machine<R: flux_capacitor::Reducer + 'static>(
    store: &Store,
    command: &TimeMachine,
    reducer: impl FnOnce() -> R,
    out: &mut impl Write,
) -> Result<(), StoreError> {
    match command {
        TimeMachine::AsOf(args) => {
            let as_of = store.as_of(args.point.as_str()).await?;
            let state = match &args.collection {
                Some(collection) => serde_json::to_value(as_of.find_all(collection, &crate::FindOptions::all()).await?),
                None => Ok(as_of.snapshot().await?),
            };
            let state = state.map_err(|e| StoreError::rejected(None, e.to_string()))?;
            eprintln!("as of seq {}", as_of.seq);
            print_json(out, &state)
        }
        TimeMachine::History(args) => {
            let id = store.parse_key(&args.collection, &args.id);
            for change in store.history(&args.collection, id).await? {
                print_json(out, &change)?;
            }
            Ok(())
        }
        TimeMachine::Restore(args) => {
            let ctx = Context {
                user: args.user.clone(),
                ..Context::default()
            };
            let id = store.parse_key(&args.collection, &args.id);
            let event = store.restore(&args.collection, id, &ctx).await?;
            print_json(out, &event)
        }
        TimeMachine::Replay(args) => {
            let mut tables = Vec::new();
            for pair in &args.tables {
                let (collection, table) = pair.split_once('=').ok_or_else(|| {
                    StoreError::rejected(None, format!("`--table {pair}`: expected COLLECTION=TABLE"))
                })?;
                tables.push((collection, table));
            }
            let bar = indicatif::ProgressBar::new(store.head().max(1));
            bar.set_style(
                indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} events ({per_sec})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            let report = store
                .rebuild(reducer(), &tables, |p| {
                    bar.set_length(p.head.max(1));
                    bar.set_position(p.replayed);
                })
                .await;
            bar.finish_and_clear();
            let report = report?;
            eprintln!(
                "replayed {} events; writes paused {:.1} ms; old tables kept as {}",
                report.replayed,
                report.paused.as_secs_f64() * 1000.0,
                report.retired.join(", ")
            );
            Ok(())
        }
    }
}

/// Writes `value` as one line of JSON and flushes (for `--follow`).
fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), StoreError> {
    let line = serde_json::to_string(value).map_err(|e| StoreError::rejected(None, e.to_string()))?;
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| StoreError::rejected(None, format!("cannot write the output: {e}")))
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .ok();
}

/// Binds `args.host:args.port`, calls `listening` with the bound address
/// (e.g. to print the URL), and serves until Ctrl-C, under `config`'s
/// connection limits ([`http::serve`]).
pub async fn serve(
    store: Store,
    config: HttpConfig,
    args: &ServeArgs,
    listening: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving");
    listening(address);
    let router = app(store, config.clone());
    http::serve(listener, router, &config, async {
        tokio::signal::ctrl_c().await.ok();
        tracing::info!("shutting down");
    })
    .await
}

/// Prints the events `args` selects to `out`, one JSON object a line.
pub async fn print_events(store: &Store, args: &EventsArgs, out: &mut impl Write) -> Result<(), StoreError> {
    let types = (!args.types.is_empty()).then(|| args.types.clone());
    let wanted = |event: &flux_capacitor::StoredEvent| types.as_ref().is_none_or(|t| t.contains(&event.event_type));
    if args.follow {
        let mut feed = store.subscribe_from(args.after);
        while let Some(item) = feed.next().await {
            if let SubscriptionItem::Events(events) = item {
                for event in events.iter().filter(|e| wanted(e)) {
                    print_json(out, event)?;
                }
            }
        }
        return Ok(());
    }
    let mut after = args.after;
    let mut left = args.limit.unwrap_or(u64::MAX);
    while left > 0 {
        let page = store
            .events(EventQuery {
                after_seq: after,
                limit: left.min(1000),
                types: types.clone(),
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        left -= page.len() as u64;
        for event in &page {
            print_json(out, event)?;
        }
    }
    Ok(())
}
