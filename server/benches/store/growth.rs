//! Cost growth (issue 15 item 5): what each of dispatch, an `as_of` page,
//! `history`, replay and subscribe costs at 10,000, 100,000 and 1,000,000
//! rows and events, each beside a baseline measured in the same run, so
//! that what grows with the data shows at a glance.
//!
//! For each size `N` a store (the default `Config`: row versions on) gets
//! `N` `addNote`s in batches of 1,000 (so `N` rows, `N` events), then:
//!
//! * **dispatch**: 10 more batches of 1,000 adds, events/s; baseline: the
//!   same batches on an empty store of its own;
//! * **`as_of` page**: `as_of(N/2)` + a page of 50 rows (median of 21);
//!   baseline: the live page;
//! * **`history`** of a row (median of 21); baseline: `find_by_id` of it;
//! * **replay**: the whole log read back page by page (`Store::events`, 1,000
//!   a page, a page ahead) and `Store::replay`ed into a fresh store, events/s;
//!   baseline: the same replay's first 10,000 events (an empty target);
//! * **subscribe**: `subscribe_from(head − 1,000)` until it has the last
//!   1,000 events (a client resuming), median of 21; baseline: reading those
//!   1,000 events with `Store::events`.
//!
//! `BENCH_GROWTH_SIZES=10000,100000` picks the sizes; `BENCH_BACKENDS` the
//! databases (default all three; the bench script's SQLite-only call sets it).

use std::time::{Duration, Instant};

use flux_capacitor::{Event, FindOptions, StoredEvent};
use flux_capacitor_server::{Dialect, EventQuery, Store};
use futures::StreamExt;
use serde_json::json;

use super::dispatch::bench_config;
use super::support::{BenchDb, Table, USER, backend_name, ms, rate, ratio};

const BATCH: usize = 1000;
const SAMPLES: usize = 21;
/// Events a resuming subscriber catches up with.
const RESUME: u64 = 1000;
/// Events of the replay's baseline (its start).
const REPLAY_START: u64 = 10_000;

fn add(i: usize) -> Event {
    Event::new(
        "addNote",
        json!({ "id": format!("g{i}"), "title": format!("Note {i}"), "text": "Some text of a note, as a user would type it." }),
    )
    .with_meta(json!({ "user": USER }))
}

/// Median of `SAMPLES` runs of `f`.
async fn median<F, Fut>(mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        f(i).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[SAMPLES / 2]
}

/// Dispatches the adds `from..from + n` in batches; answers events/s.
async fn fill(store: &Store, from: usize, n: usize, label: &str) -> f64 {
    let started = Instant::now();
    let mut next_report = n / 10;
    let mut done = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let batch: Vec<Event> = (from + done..from + done + size).map(add).collect();
        store.dispatch_all(batch).await.expect("dispatch");
        done += size;
        if n >= 100_000 && done >= next_report {
            eprintln!("  {label}: {done} of {n} events dispatched");
            next_report += n / 10;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Replays `source`'s whole log into `target` (the next page read while the
/// last is written); answers events/s over the first [`REPLAY_START`]
/// events and over the whole log.
async fn replay(source: &Store, target: &Store, label: &str) -> (f64, f64) {
    let head = source.head();
    let (pages, mut receive) = tokio::sync::mpsc::channel::<Vec<StoredEvent>>(2);
    let reader = {
        let source = source.clone();
        tokio::spawn(async move {
            let mut after = 0;
            loop {
                let page = source
                    .events(EventQuery::after(after, BATCH as u64))
                    .await
                    .expect("read log");
                let Some(last) = page.last() else { break };
                after = last.seq;
                if pages.send(page).await.is_err() {
                    break;
                }
            }
        })
    };
    let started = Instant::now();
    let mut start_rate = 0.0;
    let mut done = 0u64;
    let mut next_report = head / 10;
    while let Some(page) = receive.recv().await {
        done += page.len() as u64;
        target.replay(page).await.expect("replay");
        if start_rate == 0.0 && done >= REPLAY_START.min(head) {
            start_rate = done as f64 / started.elapsed().as_secs_f64();
        }
        if head >= 100_000 && done >= next_report {
            eprintln!("  {label}: {done} of {head} events replayed");
            next_report += head / 10;
        }
    }
    reader.await.expect("reader");
    assert_eq!(done, head, "replayed the whole log");
    (start_rate, done as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(backends: &[Dialect]) {
    let sizes: Vec<usize> = std::env::var("BENCH_GROWTH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.replace('_', "").parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    println!("\n### Cost growth: rows = events = N (default `Config`, row versions on)\n");
    let mut table = Table::new(&[
        "backend",
        "N",
        "dispatch batch-1000 ev/s at N",
        "on an empty store (baseline)",
        "as_of page ms",
        "live page (baseline)",
        "history ms",
        "find_by_id (baseline)",
        "replay ev/s, whole log",
        "its first 10,000 (baseline)",
        "subscribe_from(head − 1,000) ms",
        "`events` read of them (baseline)",
    ]);
    for &dialect in backends {
        let name = backend_name(dialect);
        for &n in &sizes {
            let label = format!("{name} {n}");
            eprintln!("growth: {label}: filling");
            let db = BenchDb::new(dialect).await;
            let store = db.store(bench_config()).await;
            fill(&store, 0, n, &label).await;

            eprintln!("growth: {label}: dispatch");
            let at_n = fill(&store, n, 10 * BATCH, &label).await;
            let empty_db = BenchDb::new(dialect).await;
            let empty = empty_db.store(bench_config()).await;
            let at_zero = fill(&empty, 0, 10 * BATCH, &label).await;
            drop(empty);
            empty_db.drop_db().await;

            eprintln!("growth: {label}: reads");
            let page = FindOptions {
                limit: Some(50),
                ..FindOptions::all()
            };
            let middle = n as u64 / 2;
            let as_of = median(|_| {
                let (store, page) = (store.clone(), page.clone());
                async move {
                    let then = store.as_of(middle).await.expect("as_of");
                    let rows = then.find_all("notes", &page).await.expect("page");
                    assert_eq!(rows.len(), 50);
                }
            })
            .await;
            let live = median(|_| {
                let (store, page) = (store.clone(), page.clone());
                async move {
                    store.find_all("notes", page).await.expect("live page");
                }
            })
            .await;
            let id = |i: usize| format!("g{}", (i * 7919) % n);
            let history = median(|i| {
                let store = store.clone();
                let id = id(i);
                async move {
                    assert!(!store.history("notes", id).await.expect("history").is_empty());
                }
            })
            .await;
            let by_id = median(|i| {
                let store = store.clone();
                let id = id(i);
                async move {
                    assert!(store.find_by_id("notes", id).await.expect("find").is_some());
                }
            })
            .await;

            eprintln!("growth: {label}: subscribe");
            let head = store.head();
            let resume = median(|_| {
                let store = store.clone();
                async move {
                    let mut subscription = store.subscribe_from(head - RESUME);
                    let mut got = 0;
                    while got < RESUME {
                        let item = subscription.next().await.expect("an item");
                        got += item.events().len() as u64;
                    }
                }
            })
            .await;
            let read = median(|_| {
                let store = store.clone();
                async move {
                    let events = store
                        .events(EventQuery::after(head - RESUME, RESUME))
                        .await
                        .expect("events");
                    assert_eq!(events.len() as u64, RESUME);
                }
            })
            .await;

            eprintln!("growth: {label}: replay");
            let target_db = BenchDb::new(dialect).await;
            let target = target_db.store(bench_config()).await;
            let (replay_start, replay_all) = replay(&store, &target, &label).await;
            drop(target);
            target_db.drop_db().await;

            table.row(vec![
                name.into(),
                rate(n as f64),
                rate(at_n),
                format!("{} ({})", rate(at_zero), ratio(at_n, at_zero)),
                ms(as_of),
                ms(live),
                ms(history),
                ms(by_id),
                rate(replay_all),
                format!("{} ({})", rate(replay_start), ratio(replay_all, replay_start)),
                ms(resume),
                ms(read),
            ]);
            drop(store);
            db.drop_db().await;
        }
    }
}
