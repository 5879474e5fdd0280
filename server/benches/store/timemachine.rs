//! The time machine on row versions (issue 15): an `as_of` page of 50 rows
//! at an early, a middle and a late `seq`, the `history` of a row, and
//! dispatch throughput with row versions beside the same dispatches with
//! `Config::row_versions` off (the baseline, measured in the same run on a
//! database of its own), at 10,000, 100,000 and 1,000,000 rows and events.
//!
//! The log: `N` `addNote` events (so `N` rows, `N` events), dispatched in
//! batches of 1,000 (progress printed), then 1,000 `editNoteTitle`s of
//! spread rows; note ids `b<i>` (key order is not creation order).
//! `BENCH_TM_SIZES=10000,100000` picks the sizes.

use std::time::{Duration, Instant};

use flux_capacitor::{Event, FindOptions};
use flux_capacitor_server::{Config, Dialect, Store};
use serde_json::json;

use super::dispatch::bench_config;
use super::support::{BenchDb, Table, USER, backend_name, ms, rate, ratio};

const BATCH: usize = 1000;
const SAMPLES: usize = 21;

fn add(i: usize) -> Event {
    Event::new(
        "addNote",
        json!({ "id": format!("b{i}"), "title": format!("Note {i}"), "text": "Some text of a note, as a user would type it." }),
    )
    .with_meta(json!({ "user": USER }))
}

fn edit(i: usize, round: usize) -> Event {
    Event::new(
        "editNoteTitle",
        json!({ "id": format!("b{i}"), "title": format!("Note {i}, edit {round}") }),
    )
    .with_meta(json!({ "user": USER }))
}

/// Dispatches the adds `0..n` in batches of `BATCH` to `on` and `off` in
/// turn (the same batch to each, `on` first in even rounds, `off` in odd
/// ones); answers each store's events per second over its own time.
async fn interleaved(on: &Store, off: &Store, n: usize, label: &str) -> (f64, f64) {
    let (mut on_time, mut off_time) = (Duration::ZERO, Duration::ZERO);
    let mut next_report = n / 10;
    let mut done = 0;
    let mut round = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let batch: Vec<Event> = (done..done + size).map(add).collect();
        for first in [round % 2 == 0, round % 2 != 0] {
            let (store, time) = if first {
                (on, &mut on_time)
            } else {
                (off, &mut off_time)
            };
            let started = Instant::now();
            store.dispatch_all(batch.clone()).await.expect("dispatch");
            *time += started.elapsed();
        }
        done += size;
        round += 1;
        if done >= next_report {
            eprintln!(
                "  {label}: {done}/{n} events each, {:.0} ev/s with versions, {:.0} off",
                done as f64 / on_time.as_secs_f64(),
                done as f64 / off_time.as_secs_f64()
            );
            next_report += n / 10;
        }
    }
    (n as f64 / on_time.as_secs_f64(), n as f64 / off_time.as_secs_f64())
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

/// One dispatch at a time: events per second over `n` events.
async fn singles(store: &Store, from: usize, n: usize) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        store.dispatch(edit(from + i * 7 % 1000, 9)).await.expect("dispatch");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(backends: &[Dialect]) {
    let sizes: Vec<usize> = std::env::var("BENCH_TM_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    println!("\n### Time machine: row versions\n");
    let mut table = Table::new(&[
        "backend",
        "rows = events",
        "as_of page, early",
        "middle",
        "late",
        "live page (baseline)",
        "history of a row",
        "batch-1000 ev/s, versions",
        "off (baseline)",
        "ratio",
        "single ev/s, versions",
        "off (baseline)",
        "ratio",
    ]);
    for &dialect in backends {
        for &n in &sizes {
            let name = backend_name(dialect);
            let on_db = BenchDb::new(dialect).await;
            let off_db = BenchDb::new(dialect).await;
            let on = on_db.store(bench_config()).await;
            let off = off_db
                .store(Config {
                    row_versions: false,
                    ..bench_config()
                })
                .await;
            // Batch by batch in turn, each timed, so that a change in the
            // machine's load (other processes) hits both stores alike.
            let (on_rate, off_rate) = interleaved(&on, &off, n, &format!("{name} {n}")).await;
            // Edits: each of 1,000 spread rows changed once more.
            let edits: Vec<Event> = (0..1000).map(|k| edit(k * (n / 1000).max(1), 1)).collect();
            on.dispatch_all(edits.clone()).await.expect("edits");
            off.dispatch_all(edits).await.expect("edits");
            let single_on = singles(&on, 0, 500).await;
            let single_off = singles(&off, 0, 500).await;

            let head = on.head();
            let page = FindOptions {
                limit: Some(50),
                ..FindOptions::all()
            };
            let mut at = Vec::new();
            for seq in [n as u64 / 100, n as u64 / 2, head] {
                let then = on.as_of(seq).await.expect("as_of");
                let rows = then.find_all("notes", &page).await.expect("page");
                assert_eq!(rows.len(), 50.min(seq as usize), "a full page at {seq}");
                at.push(
                    median(|_| {
                        let on = on.clone();
                        let page = page.clone();
                        async move {
                            let then = on.as_of(seq).await.expect("as_of");
                            then.find_all("notes", &page).await.expect("page");
                        }
                    })
                    .await,
                );
            }
            let live = median(|_| {
                let on = on.clone();
                let page = page.clone();
                async move {
                    on.find_all("notes", page).await.expect("live page");
                }
            })
            .await;
            let history = median(|i| {
                let on = on.clone();
                async move {
                    let id = format!("b{}", (i * 7919) % n);
                    let changes = on.history("notes", id).await.expect("history");
                    assert!(!changes.is_empty());
                }
            })
            .await;
            table.row(vec![
                name.into(),
                rate(n as f64),
                ms(at[0]),
                ms(at[1]),
                ms(at[2]),
                ms(live),
                ms(history),
                rate(on_rate),
                rate(off_rate),
                ratio(on_rate, off_rate),
                rate(single_on),
                rate(single_off),
                ratio(single_on, single_off),
            ]);
            drop((on, off));
            on_db.drop_db().await;
            off_db.drop_db().await;
        }
    }
}
