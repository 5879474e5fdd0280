//! The icelog (issue 16): bytes per event in the database (hot) and in
//! segments (cold), and how fast events are frozen, read back across the
//! boundary and thawed, on a long notes log on SQLite (built as the replay
//! section builds it: `child-build-log`).

use std::time::Instant;

use flux_capacitor_server::{Config, DbPool, EventQuery, FreezeBelow, Store};

use super::dispatch::bench_config;
use super::replay::{child, num};
use super::support::{Table, count, execute, rate};

fn events_wanted(quick: bool) -> u64 {
    std::env::var("BENCH_ICELOG_EVENTS")
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 })
}

/// The database file's size once its WAL is folded in and free pages dropped.
async fn file_bytes(pool: &DbPool, file: &std::path::Path) -> u64 {
    execute(pool, "VACUUM").await;
    execute(pool, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    std::fs::metadata(file).expect("database file").len()
}

/// Reads the whole log in pages of 1,000: (events, JSON bytes, seconds).
async fn read_all(store: &Store) -> (u64, u64, f64) {
    let started = Instant::now();
    let (mut after, mut events, mut bytes) = (0, 0u64, 0u64);
    loop {
        let page = store
            .events(EventQuery::after(after, 1000))
            .await
            .expect("read the log");
        let Some(last) = page.last() else { break };
        assert_eq!(last.seq, after + page.len() as u64, "a page without gaps");
        after = last.seq;
        events += page.len() as u64;
        bytes += page
            .iter()
            .map(|e| serde_json::to_string(e).map_or(0, |t| t.len() as u64 + 1))
            .sum::<u64>();
    }
    (events, bytes, started.elapsed().as_secs_f64())
}

async fn open(url: &str, icelog: &std::path::Path) -> Store {
    Store::builder(notes_reducers::root())
        .config(Config {
            icelog: Some(icelog.display().to_string()),
            ..bench_config()
        })
        .connect(url)
        .await
        .expect("open the store")
}

pub async fn run(quick: bool) {
    let n = events_wanted(quick);
    println!("\n### 10. The icelog: a {}-event notes log on SQLite\n", rate(n as f64));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("log.db");
    let url = format!("sqlite://{}", file.display());
    let icelog = dir.path().join("icelog");
    let built = child(&["child-build-log", &url, &n.to_string()]);
    println!("(log built in {:.1} s)", num(&built, 0));

    let store = open(&url, &icelog).await;
    let (hot_events, json_bytes, hot_secs) = read_all(&store).await;
    assert_eq!(hot_events, n);
    let before = file_bytes(store.pool(), &file).await;

    let started = Instant::now();
    let report = store.freeze(FreezeBelow::Seq(n), |_| ()).await.expect("freeze");
    let freeze_secs = started.elapsed().as_secs_f64();
    let frozen = report.events;
    assert_eq!(frozen, n - 1);
    assert_eq!(count(store.pool(), "flux_events").await, 1);
    let after = file_bytes(store.pool(), &file).await;
    let cold: u64 = report.segments.iter().map(|s| s.bytes).sum();
    drop(store);

    // A store opened anew: nothing decoded yet.
    let store = open(&url, &icelog).await;
    let (cold_events, _, cold_secs) = read_all(&store).await;
    assert_eq!(cold_events, n);
    let started = Instant::now();
    let thawed = store.thaw(None, |_| ()).await.expect("thaw");
    let thaw_secs = started.elapsed().as_secs_f64();
    assert_eq!(thawed.events, frozen);
    assert_eq!(count(store.pool(), "flux_events").await as u64, n);

    let per = |bytes: u64| format!("{:.1}", bytes as f64 / frozen as f64);
    let mut table = Table::new(&["what", "figure"]);
    table.row(vec![
        "bytes per event, hot (SQLite rows + indexes freed by the freeze)".into(),
        per(before.saturating_sub(after)),
    ]);
    table.row(vec!["bytes per event, cold (zstd segment)".into(), per(cold)]);
    table.row(vec![
        "bytes per event, as JSON lines (before zstd)".into(),
        format!("{:.1}", json_bytes as f64 / n as f64),
    ]);
    table.row(vec![
        "segments".into(),
        format!(
            "{} of at most {}",
            report.segments.len(),
            Config::default().icelog_segment_events
        ),
    ]);
    table.row(vec![
        "freeze (read, compress, write, read back + verify, delete), events/s".into(),
        rate(frozen as f64 / freeze_secs),
    ]);
    table.row(vec![
        "read the whole log, hot (pages of 1,000), events/s".into(),
        rate(n as f64 / hot_secs),
    ]);
    table.row(vec![
        "read the whole log, frozen (pages of 1,000, segments decoded once), events/s".into(),
        rate(n as f64 / cold_secs),
    ]);
    table.row(vec![
        "thaw (read, verify, insert), events/s".into(),
        rate(frozen as f64 / thaw_secs),
    ]);
}
