//! Replay (issue item 3): rebuilding the read model from a long log with
//! [`Store::replay`](flux_capacitor_server::Store::replay) into a fresh store
//! on SQLite, beside the raw-sqlx bulk insert of the final rows (the log and
//! the final notes). Each runs in its own process, so its peak RSS is its own.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use flux_capacitor::StoredEvent;
use flux_capacitor_server::{DbPool, EventQuery, Store};
use sqlx::{Connection, SqliteConnection};

use super::dispatch::bench_config;
use super::support::{
    NoteOp, Table, USER, Workload, count, execute, notes_migration, rate, ratio, rss_mib, stored, timestamp,
};
use flux_capacitor_server::Dialect;

/// Rows per multi-row `INSERT` of the baseline (7 parameters a row).
const CHUNK: usize = 1000;
/// Rows per transaction of the baseline.
const PER_COMMIT: usize = 100_000;
/// Events per `Store::replay` call (one transaction each).
const PAGE: usize = 1000;

fn events_wanted(quick: bool) -> u64 {
    std::env::var("BENCH_REPLAY_EVENTS")
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 })
}

/// Runs a child process of this benchmark and returns its `RESULT` line's fields.
pub fn child(args: &[&str]) -> Vec<String> {
    let exe = std::env::current_exe().expect("current exe");
    let output = Command::new(exe).args(args).output().expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        panic!(
            "child {args:?} failed: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child {args:?} printed no RESULT:\n{stdout}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

pub fn num(fields: &[String], i: usize) -> f64 {
    fields[i].parse().expect("number")
}

pub async fn run(quick: bool) {
    let n = events_wanted(quick);
    println!("\n### 3. Replay of a {}-event log on SQLite\n", rate(n as f64));
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("log.db");
    let log_url = format!("sqlite://{}", log.display());
    let rebuilt_url = format!("sqlite://{}", dir.path().join("rebuilt.db").display());

    let built = child(&["child-build-log", &log_url, &n.to_string()]);
    let (build_secs, note_rows, build_hwm) = (num(&built, 0), num(&built, 1), num(&built, 2));
    let replayed = child(&["child-replay", &log_url, &rebuilt_url, &n.to_string()]);
    let rebuilt = child(&["child-rebuild", &log_url, &n.to_string()]);
    let (replay_secs, quarter_rss, full_rss, replay_hwm) = (
        num(&replayed, 0),
        num(&replayed, 1),
        num(&replayed, 2),
        num(&replayed, 3),
    );

    let mut table = Table::new(&[
        "what",
        "events",
        "seconds",
        "events/s",
        "RSS at 1/4 / at end MiB",
        "peak RSS MiB",
        "vs baseline",
    ]);
    let replay_rate = n as f64 / replay_secs;
    let build_rate = n as f64 / build_secs;
    table.row(vec![
        format!("`Store::replay`, pages of {PAGE} (log read by `Store::events` in a task alongside)"),
        rate(n as f64),
        format!("{replay_secs:.2}"),
        rate(replay_rate),
        format!("{quarter_rss:.1} / {full_rss:.1}"),
        format!("{replay_hwm:.1}"),
        ratio(replay_rate, build_rate),
    ]);
    let rebuild_rate = n as f64 / num(&rebuilt, 0);
    table.row(vec![
        format!(
            "`Store::rebuild` of the log's own store into a new table (pages of {}, multi-row statements)",
            bench_config().replay_page * 2
        ),
        rate(n as f64),
        format!("{:.2}", num(&rebuilt, 0)),
        rate(rebuild_rate),
        format!("{:.1} / {:.1}", num(&rebuilt, 1), num(&rebuilt, 2)),
        format!("{:.1}", num(&rebuilt, 3)),
        ratio(rebuild_rate, build_rate),
    ]);
    table.row(vec![
        format!(
            "baseline: raw sqlx bulk insert of the final rows ({} log rows + {} notes, {CHUNK} rows per INSERT)",
            rate(n as f64),
            rate(note_rows)
        ),
        rate(n as f64),
        format!("{build_secs:.2}"),
        rate(build_rate),
        "-".into(),
        format!("{build_hwm:.1}"),
        "1.00".into(),
    ]);
}

/// The final note rows of a workload, kept while generating it.
#[derive(Default)]
struct Final {
    notes: BTreeMap<String, [String; 4]>,
}

impl Final {
    fn apply(&mut self, op: &NoteOp, time: &str) {
        match op {
            NoteOp::Add { id, title, text } => {
                self.notes
                    .insert(id.clone(), [title.clone(), text.clone(), time.into(), time.into()]);
            }
            NoteOp::Edit { id, title } => {
                if let Some(note) = self.notes.get_mut(id) {
                    note[0] = title.clone();
                    note[3] = time.into();
                }
            }
            NoteOp::Remove { id } => {
                self.notes.remove(id);
            }
        }
    }
}

fn multi_row_insert(head: &str, columns: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {}", vec![one; rows].join(", "))
}

/// Child: writes the log of `n` workload events and the final notes with raw
/// sqlx multi-row inserts into a fresh database. Prints the seconds spent in
/// the database, the number of notes and the peak RSS.
pub async fn child_build_log(args: &[String]) {
    let (url, n): (&str, u64) = (&args[0], args[1].parse().expect("n"));
    // The schema: the notes migration and the store's own tables.
    let pool = DbPool::connect(url, 1).await.expect("connect");
    execute(&pool, notes_migration(Dialect::Sqlite)).await;
    drop(
        Store::builder(notes_reducers::root())
            .config(bench_config())
            .open(pool.clone())
            .await,
    );
    pool.close().await;

    let mut conn: SqliteConnection = {
        use sqlx::ConnectOptions;
        super::support::sqlite_options(url).connect().await.expect("connect")
    };
    let mut work = Workload::new("n");
    let mut state = Final::default();
    let mut spent = Duration::ZERO;
    let start = Utc::now() - chrono::Duration::days(30);
    let insert_events = multi_row_insert(
        "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp)",
        7,
        CHUNK,
    );
    let mut written = 0u64;
    let mut in_tx = 0usize;
    let t = Instant::now();
    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
    spent += t.elapsed();
    while written < n {
        let rows = (n - written).min(CHUNK as u64) as usize;
        let events: Vec<StoredEvent> = (0..rows as u64)
            .map(|i| {
                let seq = written + i + 1;
                let time = timestamp(start + chrono::Duration::milliseconds(seq as i64));
                let op = work.next_op();
                state.apply(&op, &time);
                stored(seq, &op, &time)
            })
            .collect();
        let text = if rows == CHUNK {
            insert_events.clone()
        } else {
            multi_row_insert(
                "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp)",
                7,
                rows,
            )
        };
        let mut query = sqlx::query(&text);
        for e in &events {
            query = query
                .bind(e.seq as i64)
                .bind(e.id.to_string())
                .bind(e.event_type.clone())
                .bind(e.payload.to_string())
                .bind(e.meta.as_ref().map(|m| m.to_string()))
                .bind(false)
                .bind(e.timestamp.clone());
        }
        let t = Instant::now();
        query.execute(&mut conn).await.expect("insert events");
        in_tx += rows;
        if in_tx >= PER_COMMIT {
            sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");
            sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
            in_tx = 0;
        }
        spent += t.elapsed();
        written += rows as u64;
    }
    let notes: Vec<(String, [String; 4])> = std::mem::take(&mut state.notes).into_iter().collect();
    for chunk in notes.chunks(CHUNK) {
        let text = multi_row_insert(
            r#"INSERT INTO "notes" ("author", "created", "id", "text", "title", "updated")"#,
            6,
            chunk.len(),
        );
        let mut query = sqlx::query(&text);
        for (id, [title, text, created, updated]) in chunk {
            query = query
                .bind(USER)
                .bind(created.as_str())
                .bind(id.as_str())
                .bind(text.as_str())
                .bind(title.as_str())
                .bind(updated.as_str());
        }
        let t = Instant::now();
        query.execute(&mut conn).await.expect("insert notes");
        spent += t.elapsed();
    }
    let t = Instant::now();
    sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");
    spent += t.elapsed();
    conn.close().await.ok();
    let (_, hwm) = rss_mib();
    println!("RESULT {} {} {hwm:.1}", spent.as_secs_f64(), notes.len());
}

/// Child: replays the log at `source` into a fresh store at `target`, page by
/// page, reading the next page while the store writes the current one.
/// Prints the seconds, VmRSS at a quarter and at the end, and VmHWM.
pub async fn child_replay(args: &[String]) {
    let (source_url, target_url, n): (&str, &str, u64) = (&args[0], &args[1], args[2].parse().expect("n"));
    let source = Store::builder(notes_reducers::root())
        .config(bench_config())
        .open(DbPool::connect(source_url, 2).await.expect("connect"))
        .await
        .expect("open source");
    let target_pool = DbPool::connect(target_url, 2).await.expect("connect");
    execute(&target_pool, notes_migration(Dialect::Sqlite)).await;
    let target = Store::builder(notes_reducers::root())
        .config(bench_config())
        .open(target_pool.clone())
        .await
        .expect("open target");
    let (_, hwm_before) = rss_mib();

    let started = Instant::now();
    let (pages, mut receive) = tokio::sync::mpsc::channel::<Vec<StoredEvent>>(2);
    let reader = tokio::spawn(async move {
        let mut after = 0;
        loop {
            let page = source
                .events(EventQuery::after(after, PAGE as u64))
                .await
                .expect("read log");
            let Some(last) = page.last() else { break };
            after = last.seq;
            if pages.send(page).await.is_err() {
                break;
            }
        }
    });
    let mut done = 0u64;
    let mut quarter_rss = 0.0;
    while let Some(page) = receive.recv().await {
        done += page.len() as u64;
        target.replay(page).await.expect("replay");
        if quarter_rss == 0.0 && done >= n / 4 {
            quarter_rss = rss_mib().0;
        }
    }
    reader.await.expect("reader");
    let secs = started.elapsed().as_secs_f64();
    let (end_rss, hwm) = rss_mib();
    assert_eq!(done, n, "replayed every event");
    assert_eq!(count(&target_pool, "flux_events").await as u64, n);
    let source_pool = DbPool::connect(source_url, 1).await.expect("connect");
    assert_eq!(
        count(&target_pool, "notes").await,
        count(&source_pool, "notes").await,
        "the replayed read model has the final rows"
    );
    eprintln!("replay: peak RSS before replaying {hwm_before:.1} MiB");
    println!("RESULT {secs} {quarter_rss:.1} {end_rss:.1} {hwm:.1}");
}

/// Child: rebuilds the read model of the store at `url` (its log and notes)
/// with [`Store::rebuild`] into a new table. Prints the seconds, VmRSS at
/// the first progress report past a quarter and at the end, and VmHWM.
pub async fn child_rebuild(args: &[String]) {
    let (url, n): (&str, u64) = (&args[0], args[1].parse().expect("n"));
    let pool = DbPool::connect(url, 2).await.expect("connect");
    let migration = notes_migration(Dialect::Sqlite).replace("CREATE TABLE notes", "CREATE TABLE notes_next");
    execute(&pool, &migration).await;
    let store = Store::builder(notes_reducers::root())
        .config(bench_config())
        .open(pool.clone())
        .await
        .expect("open");
    let started = Instant::now();
    let mut quarter_rss = 0.0;
    let report = store
        .rebuild(notes_reducers::root(), &[("notes", "notes_next")], |progress| {
            if quarter_rss == 0.0 && progress.replayed >= n / 4 {
                quarter_rss = rss_mib().0;
            }
        })
        .await
        .expect("rebuild");
    let secs = started.elapsed().as_secs_f64();
    let (end_rss, hwm) = rss_mib();
    assert_eq!(report.replayed, n);
    println!("RESULT {secs} {quarter_rss:.1} {end_rss:.1} {hwm:.1}");
}
