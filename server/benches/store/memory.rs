//! Memory (issue item 6): RSS of a server process (store + HTTP service, each backend in
//! a fresh process) idle and under the dispatch load, beside the same process
//! before it opens anything.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flux_capacitor_server::Dialect;
use flux_capacitor_server::http::{HttpConfig, app};

use super::dispatch::bench_config;
use super::support::{BenchDb, Table, Workload, backend_name, rss_mib};

fn dialect_arg(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
        _ => "mysql",
    }
}

pub async fn run(dialects: &[Dialect], load_for: Duration) {
    println!("\n### 6. Memory (VmRSS / VmHWM of the process, MiB)\n");
    let mut table = Table::new(&[
        "backend",
        "process before the store",
        "idle (store + HTTP service open)",
        "under load: peak VmRSS sampled / VmHWM",
        "idle again after the load",
    ]);
    for &dialect in dialects {
        let exe = std::env::current_exe().expect("current exe");
        let output = Command::new(exe)
            .args(["child-memory", dialect_arg(dialect), &load_for.as_millis().to_string()])
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "memory child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let fields: Vec<f64> = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("RESULT line")
            .split_whitespace()
            .map(|f| f.parse().expect("number"))
            .collect();
        table.row(vec![
            backend_name(dialect).into(),
            format!("{:.1}", fields[0]),
            format!("{:.1}", fields[1]),
            format!("{:.1} / {:.1}", fields[2], fields[3]),
            format!("{:.1}", fields[4]),
        ]);
    }
    println!(
        "\nLoad: 64 concurrent single-event dispatchers for {:.1} s, then batches of 1000 for {:.1} s (notes workload).",
        load_for.as_secs_f64(),
        load_for.as_secs_f64()
    );
}

/// Child: prints RSS before, idle, peak under load, VmHWM, idle after.
pub async fn child(args: &[String]) {
    let dialect = match args[0].as_str() {
        "sqlite" => Dialect::Sqlite,
        "postgres" => Dialect::Postgres,
        _ => Dialect::MySql,
    };
    let load_for = Duration::from_millis(args[1].parse().expect("millis"));
    let (before, _) = rss_mib();
    let db = BenchDb::new(dialect).await;
    let store = db.store(bench_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let router = app(store.clone(), HttpConfig::default());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = rss_mib();

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut peak: f64 = 0.0;
            while !stop.load(Ordering::SeqCst) {
                peak = peak.max(rss_mib().0);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        }
    });
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let store = store.clone();
            let mut work = Workload::new(format!("m{t}-"));
            tokio::spawn(async move {
                let started = Instant::now();
                while started.elapsed() < load_for {
                    store.dispatch(work.next_op().event()).await.expect("dispatch");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let mut work = Workload::new("mb-");
    let started = Instant::now();
    while started.elapsed() < load_for {
        let events = work.ops(1000).iter().map(|op| op.event()).collect();
        store.dispatch_all(events).await.expect("dispatch");
    }
    stop.store(true, Ordering::SeqCst);
    let peak = sampler.await.expect("sampler");
    let (_, hwm) = rss_mib();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (after, _) = rss_mib();
    server.abort();
    drop(store);
    db.drop_db().await;
    println!("RESULT {before:.1} {idle:.1} {peak:.1} {hwm:.1} {after:.1}");
}
