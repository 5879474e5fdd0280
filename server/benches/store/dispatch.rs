//! Dispatch throughput by batch size (issue item 1) and concurrent
//! single-event dispatchers (item 2), each beside raw sqlx issuing the same
//! statements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_capacitor::Event;
use flux_capacitor_server::{Config, Dialect, Store};

use super::raw::RawConn;
use super::support::{BenchDb, Table, Workload, backend_name, ms, percentile, rate, ratio, sqlite_synchronous};

/// The store's settings for the comparisons: no polling for other
/// processes' events (the raw baseline writes to the same log between the
/// store's rounds, and the store would read those events back).
pub fn bench_config() -> Config {
    default_config()
}

/// The default settings, but for the polling (see [`bench_config`]);
/// `BENCH_ROW_VERSIONS=0` turns the row versions off.
pub fn default_config() -> Config {
    Config {
        poll_interval: None,
        row_versions: std::env::var("BENCH_ROW_VERSIONS").map_or(true, |v| v != "0"),
        ..Config::default()
    }
}

/// Events written and time spent.
#[derive(Default)]
struct Run {
    events: usize,
    time: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.events as f64 / self.time.as_secs_f64().max(1e-9)
    }
}

/// Runs `$write` (`$batch` events each) for `$round`, adding to `$run`.
macro_rules! time {
    ($run:expr, $round:expr, $batch:expr, $write:expr) => {{
        let started = Instant::now();
        while started.elapsed() < $round {
            $write;
            $run.events += $batch;
        }
        $run.time += started.elapsed();
    }};
}

fn events(work: &mut Workload, n: usize) -> Vec<Event> {
    work.ops(n).iter().map(|op| op.event()).collect()
}

/// Item 1: events per second with batches of `batches` events per dispatch,
/// the store and raw sqlx alternating in `rounds` rounds of `round` each.
pub async fn throughput(dialects: &[Dialect], batches: &[usize], rounds: u32, round: Duration) {
    println!("\n### 1. Dispatch throughput (notes workload, one dispatcher)\n");
    let mut table = Table::new(&[
        "backend",
        "events / dispatch",
        "store events/s",
        "raw sqlx, same statements, events/s",
        "store / raw",
        "raw sqlx, one statement per row, events/s",
        "store, default `Config` (snapshot every 1000 events), events/s",
    ]);
    let mut settings = Vec::new();
    for &dialect in dialects {
        let db = BenchDb::new(dialect).await;
        let store = db.store(bench_config()).await;
        if dialect == Dialect::Sqlite {
            settings.push(sqlite_synchronous(store.pool()).await);
        }
        let mut raw = RawConn::connect(dialect, &db.url).await;
        let mut runs = Vec::new();
        for &batch in batches {
            let mut work = Workload::new(format!("t{batch}-"));
            let mut store_run = Run::default();
            let mut raw_run = Run::default();
            let mut per_row_run = Run::default();
            for _ in 0..rounds {
                time!(
                    raw_run,
                    round,
                    batch,
                    raw.write(&work.ops(batch)).await.expect("raw write")
                );
                if batch > 1 {
                    time!(
                        per_row_run,
                        round,
                        batch,
                        raw.write_per_row(&work.ops(batch)).await.expect("raw write")
                    );
                }
                time!(
                    store_run,
                    round,
                    batch,
                    store.dispatch_all(events(&mut work, batch)).await.expect("dispatch")
                );
            }
            runs.push((batch, store_run, raw_run, per_row_run));
        }
        drop((store, raw));
        db.drop_db().await;

        // The default settings, alone on a database of their own.
        let db = BenchDb::new(dialect).await;
        let store = db.store(default_config()).await;
        for (batch, store_run, raw_run, per_row_run) in runs {
            let mut work = Workload::new(format!("d{batch}-"));
            let mut default_run = Run::default();
            time!(
                default_run,
                round * rounds,
                batch,
                store.dispatch_all(events(&mut work, batch)).await.expect("dispatch")
            );
            table.row(vec![
                backend_name(dialect).into(),
                batch.to_string(),
                rate(store_run.rate()),
                rate(raw_run.rate()),
                ratio(store_run.rate(), raw_run.rate()),
                if batch > 1 {
                    rate(per_row_run.rate())
                } else {
                    "(same)".into()
                },
                rate(default_run.rate()),
            ]);
        }
        drop(store);
        db.drop_db().await;
    }
    for s in settings {
        println!("\nSQLite connections as opened by `DbPool::connect`: {s}");
    }
}

/// Runs `tasks` concurrent loops; their count of dispatches, the time and the sorted latencies.
async fn run_tasks<F, Fut>(tasks: usize, body: F) -> (usize, Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Vec<Duration>> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|t| tokio::spawn(body(t))).collect();
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    (latencies.len(), elapsed, latencies)
}

/// Item 2: `levels` concurrent dispatchers of one event each: the store
/// (group commit) beside raw sqlx, one transaction per event on one
/// connection per dispatcher (at most 10; one on SQLite, whose writers
/// serialize anyway).
pub async fn concurrent(dialects: &[Dialect], levels: &[usize], run_for: Duration) {
    println!("\n### 2. Concurrent dispatchers, one event per dispatch\n");
    let mut table = Table::new(&[
        "backend",
        "dispatchers",
        "store events/s",
        "store p50 / p99 ms",
        "raw sqlx events/s",
        "raw p50 / p99 ms",
        "store / raw",
    ]);
    for &dialect in dialects {
        let db = BenchDb::new(dialect).await;
        let store = db.store(bench_config()).await;
        for &tasks in levels {
            let (n, elapsed, lat) = run_tasks(tasks, |t| {
                let store: Store = store.clone();
                let mut work = Workload::new(format!("c{tasks}-{t}-"));
                async move {
                    let mut latencies = Vec::new();
                    let started = Instant::now();
                    while started.elapsed() < run_for {
                        let event = work.next_op().event();
                        let t0 = Instant::now();
                        store.dispatch(event).await.expect("dispatch");
                        latencies.push(t0.elapsed());
                    }
                    latencies
                }
            })
            .await;
            let store_rate = n as f64 / elapsed.as_secs_f64();
            let store_lat = format!("{} / {}", ms(percentile(&lat, 50.0)), ms(percentile(&lat, 99.0)));

            let connections = if dialect == Dialect::Sqlite { 1 } else { tasks.min(10) };
            let mut conns = Vec::new();
            for _ in 0..connections {
                conns.push(Arc::new(tokio::sync::Mutex::new(
                    RawConn::connect(dialect, &db.url).await,
                )));
            }
            let (n, elapsed, lat) = run_tasks(tasks, |t| {
                let conn = conns[t % conns.len()].clone();
                let mut work = Workload::new(format!("r{tasks}-{t}-"));
                async move {
                    let mut latencies = Vec::new();
                    let started = Instant::now();
                    while started.elapsed() < run_for {
                        let op = [work.next_op()];
                        let t0 = Instant::now();
                        conn.lock().await.write(&op).await.expect("raw write");
                        latencies.push(t0.elapsed());
                    }
                    latencies
                }
            })
            .await;
            drop(conns);
            let raw_rate = n as f64 / elapsed.as_secs_f64();
            table.row(vec![
                backend_name(dialect).into(),
                tasks.to_string(),
                rate(store_rate),
                store_lat,
                rate(raw_rate),
                format!("{} / {}", ms(percentile(&lat, 50.0)), ms(percentile(&lat, 99.0))),
                ratio(store_rate, raw_rate),
            ]);
        }
        drop(store);
        db.drop_db().await;
    }
}
