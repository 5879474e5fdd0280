//! What every benchmark shares: fresh databases, the notes workload, the raw
//! sqlx baseline, statistics, memory readings and table printing.

use std::str::FromStr;
use std::time::Duration;

use flux_capacitor::{Event, StoredEvent};
use flux_capacitor_server::{Config, DbPool, Dialect, Store};
use serde_json::json;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

// Fresh databases are made exactly as the tests make them.
use flux_capacitor_server::testing::TestDb;
pub use flux_capacitor_server::testing::{count, execute};

/// A short name of a backend for the tables.
pub fn backend_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "SQLite",
        Dialect::Postgres => "PostgreSQL",
        Dialect::MySql => "MariaDB",
    }
}

/// A fresh, uniquely named database with the notes table; dropped by [`BenchDb::drop_db`].
pub struct BenchDb {
    pub url: String,
    db: TestDb,
}

/// The notes app's migration for `dialect` (examples/notes/server/migrations).
pub fn notes_migration(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => include_str!("../../../examples/notes/server/migrations/sqlite/20261124000001_notes.sql"),
        Dialect::Postgres => {
            include_str!("../../../examples/notes/server/migrations/postgres/20261124000001_notes.sql")
        }
        Dialect::MySql => include_str!("../../../examples/notes/server/migrations/mysql/20261124000001_notes.sql"),
    }
}

impl BenchDb {
    /// Creates a new database holding the notes table (the app's migration).
    pub async fn new(dialect: Dialect) -> BenchDb {
        let db = TestDb::new(dialect).await;
        let db = BenchDb {
            url: db.url.clone(),
            db,
        };
        let pool = db.pool(1).await;
        execute(&pool, notes_migration(dialect)).await;
        pool.close().await;
        db
    }

    /// A pool on this database, as the store would open it ([`DbPool::connect`]).
    pub async fn pool(&self, max_connections: u32) -> DbPool {
        DbPool::connect(&self.url, max_connections).await.expect("connect")
    }

    /// Opens a store with the notes reducers on this database.
    pub async fn store(&self, config: Config) -> Store {
        let pool = self.pool(config.max_connections).await;
        Store::builder(notes_reducers::root())
            .config(config)
            .open(pool)
            .await
            .expect("open store")
    }

    /// Drops the database (closing other sessions on PostgreSQL).
    pub async fn drop_db(self) {
        self.db.drop_db().await;
    }
}

/// The `synchronous` setting of a SQLite database as opened by [`DbPool::connect`].
pub async fn sqlite_synchronous(pool: &DbPool) -> String {
    let DbPool::Sqlite(p) = pool else { return String::new() };
    let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(p)
        .await
        .expect("pragma");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(p)
        .await
        .expect("pragma");
    let name = match level {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        3 => "EXTRA",
        _ => "?",
    };
    format!("journal_mode={journal}, synchronous={name} ({level})")
}

/// A SQLite connection opened like [`DbPool::connect`] opens one (WAL, the
/// default `synchronous`), for the raw baselines.
pub fn sqlite_options(url: &str) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str(url)
        .expect("sqlite url")
        .create_if_missing(true)
        .busy_timeout(Duration::from_secs(30))
        .journal_mode(SqliteJournalMode::Wal)
        .disable_statement_logging()
}

// ---------------------------------------------------------------- workload

/// One notes event, as the raw baseline writes it.
#[derive(Debug, Clone)]
pub enum NoteOp {
    Add { id: String, title: String, text: String },
    Edit { id: String, title: String },
    Remove { id: String },
}

/// The notes workload: for note `i`, `addNote`, `editNoteTitle`, then
/// `removeNote` of note `i - 1` when `i` is odd and a second `editNoteTitle`
/// of note `i` otherwise — a third of the events add a note, half edit one and
/// a sixth remove one, and half of the notes stay.
#[derive(Debug, Clone)]
pub struct Workload {
    prefix: String,
    next: u64,
}

/// The user every event is dispatched by (`meta.user`).
pub const USER: &str = "bench";

impl Workload {
    /// A workload whose note ids start with `prefix` (unique per workload).
    pub fn new(prefix: impl Into<String>) -> Self {
        Workload {
            prefix: prefix.into(),
            next: 0,
        }
    }

    /// The next operation.
    pub fn next_op(&mut self) -> NoteOp {
        let k = self.next;
        self.next += 1;
        let note = k / 3;
        let id = |n: u64| format!("{}{n}", self.prefix);
        match k % 3 {
            0 => NoteOp::Add {
                id: id(note),
                title: format!("Note {note}"),
                text: "Some text of a note, as a user would type it.".into(),
            },
            1 => NoteOp::Edit {
                id: id(note),
                title: format!("Note {note}, edited"),
            },
            _ if note % 2 == 1 => NoteOp::Remove { id: id(note - 1) },
            _ => NoteOp::Edit {
                id: id(note),
                title: format!("Note {note}, edited twice"),
            },
        }
    }

    /// The next `n` operations.
    pub fn ops(&mut self, n: usize) -> Vec<NoteOp> {
        (0..n).map(|_| self.next_op()).collect()
    }
}

impl NoteOp {
    /// The event the app dispatches for it.
    pub fn event(&self) -> Event {
        let (ty, payload) = match self {
            NoteOp::Add { id, title, text } => ("addNote", json!({ "id": id, "title": title, "text": text })),
            NoteOp::Edit { id, title } => ("editNoteTitle", json!({ "id": id, "title": title })),
            NoteOp::Remove { id } => ("removeNote", json!({ "id": id })),
        };
        Event::new(ty, payload).with_meta(json!({ "user": USER }))
    }

    /// The note's id.
    pub fn id(&self) -> &str {
        match self {
            NoteOp::Add { id, .. } | NoteOp::Edit { id, .. } | NoteOp::Remove { id } => id,
        }
    }
}

/// A timestamp the way the store writes it (RFC 3339, UTC, milliseconds).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A stored event as the store would have logged it.
pub fn stored(seq: u64, op: &NoteOp, time: &str) -> StoredEvent {
    StoredEvent {
        id: uuid::Uuid::now_v7(),
        seq,
        timestamp: time.to_string(),
        hash: None,
        event: op.event(),
    }
}

// ---------------------------------------------------------------- statistics

/// Percentile `p` (0..=100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// A rate with thousands separators.
pub fn rate(per_second: f64) -> String {
    let n = per_second.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `a / b` as a ratio.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 { "-".into() } else { format!("{:.2}", a / b) }
}

// ---------------------------------------------------------------- memory

/// `VmRSS` and `VmHWM` (peak) of this process, in MiB.
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ---------------------------------------------------------------- output

/// A markdown table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
        // Print as we go: a long run shows progress, and a crash keeps the figures.
        if self.rows.len() == 1 {
            println!("| {} |", self.header.join(" | "));
            println!(
                "|{}|",
                self.header.iter().map(|_| " --- ").collect::<Vec<_>>().join("|")
            );
        }
        println!("| {} |", self.rows.last().map(|r| r.join(" | ")).unwrap_or_default());
    }
}
