//! Benchmarks of the store (issue 6): dispatch throughput, concurrent
//! dispatch, replay, WebSocket delivery and memory, each beside its baseline
//! measured in the same run. Prints markdown tables.
//!
//! ```sh
//! cargo bench -p flux-capacitor-server --bench store            # everything
//! cargo bench -p flux-capacitor-server --bench store -- dispatch # some sections:
//! #   dispatch concurrent replay subscribe memory instances timemachine icelog growth
//! ```
//!
//! `BENCH_TM_SIZES=10000,100000` narrows the time machine's sizes (default
//! 10,000, 100,000 and 1,000,000 rows and events), `BENCH_GROWTH_SIZES` the
//! cost-growth table's (the same default).
//! `BENCH_QUICK=1` shortens every measurement (a smoke run, not figures);
//! `BENCH_ICELOG_EVENTS` the icelog's (default 1,000,000);
//! `BENCH_REPLAY_EVENTS` sets the replayed log's length (default 1,000,000);
//! `BENCH_BACKENDS=sqlite,postgres` and `BENCH_BATCHES=1,1000` narrow the
//! dispatch sections; `BENCH_SUBSCRIBERS=1000,10000` sets the WebSocket section's
//! numbers of subscribers (default 100, 1,000 and 10,000). `bash scripts/bench.sh` runs this and the frontend's.
//! PostgreSQL and MariaDB are reached as the tests reach them
//! (`DATABASE_URL_POSTGRES`, `DATABASE_URL_MYSQL`).

use std::time::Duration;

use flux_capacitor_server::Dialect;

#[path = "store/dispatch.rs"]
mod dispatch;
#[path = "store/growth.rs"]
mod growth;
#[path = "store/icelog.rs"]
mod icelog;
#[path = "store/instances.rs"]
mod instances;
#[path = "store/memory.rs"]
mod memory;
#[path = "store/raw.rs"]
mod raw;
#[path = "store/replay.rs"]
mod replay;
#[path = "store/subscribe.rs"]
mod subscribe;
#[path = "store/support.rs"]
mod support;
#[path = "store/timemachine.rs"]
mod timemachine;

const SECTIONS: [&str; 9] = [
    "dispatch",
    "concurrent",
    "replay",
    "subscribe",
    "memory",
    "instances",
    "timemachine",
    "icelog",
    "growth",
];

/// The allocator of the `flux-capacitor` binary (its default `mimalloc`
/// feature), so the figures are the service's; the baselines use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    // `cargo test --all-targets` runs bench targets too, without `--bench`:
    // then only check that this starts (measuring takes minutes, in release).
    if args.is_empty() && !std::env::args().any(|a| a == "--bench") {
        println!("store benchmarks: run them with `cargo bench` or `bash scripts/bench.sh`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Child processes (a fresh process per memory measurement).
    if let Some(child) = args.first().and_then(|a| a.strip_prefix("child-")) {
        let (child, rest) = (child.to_string(), args[1..].to_vec());
        runtime
            .block_on(async { tokio::spawn(async move { run_child(&child, &rest).await }).await })
            .expect("child");
        return;
    }
    let wanted: Vec<String> = if args.is_empty() {
        SECTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        args
    };
    for name in &wanted {
        if !SECTIONS.contains(&name.as_str()) {
            eprintln!("unknown section `{name}`; sections: {}", SECTIONS.join(" "));
            std::process::exit(2);
        }
    }
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let scale = move |full: u64, short: u64| Duration::from_millis(if quick { short } else { full });
    let all: Vec<Dialect> = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql]
        .into_iter()
        .filter(|d| {
            std::env::var("BENCH_BACKENDS").map_or(true, |only| {
                only.split(',')
                    .any(|b| support::backend_name(*d).to_lowercase().starts_with(&b.to_lowercase()))
            })
        })
        .collect();
    let batches: Vec<usize> = std::env::var("BENCH_BATCHES")
        .ok()
        .map(|v| v.split(',').filter_map(|b| b.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1000]);
    let subscribers: Vec<usize> = std::env::var("BENCH_SUBSCRIBERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000, 10_000]);
    // Everything runs in a task on the runtime's workers, as a server's
    // handlers do (not on the thread that blocks on the runtime).
    let sections = async move {
        for name in wanted {
            match name.as_str() {
                "dispatch" => dispatch::throughput(&all, &batches, 3, scale(1000, 200)).await,
                "concurrent" => dispatch::concurrent(&all, &[1, 8, 64], scale(2000, 300)).await,
                "replay" => replay::run(quick).await,
                "subscribe" => subscribe::run(&subscribers, if quick { 20 } else { 100 }).await,
                "memory" => memory::run(&all, scale(2000, 300)).await,
                "instances" => {
                    instances::latency(&all, if quick { 20 } else { 200 }, Duration::from_millis(50)).await;
                    instances::throughput(&all, scale(3000, 300)).await;
                }
                "timemachine" => timemachine::run(&all).await,
                "icelog" => icelog::run(quick).await,
                "growth" => growth::run(&all).await,
                _ => unreachable!(),
            }
        }
    };
    runtime
        .block_on(async { tokio::spawn(sections).await })
        .expect("benchmarks");
}

async fn run_child(name: &str, args: &[String]) {
    match name {
        "build-log" => replay::child_build_log(args).await,
        "replay" => replay::child_replay(args).await,
        "rebuild" => replay::child_rebuild(args).await,
        "memory" => memory::child(args).await,
        "subscribers" => subscribe::child_subscribers(args).await,
        _ => panic!("unknown child `{name}`"),
    }
}
