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
//! * [`IceLogCommand`] and [`ice_log`]: `freeze`, `thaw` and `icelog`
//!   (list or verify the segments) — the [`icelog`](crate::icelog), with
//!   progress bars;
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

/// Moves old events to the icelog.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct FreezeArgs {
    /// Freeze the events whose `seq` is below this one.
    #[arg(long, value_name = "SEQ")]
    pub below_seq: Option<u64>,
    /// Freeze the events older than this: a duration back from now (`90d`,
    /// `12h`, `30m`, `45s`, `2w`) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION_OR_TIME")]
    pub older_than: Option<String>,
}

/// Brings frozen events back into the database.
#[derive(Debug, Clone, clap::Args)]
pub struct ThawArgs {
    /// Only the segments whose first `seq` is above this one (default: all).
    #[arg(long, value_name = "SEQ")]
    pub above_seq: Option<u64>,
}

/// Lists the icelog's segments.
#[derive(Debug, Clone, clap::Args)]
pub struct IcelogArgs {
    /// Read every segment back and check it.
    #[arg(long)]
    pub verify: bool,
}

/// The icelog's commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum IceLogCommand {
    /// Move old events out of the database into compressed, checksummed segments.
    Freeze(FreezeArgs),
    /// Bring frozen events back into the database.
    Thaw(ThawArgs),
    /// List the icelog's segments as JSON lines (`--verify`: read each back).
    Icelog(IcelogArgs),
}

/// `text` as a point in time: an RFC 3339 time, or a duration (`<n>` with
/// `s`, `m`, `h`, `d` or `w`) back from `now`.
pub fn parse_older_than(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&chrono::Utc));
    }
    let invalid = || {
        StoreError::rejected(
            None,
            format!("`--older-than {text}`: expected a duration (90d, 12h, 30m, 45s, 2w) or an RFC 3339 time"),
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid()),
    };
    let back = number
        .checked_mul(seconds)
        .and_then(chrono::TimeDelta::try_seconds)
        .ok_or_else(invalid)?;
    now.checked_sub_signed(back).ok_or_else(invalid)
}

fn progress_bar(unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// Runs an [`IceLogCommand`] on `store`: a summary (or, for `icelog`, one
/// JSON line per segment) to `out`, progress to stderr.
pub async fn ice_log(store: &Store, command: &IceLogCommand, out: &mut impl Write) -> Result<(), StoreError> {
    let moved = |bar: &indicatif::ProgressBar| {
        let bar = bar.clone();
        move |p: crate::IceProgress| {
            bar.set_length(p.total.max(1));
            bar.set_position(p.done);
        }
    };
    match command {
        IceLogCommand::Freeze(args) => {
            let below = match (&args.below_seq, &args.older_than) {
                (Some(seq), _) => crate::FreezeBelow::Seq(*seq),
                (None, Some(text)) => crate::FreezeBelow::OlderThan(parse_older_than(text, chrono::Utc::now())?),
                (None, None) => return Err(StoreError::rejected(None, "freeze: give --below-seq or --older-than")),
            };
            let bar = progress_bar("events");
            let report = store.freeze(below, moved(&bar)).await;
            bar.finish_and_clear();
            let report = report?;
            let bytes: u64 = report.segments.iter().map(|s| s.bytes).sum();
            print_json(
                out,
                &serde_json::json!({ "frozen_events": report.events, "segments": report.segments.len(), "bytes": bytes }),
            )
        }
        IceLogCommand::Thaw(args) => {
            let bar = progress_bar("events");
            let report = store.thaw(args.above_seq, moved(&bar)).await;
            bar.finish_and_clear();
            let report = report?;
            print_json(
                out,
                &serde_json::json!({ "thawed_events": report.events, "segments": report.segments.len() }),
            )
        }
        IceLogCommand::Icelog(args) => {
            let segments = store.icelog_segments().await?;
            let bar = progress_bar("segments");
            bar.set_length(segments.len() as u64);
            if !args.verify {
                bar.finish_and_clear();
            }
            let mut failed = 0;
            for segment in &segments {
                let mut line = serde_json::to_value(segment).map_err(|e| StoreError::rejected(None, e.to_string()))?;
                if args.verify {
                    let verdict = store.verify_segment(segment).await;
                    bar.inc(1);
                    line["verified"] = match &verdict {
                        Ok(()) => serde_json::json!("ok"),
                        Err(err) => {
                            failed += 1;
                            serde_json::json!({ "error": err.kind(), "message": err.to_string() })
                        }
                    };
                }
                print_json(out, &line)?;
            }
            bar.finish_and_clear();
            if failed > 0 {
                return Err(StoreError::IceLog {
                    reason: format!("{failed} of {} segments failed verification", segments.len()),
                });
            }
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
