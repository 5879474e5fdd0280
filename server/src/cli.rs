//! The command line of a store, for your app's binary (reducers are compiled
//! Rust, so a store's CLI is your app's own binary; it reuses these pieces):
//!
//! * [`ServeArgs`] + [`serve`]: serve [`http::app`](crate::http::app) on a host and port;
//! * [`EventsArgs`] + [`print_events`]: print the log as JSON lines, `--after`,
//!   `--type`, `--limit`, and `--follow` to keep printing new events (also
//!   those committed by other processes);
//! * [`init_tracing`]: logs to stderr, filtered by `RUST_LOG` (default `info`).
//!
//! The `flux-capacitor` binary of this crate is such a CLI for any database:
//! `flux-capacitor events --database sqlite://notes.db --follow`, or
//! `flux-capacitor serve` to browse a store's tables and log over HTTP
//! (it has no reducers, so it takes no commands).

use std::io::Write;
use std::net::SocketAddr;

use futures::StreamExt;

use crate::http::{HttpConfig, app};
use crate::{EventQuery, Store, StoreError, SubscriptionItem};

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
/// (e.g. to print the URL), and serves until Ctrl-C.
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
    axum::serve(listener, app(store, config))
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
            tracing::info!("shutting down");
        })
        .await
}

/// Prints the events `args` selects to `out`, one JSON object a line.
pub async fn print_events(store: &Store, args: &EventsArgs, out: &mut impl Write) -> Result<(), StoreError> {
    let types = (!args.types.is_empty()).then(|| args.types.clone());
    let wanted = |event: &flux_capacitor::StoredEvent| types.as_ref().is_none_or(|t| t.contains(&event.event_type));
    let mut print = |event: &flux_capacitor::StoredEvent| -> Result<(), StoreError> {
        let line = serde_json::to_string(event).map_err(|e| StoreError::rejected(None, e.to_string()))?;
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| StoreError::rejected(None, format!("cannot write the output: {e}")))
    };
    if args.follow {
        let mut feed = store.subscribe_from(args.after);
        while let Some(item) = feed.next().await {
            if let SubscriptionItem::Events(events) = item {
                for event in events.iter().filter(|e| wanted(e)) {
                    print(event)?;
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
            print(event)?;
        }
    }
    Ok(())
}
