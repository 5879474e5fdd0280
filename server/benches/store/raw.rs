//! The baseline: the statements the store issues for the notes workload,
//! written by hand with raw sqlx in the same transactions, no framework —
//! take the writers' lock, read the last `seq`, then per event insert the log
//! row and apply the note's change, commit.

use chrono::{DateTime, Utc};
use flux_capacitor_server::Dialect;
use sqlx::{Connection, MySqlConnection, PgConnection, SqliteConnection};

use super::support::{NoteOp, USER, sqlite_options, timestamp};

/// A bound value.
enum Val {
    I(i64),
    T(String),
    B(bool),
    U(uuid::Uuid),
    D(DateTime<Utc>),
}

/// A statement and its values.
struct Stmt {
    dialect: Dialect,
    text: String,
    binds: Vec<Val>,
}

impl Stmt {
    fn new(dialect: Dialect, text: &str) -> Self {
        Stmt {
            dialect,
            text: text.to_string(),
            binds: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Val, cast: Option<&str>) -> &mut Self {
        self.binds.push(value);
        let placeholder = match self.dialect {
            Dialect::Postgres => format!("${}", self.binds.len()),
            _ => "?".into(),
        };
        match cast {
            Some(ty) => self.push(&format!("CAST({placeholder} AS {ty})")),
            None => self.push(&placeholder),
        }
    }
}

/// Runs a [`Stmt`] on a transaction.
macro_rules! run {
    ($tx:expr, $stmt:expr) => {{
        let mut query = sqlx::query(&$stmt.text);
        for value in &$stmt.binds {
            query = match value {
                Val::I(v) => query.bind(*v),
                Val::T(v) => query.bind(v.as_str()),
                Val::B(v) => query.bind(*v),
                Val::U(v) => query.bind(*v),
                Val::D(v) => query.bind(*v),
            };
        }
        query.execute(&mut *$tx).await?;
    }};
}

/// A raw connection of one of the backends.
pub enum RawConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

impl RawConn {
    pub async fn connect(dialect: Dialect, url: &str) -> RawConn {
        match dialect {
            Dialect::Sqlite => {
                use sqlx::ConnectOptions;
                RawConn::Sqlite(sqlite_options(url).connect().await.expect("connect"))
            }
            Dialect::Postgres => RawConn::Postgres(PgConnection::connect(url).await.expect("connect")),
            _ => RawConn::MySql(MySqlConnection::connect(url).await.expect("connect")),
        }
    }

    /// Writes `ops` in one transaction with the statements the store issues:
    /// one per log row and per change for a single event, multi-row
    /// statements for more (see the store's `sql::batch`).
    pub async fn write(&mut self, ops: &[NoteOp]) -> Result<(), sqlx::Error> {
        if ops.len() == 1 {
            return self.write_per_row(ops).await;
        }
        match self {
            RawConn::Sqlite(conn) => {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let last: Option<(i64, String)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
                let last = last.map(|(seq, t)| {
                    let t = DateTime::parse_from_rfc3339(&t).expect("timestamp").with_timezone(&Utc);
                    (seq, t)
                });
                sqlx::query("SAVEPOINT flux_batch").execute(&mut *tx).await?;
                for stmt in batched(Dialect::Sqlite, &prepare(ops, last)) {
                    run!(tx, stmt);
                }
                sqlx::query("RELEASE SAVEPOINT flux_batch").execute(&mut *tx).await?;
                tx.commit().await
            }
            RawConn::Postgres(conn) => {
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(0x666c_7578_i64)
                    .execute(&mut *tx)
                    .await?;
                let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
                sqlx::query("SAVEPOINT flux_batch").execute(&mut *tx).await?;
                for stmt in batched(Dialect::Postgres, &prepare(ops, last)) {
                    run!(tx, stmt);
                }
                sqlx::query("RELEASE SAVEPOINT flux_batch").execute(&mut *tx).await?;
                tx.commit().await
            }
            RawConn::MySql(conn) => {
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT id FROM flux_store_lock WHERE id = 1 FOR UPDATE")
                    .fetch_optional(&mut *tx)
                    .await?;
                let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
                sqlx::query("SAVEPOINT flux_batch").execute(&mut *tx).await?;
                for stmt in batched(Dialect::MySql, &prepare(ops, last)) {
                    run!(tx, stmt);
                }
                sqlx::query("RELEASE SAVEPOINT flux_batch").execute(&mut *tx).await?;
                tx.commit().await
            }
        }
    }

    /// Writes `ops` in one transaction, one statement per log row and per
    /// change — what a hand-written app would usually do.
    pub async fn write_per_row(&mut self, ops: &[NoteOp]) -> Result<(), sqlx::Error> {
        match self {
            RawConn::Sqlite(conn) => write_sqlite(conn, ops).await,
            RawConn::Postgres(conn) => write_postgres(conn, ops).await,
            RawConn::MySql(conn) => write_mysql(conn, ops).await,
        }
    }
}

/// What one event writes, prepared the way the store prepares it.
struct Prepared<'a> {
    op: &'a NoteOp,
    seq: i64,
    id: uuid::Uuid,
    ty: &'static str,
    payload: String,
    meta: String,
    time: DateTime<Utc>,
    stamp: String,
}

fn prepare(ops: &[NoteOp], last: Option<(i64, DateTime<Utc>)>) -> Vec<Prepared<'_>> {
    let (mut seq, mut last_time) = last.unwrap_or((0, DateTime::<Utc>::MIN_UTC));
    ops.iter()
        .map(|op| {
            seq += 1;
            let now = Utc::now();
            let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
            last_time = now.max(last_time);
            let event = op.event();
            let ty = match op {
                NoteOp::Add { .. } => "addNote",
                NoteOp::Edit { .. } => "editNoteTitle",
                NoteOp::Remove { .. } => "removeNote",
            };
            Prepared {
                op,
                seq,
                id: uuid::Uuid::now_v7(),
                ty,
                payload: event.payload.to_string(),
                meta: event.meta.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                time: last_time,
                stamp: timestamp(last_time),
            }
        })
        .collect()
}

const SQLITE_LAST: &str = "SELECT seq, timestamp FROM flux_events ORDER BY seq DESC LIMIT 1";
const SQLITE_EVENT: &str =
    "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)";
const SQLITE_ADD: &str =
    r#"INSERT INTO "notes" ("author", "created", "id", "text", "title", "updated") VALUES (?, ?, ?, ?, ?, ?)"#;
const SQLITE_EDIT: &str = r#"UPDATE "notes" SET "title" = ?, "updated" = ? WHERE "id" = ?"#;
const SQLITE_REMOVE: &str = r#"DELETE FROM "notes" WHERE "id" = ?"#;

async fn write_sqlite(conn: &mut SqliteConnection, ops: &[NoteOp]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let last: Option<(i64, String)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
    let last = last.map(|(seq, t)| {
        let t = DateTime::parse_from_rfc3339(&t).expect("timestamp").with_timezone(&Utc);
        (seq, t)
    });
    for p in prepare(ops, last) {
        sqlx::query(SQLITE_EVENT)
            .bind(p.seq)
            .bind(p.id.to_string())
            .bind(p.ty)
            .bind(&p.payload)
            .bind(&p.meta)
            .bind(false)
            .bind(&p.stamp)
            .execute(&mut *tx)
            .await?;
        match p.op {
            NoteOp::Add { id, title, text } => {
                sqlx::query(SQLITE_ADD)
                    .bind(USER)
                    .bind(&p.stamp)
                    .bind(id)
                    .bind(text)
                    .bind(title)
                    .bind(&p.stamp)
                    .execute(&mut *tx)
                    .await?
            }
            NoteOp::Edit { id, title } => {
                sqlx::query(SQLITE_EDIT)
                    .bind(title)
                    .bind(&p.stamp)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
            NoteOp::Remove { id } => sqlx::query(SQLITE_REMOVE).bind(id).execute(&mut *tx).await?,
        };
    }
    tx.commit().await
}

async fn write_postgres(conn: &mut PgConnection, ops: &[NoteOp]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x666c_7578_i64)
        .execute(&mut *tx)
        .await?;
    let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
    for p in prepare(ops, last) {
        sqlx::query(
            "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.seq)
        .bind(p.id)
        .bind(p.ty)
        .bind(&p.payload)
        .bind(&p.meta)
        .bind(false)
        .bind(p.time)
        .execute(&mut *tx)
        .await?;
        match p.op {
            NoteOp::Add { id, title, text } => {
                sqlx::query(
                    r#"INSERT INTO "notes" ("author", "created", "id", "text", "title", "updated") VALUES ($1, $2, $3, $4, $5, $6)"#,
                )
                .bind(USER)
                .bind(&p.stamp)
                .bind(id)
                .bind(text)
                .bind(title)
                .bind(&p.stamp)
                .execute(&mut *tx)
                .await?
            }
            NoteOp::Edit { id, title } => {
                sqlx::query(r#"UPDATE "notes" SET "title" = $1, "updated" = $2 WHERE "id" = $3"#)
                    .bind(title)
                    .bind(&p.stamp)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
            NoteOp::Remove { id } => {
                sqlx::query(r#"DELETE FROM "notes" WHERE "id" = $1"#)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
        };
    }
    tx.commit().await
}

async fn write_mysql(conn: &mut MySqlConnection, ops: &[NoteOp]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT id FROM flux_store_lock WHERE id = 1 FOR UPDATE")
        .fetch_optional(&mut *tx)
        .await?;
    let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(SQLITE_LAST).fetch_optional(&mut *tx).await?;
    for p in prepare(ops, last) {
        sqlx::query(SQLITE_EVENT)
            .bind(p.seq)
            .bind(p.id.to_string())
            .bind(p.ty)
            .bind(&p.payload)
            .bind(&p.meta)
            .bind(false)
            .bind(p.time)
            .execute(&mut *tx)
            .await?;
        match p.op {
            NoteOp::Add { id, title, text } => sqlx::query(
                "INSERT INTO `notes` (`author`, `created`, `id`, `text`, `title`, `updated`) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(USER)
            .bind(&p.stamp)
            .bind(id)
            .bind(text)
            .bind(title)
            .bind(&p.stamp)
            .execute(&mut *tx)
            .await?,
            NoteOp::Edit { id, title } => {
                sqlx::query("UPDATE `notes` SET `title` = ?, `updated` = ? WHERE `id` = ?")
                    .bind(title)
                    .bind(&p.stamp)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
            NoteOp::Remove { id } => {
                sqlx::query("DELETE FROM `notes` WHERE `id` = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
        };
    }
    tx.commit().await
}

// ---------------------------------------------------------------- multi-row statements

/// The store's statement sizes (`sql::row_chunks`): powers of two, at most
/// 256 rows and 8192 parameters.
fn chunks(rows: usize, params: usize) -> Vec<usize> {
    let fit = (8192 / params.max(1)).clamp(1, 256);
    let cap = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    let mut left = rows;
    let mut out = Vec::new();
    while left > 0 {
        let size = if left >= cap {
            cap
        } else {
            1usize << (usize::BITS - 1 - left.leading_zeros())
        };
        out.push(size);
        left -= size;
    }
    out
}

fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

/// The statements the store issues for several events: the log rows in
/// multi-row inserts, then the notes' changes in waves (each note at most
/// once per wave, its changes in order), one multi-row statement per kind.
fn batched(dialect: Dialect, prepared: &[Prepared<'_>]) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut rest = prepared;
    for size in chunks(prepared.len(), 7) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt = Stmt::new(
            dialect,
            "INSERT INTO flux_events (seq, id, type, payload, meta, error, timestamp) VALUES ",
        );
        let json: Option<&str> = None; // the log's JSON is text everywhere
        for (i, p) in chunk.iter().enumerate() {
            stmt.push(if i == 0 { "(" } else { ", (" });
            stmt.bind(Val::I(p.seq), None).push(", ");
            match dialect {
                Dialect::Postgres => stmt.bind(Val::U(p.id), None),
                _ => stmt.bind(Val::T(p.id.to_string()), None),
            };
            stmt.push(", ");
            stmt.bind(Val::T(p.ty.into()), None).push(", ");
            stmt.bind(Val::T(p.payload.clone()), json).push(", ");
            stmt.bind(Val::T(p.meta.clone()), json).push(", ");
            stmt.bind(Val::B(false), None).push(", ");
            match dialect {
                Dialect::Sqlite => stmt.bind(Val::T(p.stamp.clone()), None),
                _ => stmt.bind(Val::D(p.time), None),
            };
            stmt.push(")");
        }
        out.push(stmt);
    }

    // Waves, and in each the kinds in the order they first appear.
    let mut depth: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut waves: Vec<Vec<(u8, Vec<&Prepared<'_>>)>> = Vec::new();
    for p in prepared {
        let wave = depth.entry(p.op.id()).or_insert(0);
        if waves.len() <= *wave {
            waves.push(Vec::new());
        }
        let kind = match p.op {
            NoteOp::Add { .. } => 0,
            NoteOp::Edit { .. } => 1,
            NoteOp::Remove { .. } => 2,
        };
        let groups = &mut waves[*wave];
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, group)) => group.push(p),
            None => groups.push((kind, vec![p])),
        }
        *wave += 1;
    }
    for (kind, group) in waves.into_iter().flatten() {
        let (params, cap) = match (kind, dialect) {
            (0, _) => (6, usize::MAX),
            (1, Dialect::MySql) => (5, 32),
            (1, _) => (3, usize::MAX),
            _ => (1, usize::MAX),
        };
        let mut sizes = Vec::new();
        let mut left = group.len();
        while left > 0 {
            let chunk = chunks(left.min(cap), params);
            left -= chunk.iter().sum::<usize>();
            sizes.extend(chunk);
        }
        let mut rest = group.as_slice();
        for size in sizes {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            out.push(match kind {
                0 => add_rows(dialect, chunk),
                1 => edit_rows(dialect, chunk),
                _ => remove_rows(dialect, chunk),
            });
        }
    }
    out
}

fn add_rows(dialect: Dialect, chunk: &[&Prepared<'_>]) -> Stmt {
    let q = |name: &str| quote(dialect, name);
    let mut stmt = Stmt::new(
        dialect,
        &format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES ",
            q("notes"),
            q("author"),
            q("created"),
            q("id"),
            q("text"),
            q("title"),
            q("updated")
        ),
    );
    for (i, p) in chunk.iter().enumerate() {
        let NoteOp::Add { id, title, text } = p.op else {
            unreachable!()
        };
        stmt.push(if i == 0 { "(" } else { ", (" });
        for (j, value) in [USER, &p.stamp, id, text, title, &p.stamp].into_iter().enumerate() {
            if j > 0 {
                stmt.push(", ");
            }
            stmt.bind(Val::T(value.to_string()), None);
        }
        stmt.push(")");
    }
    stmt
}

fn edit_rows(dialect: Dialect, chunk: &[&Prepared<'_>]) -> Stmt {
    let q = |name: &str| quote(dialect, name);
    let edit = |p: &Prepared<'_>| match p.op {
        NoteOp::Edit { id, title } => (id.clone(), title.clone(), p.stamp.clone()),
        _ => unreachable!(),
    };
    if chunk.len() == 1 {
        let (id, title, stamp) = edit(chunk[0]);
        let mut stmt = Stmt::new(dialect, &format!("UPDATE {} SET {} = ", q("notes"), q("title")));
        stmt.bind(Val::T(title), None).push(&format!(", {} = ", q("updated")));
        stmt.bind(Val::T(stamp), None).push(&format!(" WHERE {} = ", q("id")));
        stmt.bind(Val::T(id), None);
        return stmt;
    }
    let mut stmt = Stmt::new(dialect, &format!("UPDATE {} SET ", q("notes")));
    if dialect == Dialect::MySql {
        for (i, column) in ["title", "updated"].into_iter().enumerate() {
            if i > 0 {
                stmt.push(", ");
            }
            stmt.push(&format!("{} = CASE {}", q(column), q("id")));
            for p in chunk {
                let (id, title, stamp) = edit(p);
                stmt.push(" WHEN ");
                stmt.bind(Val::T(id), None).push(" THEN ");
                stmt.bind(Val::T(if i == 0 { title } else { stamp }), None);
            }
            stmt.push(&format!(" ELSE {} END", q(column)));
        }
        stmt.push(&format!(" WHERE {} IN (", q("id")));
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                stmt.push(", ");
            }
            stmt.bind(Val::T(edit(p).0), None);
        }
        stmt.push(")");
        return stmt;
    }
    let (v1, v2, k) = match dialect {
        Dialect::Sqlite => ("v.column2", "v.column3", "v.column1"),
        _ => ("v.c1", "v.c2", "v.c0"),
    };
    stmt.push(&format!("{} = {v1}, {} = {v2} FROM (VALUES ", q("title"), q("updated")));
    let cast = (dialect == Dialect::Postgres).then_some("TEXT");
    for (i, p) in chunk.iter().enumerate() {
        let (id, title, stamp) = edit(p);
        stmt.push(if i == 0 { "(" } else { ", (" });
        stmt.bind(Val::T(id), cast).push(", ");
        stmt.bind(Val::T(title), cast).push(", ");
        stmt.bind(Val::T(stamp), cast).push(")");
    }
    stmt.push(") AS v");
    if dialect == Dialect::Postgres {
        stmt.push("(c0, c1, c2)");
    }
    stmt.push(&format!(" WHERE {}.{} = {k}", q("notes"), q("id")));
    stmt
}

fn remove_rows(dialect: Dialect, chunk: &[&Prepared<'_>]) -> Stmt {
    let q = |name: &str| quote(dialect, name);
    if chunk.len() == 1 {
        let mut stmt = Stmt::new(dialect, &format!("DELETE FROM {} WHERE {} = ", q("notes"), q("id")));
        stmt.bind(Val::T(chunk[0].op.id().into()), None);
        return stmt;
    }
    let mut stmt = Stmt::new(dialect, &format!("DELETE FROM {} WHERE {} IN (", q("notes"), q("id")));
    for (i, p) in chunk.iter().enumerate() {
        if i > 0 {
            stmt.push(", ");
        }
        stmt.bind(Val::T(p.op.id().into()), None);
    }
    stmt.push(")");
    stmt
}
