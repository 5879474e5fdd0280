//! Row versions: what the time machine ([`crate::history`]) reads.
//!
//! For each read-model table `t` the store keeps a table `flux_versions_t`
//! with the same columns (as declared) plus `flux_valid_from_seq` and
//! `flux_valid_until_seq` ([`OPEN`], `i64::MAX`: current): the row as it
//! was from right after event `valid_from` until right before event
//! `valid_until` (the layout and why: [`crate::sql::versions`]). The writer
//! writes them in the dispatch's own transaction, next to each operation
//! ([`crate::sql::versions`]), so they commit with the event or not at all.
//!
//! The store makes them when it opens and whenever it reads the schema
//! again: a missing versions table is created, a column a later migration
//! added to `t` is added to `flux_versions_t` (older versions hold `NULL`
//! there: the value was never recorded, which is also what replaying the
//! log into [`flux_capacitor::MemoryDatabase`] gives for a field old events
//! never set). A table found with no versions while the log holds events:
//!
//! * **when the store opens**: its versions are built from the log, by
//!   replaying it through the reducers into a scratch copy of the table
//!   (progress logged), then put in place in one rename — an existing store
//!   (made before row versions, with `flux_snapshots`) opens with its full
//!   history. If the log does not replay into the current schema, the
//!   versions start from the table's rows at the log's head instead (a
//!   warning says so);
//! * **while the store runs** (a table created by a migration since): its
//!   rows as they are become versions at the log's head.
//!
//! Writes to the read model made with SQL directly, outside the store, are
//! not versioned (law 5: the log is the truth).
//!
//! **Versions tables of the first layout** (made before 2026-12-01: a
//! nullable `flux_valid_to_seq`, `NULL` for current, no primary key) are
//! converted when the store opens: copied into a table of the current
//! layout (`NULL` becoming [`OPEN`]), which then takes the old one's name in
//! one rename, the old one dropped (progress logged). A conversion cut short
//! leaves the old table as it was, and runs again at the next open.
//!
//! **Index names** follow their versions table through every rename (the
//! rebuild's switch, a build, a conversion): on SQLite and PostgreSQL they
//! are the schema's, and a name left behind would keep a later table of the
//! old name from getting its index. When the store opens, any versions
//! index found under another table's name (left by a rename made before
//! 2026-12-01) is named after its table, and a missing one made again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use flux_capacitor::{Error as CoreError, FieldType, Reducer};

use crate::icelog::{self, IceLog};
use crate::reduce::run_reducer;
use crate::schema::{Column, DbSchema, Table};
use crate::sql::backend::{Backend, WriteTx};
use crate::sql::{Dialect, Sql, compile_operation, versions as sql};
use crate::{EventQuery, StoreError};

/// The prefix of a versions table's name.
pub(crate) const PREFIX: &str = "flux_versions_";
/// Versions being built from the log (renamed to [`PREFIX`] when done).
const BUILD_PREFIX: &str = "flux_vbuild_";
/// The scratch copy of a table its versions are built through.
const SCRATCH_PREFIX: &str = "flux_vscratch_";
/// The first `seq` a version holds.
pub(crate) const VALID_FROM: &str = "flux_valid_from_seq";
/// The `seq` that ended a version ([`OPEN`]: current).
pub(crate) const VALID_UNTIL: &str = "flux_valid_until_seq";
/// Both validity columns.
pub(crate) const VALIDITY: [&str; 2] = [VALID_FROM, VALID_UNTIL];
/// The `valid_until` of a current version.
pub(crate) const OPEN: i64 = i64::MAX;
/// The first layout's end column (`NULL`: current), converted on open.
const LEGACY_VALID_TO: &str = "flux_valid_to_seq";

/// The versions table of read-model table `table`.
pub(crate) fn table_name(table: &str) -> String {
    format!("{PREFIX}{table}")
}

/// Whether `name` is one of the versions' own tables (never read-model tables).
pub(crate) fn is_store_table(name: &str) -> bool {
    [PREFIX, BUILD_PREFIX, SCRATCH_PREFIX]
        .iter()
        .any(|p| name.starts_with(p))
}

fn renamed(table: &Table, name: String) -> Table {
    let mut copy = table.clone();
    copy.name = name;
    copy
}

/// What the versions of `schema` lack: tables with no versions table, and
/// statements adding the columns missing from existing ones.
fn lacking(dialect: Dialect, schema: &DbSchema) -> (Vec<&Table>, Vec<Sql>) {
    let mut missing = Vec::new();
    let mut columns = Vec::new();
    for (name, table) in &schema.tables {
        let versions = table_name(name);
        match schema.version_columns.get(&versions) {
            None => missing.push(table),
            Some(found) => columns.extend(
                table
                    .columns
                    .iter()
                    .filter(|c| !found.contains(&c.name))
                    .map(|c| sql::add_column(dialect, &versions, c)),
            ),
        }
    }
    (missing, columns)
}

/// The statements making `schema`'s versions complete while the store
/// runs: the DDL (missing columns added, missing tables created), then the
/// seeding of each new table with its rows at `head`.
pub(crate) fn runtime_statements(dialect: Dialect, schema: &DbSchema, head: u64) -> (Vec<Sql>, Vec<Sql>) {
    let (missing, mut ddl) = lacking(dialect, schema);
    let mut seeds = Vec::new();
    for table in missing {
        let versions = renamed(table, table_name(&table.name));
        ddl.extend(sql::create_table(dialect, &versions.name, table));
        seeds.push(sql::seed(dialect, table, &versions, head));
    }
    (ddl, seeds)
}

/// Makes `schema`'s versions complete while the store runs: the DDL on the
/// pool, the seeding under the writers' lock; answers the schema read
/// again, or `schema` when nothing lacked.
pub(crate) async fn ensure_runtime(db: &dyn Backend, schema: DbSchema) -> Result<DbSchema, StoreError> {
    let (ddl, seeds) = runtime_statements(db.dialect(), &schema, 0);
    if ddl.is_empty() {
        return Ok(schema);
    }
    for statement in &ddl {
        tracing::info!(statement = %statement.text, "row versions: creating");
        db.execute(statement).await?;
    }
    if !seeds.is_empty() {
        // After the DDL: MariaDB refuses a table newer than the transaction's snapshot.
        let mut tx = db.begin_write().await?;
        let head = tx.last_event().await?.map_or(0, |(seq, _)| seq);
        for statement in runtime_statements(db.dialect(), &schema, head).1 {
            tx.execute(&statement).await?;
        }
        tx.commit().await?;
    }
    Ok(db.introspect().await?)
}

/// Makes `schema`'s versions complete from inside the writer's
/// transaction `tx` (`head`: the last event before the one being written).
/// Where DDL commits by itself and a transaction cannot read a table
/// created after it began (MySQL/MariaDB), they are made on the pool and
/// the dispatch fails with [`JUST_MADE`], which the writer writes once more
/// (when a table appears under a running store and its first use is a write).
pub(crate) async fn ensure_in(
    db: &dyn Backend,
    tx: &mut dyn WriteTx,
    schema: &DbSchema,
    head: u64,
) -> Result<(), sqlx::Error> {
    let dialect = db.dialect();
    let (ddl, seeds) = runtime_statements(dialect, schema, head);
    for statement in &ddl {
        tracing::info!(statement = %statement.text, "row versions: creating");
    }
    if !dialect.syntax().rename_commits() {
        for statement in ddl.iter().chain(&seeds) {
            tx.execute(statement).await?;
        }
        return Ok(());
    }
    for statement in ddl.iter().chain(&seeds) {
        db.execute(statement).await?;
    }
    Err(sqlx::Error::Protocol(JUST_MADE.into()))
}

/// Why [`ensure_in`] failed a dispatch: the writer writes it once more.
const JUST_MADE: &str = "the row versions of a table new to the store were just made: dispatch again";

/// Whether `err` is [`ensure_in`]'s: the versions were made, the dispatch
/// not written, and writing it again finds them.
pub(crate) fn just_made(err: &StoreError) -> bool {
    matches!(err, StoreError::Database { source, .. } if matches!(&**source, sqlx::Error::Protocol(m) if m == JUST_MADE))
}

/// On an SQLite file, an exclusive lock on `<file>.flux-startup-lock`,
/// held while the store opens its row versions (released when the answer
/// is dropped): SQLite has no advisory lock to serialize that across
/// processes as PostgreSQL and MySQL have, and two instances starting at
/// once would each drop the other's half-built tables as an interrupted
/// build's leftovers, and both fall back to versions starting at the head.
/// The file stays (removing a lock file races with its next taker).
pub(crate) async fn startup_file_lock(pool: &crate::DbPool) -> Result<Option<std::fs::File>, StoreError> {
    let Some(database) = pool.sqlite_file() else {
        return Ok(None);
    };
    let path = format!("{}.flux-startup-lock", database.display());
    let lock = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|err| StoreError::database(sqlx::Error::Io(std::io::Error::other(err))))?
    .map_err(|err| StoreError::database(sqlx::Error::Io(err)))?;
    Ok(Some(lock))
}

/// When the store opens: drops what an interrupted build left, adds
/// missing columns, and builds the versions of every table that has none
/// from the log (see the module docs). Answers the schema as it is then.
pub(crate) async fn ensure_on_open(
    db: &dyn Backend,
    icelog: &IceLog,
    reducer: &Arc<dyn Reducer>,
    page: u64,
) -> Result<DbSchema, StoreError> {
    let dialect = db.dialect();
    let schema = db.introspect().await?;
    let leftovers: Vec<String> = schema
        .version_columns
        .keys()
        .filter(|name| name.starts_with(BUILD_PREFIX) || name.starts_with(SCRATCH_PREFIX))
        .cloned()
        .collect();
    for name in &leftovers {
        db.execute(&sql::drop_table(dialect, name)).await?;
    }
    let converted = convert_legacy(db, &schema).await?;
    let schema = if converted { db.introspect().await? } else { schema };
    name_indexes(db, &schema).await?;
    let (missing, columns) = lacking(dialect, &schema);
    for statement in &columns {
        tracing::info!(statement = %statement.text, "row versions: adding a column");
        db.execute(statement).await?;
    }
    let head = db.last_seq().await?;
    if !missing.is_empty() && head > 0 {
        let names: Vec<&str> = missing.iter().map(|t| t.name.as_str()).collect();
        tracing::info!(tables = ?names, head, "row versions: building them from the log");
        match build(db, icelog, reducer, &missing, page).await {
            Ok(()) => {}
            Err(err) => {
                tracing::warn!(error = %err, tables = ?names,
                    "row versions: the log does not replay into these tables; their history starts at the head");
                for table in &missing {
                    db.execute(&sql::drop_table(dialect, &format!("{BUILD_PREFIX}{}", table.name)))
                        .await?;
                    db.execute(&sql::drop_table(dialect, &format!("{SCRATCH_PREFIX}{}", table.name)))
                        .await?;
                }
            }
        }
    }
    let schema = if leftovers.is_empty() && !converted && columns.is_empty() && missing.is_empty() {
        schema
    } else {
        db.introspect().await?
    };
    ensure_runtime(db, schema).await
}

/// Builds the versions of `tables` by replaying the whole log through
/// `reducer` into scratch copies, one transaction per page; then renames
/// each built table into place.
async fn build(
    db: &dyn Backend,
    icelog: &IceLog,
    reducer: &Arc<dyn Reducer>,
    tables: &[&Table],
    page: u64,
) -> Result<(), StoreError> {
    let dialect = db.dialect();
    let started = Instant::now();
    let mut plan = Vec::new();
    for table in tables {
        let scratch = renamed(table, format!("{SCRATCH_PREFIX}{}", table.name));
        let versions = renamed(table, format!("{BUILD_PREFIX}{}", table.name));
        db.execute(&sql::create_scratch(dialect, &scratch.name, table)).await?;
        for statement in sql::create_table(dialect, &versions.name, table) {
            db.execute(&statement).await?;
        }
        plan.push(((*table).clone(), scratch, versions));
    }
    let mut done = 0;
    loop {
        let events = icelog::read::events(db, icelog, &EventQuery::after(done, page.max(1)), None).await?;
        if events.is_empty() {
            break;
        }
        let mut tx = db.begin_write().await?;
        for event in &events {
            let fail = |source: CoreError| StoreError::Replay {
                seq: event.seq,
                event_type: event.event_type.clone(),
                source: Box::new(source),
            };
            let changeset = run_reducer(&**reducer, event).map_err(fail)?;
            for operation in changeset.operations() {
                let Some((live, scratch, versions)) = plan.iter().find(|(t, _, _)| t.name == operation.collection())
                else {
                    continue;
                };
                let schema = DbSchema {
                    tables: [(live.name.clone(), live.clone())].into(),
                    schema: flux_capacitor::Schema {
                        collections: [(
                            live.name.clone(),
                            flux_capacitor::CollectionSchema {
                                key: live.key.clone(),
                                fields: live.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                            },
                        )]
                        .into(),
                    },
                    ..DbSchema::default()
                };
                schema.validate(operation).map_err(fail)?;
                let Some(statement) = compile_operation(dialect, scratch, operation) else {
                    continue;
                };
                let (before, after) = sql::around(dialect, scratch, versions, operation, event.seq);
                for statement in before.iter().chain([&statement]).chain(&after) {
                    tx.execute(statement).await?;
                }
            }
        }
        tx.commit().await?;
        done = events.last().map_or(done, |e| e.seq);
        tracing::info!(
            replayed = done,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "row versions: building"
        );
    }
    // Versions the reducers do not reproduce the table from would answer a
    // past that never was (a store opened without the reducers of its
    // tables builds nothing): the live table and its replay must at least
    // hold as many rows.
    for (live, scratch, _) in &plan {
        let (rows, replayed) = (row_count(db, &live.name).await?, row_count(db, &scratch.name).await?);
        if rows != replayed {
            return Err(StoreError::rejected(
                None,
                format!(
                    "the log replays into {replayed} rows of `{}`, which holds {rows}: \
                     are all its reducers in this store?",
                    live.name
                ),
            ));
        }
    }
    let renames: Vec<(String, String)> = plan
        .iter()
        .map(|(live, _, versions)| (versions.name.clone(), table_name(&live.name)))
        .collect();
    let indexes = plan
        .iter()
        .flat_map(|(live, _, versions)| {
            sql::rename_indexes(dialect, live, &versions.name, &table_name(&live.name), true)
        })
        .collect();
    rename_under_lock(db, &renames, indexes).await?;
    for (_, scratch, _) in &plan {
        db.execute(&sql::drop_table(dialect, &scratch.name)).await?;
    }
    tracing::info!(
        replayed = done,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "row versions: built"
    );
    Ok(())
}

/// How many rows `table` holds.
async fn row_count(db: &dyn Backend, table: &str) -> Result<u64, StoreError> {
    let dialect = db.dialect();
    let count = Sql::fixed(
        dialect,
        format!("SELECT COUNT(*) AS n FROM {}", dialect.syntax().quote(table)),
    );
    let rows = db
        .fetch_rows(&count, &[&crate::schema::Column::new("n", FieldType::Integer)])
        .await?;
    Ok(rows
        .first()
        .and_then(|row| row.get("n"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0))
}

/// Renames tables `(from, to)` at once, then runs `indexes` (the renamed
/// versions tables' indexes: [`sql::rename_indexes`]), under the writers'
/// lock (where a rename commits by itself, MySQL's `RENAME TABLE` of all of
/// them, atomic).
async fn rename_under_lock(
    db: &dyn Backend,
    renames: &[(String, String)],
    indexes: Vec<Sql>,
) -> Result<(), StoreError> {
    let dialect = db.dialect();
    let mut tx = db.begin_write().await?;
    let mut statements = crate::sql::write::rename_tables_sql(dialect, renames);
    statements.extend(indexes);
    if dialect.syntax().rename_commits() {
        tx.rollback().await?;
        for statement in &statements {
            db.execute(statement).await?;
        }
    } else {
        for statement in &statements {
            tx.execute(statement).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Gives every versions table its indexes under its own name
/// ([`sql::name_indexes`]: those a rename left under another table's name,
/// before index names followed renames, 2026-12-01) and makes any missing
/// one again. Only what the catalog shows lacking is run (PostgreSQL would
/// log a notice for each index found). A failing statement is logged, not
/// fatal: the indexes make reads and writes fast, not right.
async fn name_indexes(db: &dyn Backend, schema: &DbSchema) -> Result<(), StoreError> {
    let dialect = db.dialect();
    let Some(query) = dialect.syntax().index_owners_query() else {
        return Ok(());
    };
    let columns = [
        Column::new("index", FieldType::Text),
        Column::new("owner", FieldType::Text),
    ];
    let text = |row: &flux_capacitor::Row, column: &str| row.get(column).and_then(|v| v.as_str()).map(str::to_owned);
    let owners: Vec<(String, String)> = db
        .fetch_rows(&Sql::fixed(dialect, query.to_owned()), &[&columns[0], &columns[1]])
        .await?
        .iter()
        .filter_map(|row| Some((text(row, "index")?, text(row, "owner")?)))
        .collect();
    let mut existing: HashSet<String> = owners.iter().map(|(index, _)| index.clone()).collect();
    let mut statements = sql::name_indexes(dialect, &owners, &mut existing);
    for (name, table) in &schema.tables {
        let versions = table_name(name);
        if schema.version_columns.contains_key(&versions) {
            statements.extend(sql::missing_indexes(dialect, &versions, table, &existing));
        }
    }
    for statement in statements {
        tracing::info!(statement = %statement.text, "row versions: naming an index");
        if let Err(error) = db.execute(&statement).await {
            tracing::warn!(%error, statement = %statement.text, "row versions: an index could not be named or made");
        }
    }
    Ok(())
}

/// Converts the versions tables of the first layout (see the module docs);
/// answers whether there were any.
async fn convert_legacy(db: &dyn Backend, schema: &DbSchema) -> Result<bool, StoreError> {
    let dialect = db.dialect();
    let mut converted = false;
    for (name, table) in &schema.tables {
        let versions = table_name(name);
        let Some(found) = schema.version_columns.get(&versions) else {
            continue;
        };
        if !found.iter().any(|c| c == LEGACY_VALID_TO) {
            continue;
        }
        let started = Instant::now();
        tracing::info!(table = %versions, "row versions: converting a table of the first layout");
        let build = format!("{BUILD_PREFIX}{name}");
        let old = format!("{SCRATCH_PREFIX}{name}");
        for statement in sql::create_table(dialect, &build, table) {
            db.execute(&statement).await?;
        }
        let kept: Vec<&str> = table
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .filter(|c| found.iter().any(|f| f == c))
            .collect();
        let copied = db
            .execute(&sql::copy_legacy(dialect, &versions, &build, &kept, LEGACY_VALID_TO))
            .await?;
        let mut indexes = sql::rename_indexes(dialect, table, &versions, &old, false);
        indexes.extend(sql::rename_indexes(dialect, table, &build, &versions, true));
        rename_under_lock(
            db,
            &[(versions.clone(), old.clone()), (build, versions.clone())],
            indexes,
        )
        .await?;
        db.execute(&sql::drop_table(dialect, &old)).await?;
        tracing::info!(
            table = %versions,
            versions = copied,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "row versions: converted"
        );
        converted = true;
    }
    Ok(converted)
}
