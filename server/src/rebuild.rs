//! Replay instead of migrations: [`Store::rebuild`] fills fresh tables from
//! the log with new reducers while the store keeps taking dispatches, then
//! switches atomically.
//!
//! 1. **Check**: every target table exists (the user's new migrations made
//!    it, with the new schema) and is empty; the retired names are free.
//! 2. **Replay** the log, page by page (one transaction each), through the
//!    new reducers, each operation on collection `c` redirected to its target
//!    table (operations on collections not named are left out: their tables
//!    stay as they are), written with the multi-row statements of dispatch
//!    (`sql::batch`). Dispatches go on meanwhile, with the old reducers, into the live
//!    tables; they wait at most one page for the writers' lock.
//! 3. **Catch up** with the events committed meanwhile, until a page comes back empty.
//! 4. **Switch**, with writes paused (this store's writer waits, and the
//!    writers' lock holds other processes' writers): replay the last events,
//!    rename each live table `c` to `c_before_<seq>` and each target to `c`,
//!    rename the row versions (see [`crate::AsOf`]) alike (`flux_versions_c`
//!    to `flux_versions_c_before_<seq>`, the target's to `flux_versions_c`:
//!    the replay wrote the target's versions as it went, so the time
//!    machine answers with the new reducers' past), their indexes alike
//!    (index names are the schema's on SQLite and PostgreSQL), and commit; then the store
//!    dispatches with the new reducers. The pause lasts one catch-up page plus
//!    the renames; on SQLite, which cannot rename an index, plus making the new
//!    versions table's index of closed versions under its new name (about
//!    0.5 s a million closed versions here).
//!
//! A failure at any step before the switch's commit leaves the live tables,
//! the log and the reducers as they were (the target tables may hold a
//! partial replay: drop or empty them before trying again). The retired
//! tables are kept until you drop them.
//!
//! Other processes writing to the same database must run the new reducers
//! after the switch (restart them). On MySQL/MariaDB `RENAME TABLE` commits
//! by itself, so the switch commits the catch-up first and renames right
//! after: stop other processes' writers during a rebuild there.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flux_capacitor::{Error as CoreError, Operation, Reducer, StoredEvent};

use crate::reduce::run_reducer;
use crate::schema::DbSchema;
use crate::sql::backend::WriteTx;
use crate::sql::versions::rename_indexes;
use crate::sql::write::rename_tables_sql;
use crate::sql::{Sql, compile_operation};
use crate::store::Shared;
use crate::versions::table_name;
use crate::{EventQuery, FindOptions, Store, StoreError};

/// The switch to the rebuilt tables: the last `seq` replayed, the table
/// renames `(from, to)`, and the statements giving renamed versions tables
/// their indexes.
type Switch = (u64, Vec<(String, String)>, Vec<Sql>);

/// How far a rebuild has come, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Events replayed so far.
    pub replayed: u64,
    /// The log's head when last looked at.
    pub head: u64,
}

/// What a finished rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events replayed (the whole log at the switch).
    pub replayed: u64,
    /// The old live tables, renamed (drop them when no longer needed).
    pub retired: Vec<String>,
    /// How long writes were paused for the switch.
    pub paused: Duration,
}

/// Points `operation` at `collection`.
fn retarget(operation: &Operation, collection: &str) -> Operation {
    let mut out = operation.clone();
    match &mut out {
        Operation::Create { collection: c, .. }
        | Operation::UpdateById { collection: c, .. }
        | Operation::DestroyById { collection: c, .. }
        | Operation::UpdateWhere { collection: c, .. }
        | Operation::DestroyWhere { collection: c, .. } => *c = collection.to_owned(),
    }
    out
}

struct Plan<'a> {
    shared: &'a Shared,
    reducer: &'a dyn Reducer,
    /// (collection of the new reducers, table filled during the rebuild).
    tables: &'a [(String, String)],
    /// The tables that take multi-row statements, read at the start.
    batchable: HashSet<String>,
    /// The collections of `tables` the new reducers wrote so far.
    written: std::sync::Mutex<HashSet<String>>,
}

impl Plan<'_> {
    fn fail(event: &StoredEvent, source: CoreError) -> StoreError {
        StoreError::Replay {
            seq: event.seq,
            event_type: event.event_type.clone(),
            source: Box::new(source),
        }
    }

    /// The new reducers' changeset of `event`, each operation pointed at
    /// its target table and checked against the schema as read at the start;
    /// operations on collections that are not rebuilt are left out (their
    /// live tables stay as they are).
    fn reduce(&self, schema: &DbSchema, event: &StoredEvent) -> Result<Vec<Operation>, StoreError> {
        let reduced = run_reducer(self.reducer, event).map_err(|e| Self::fail(event, e))?;
        let mut out = Vec::with_capacity(reduced.operations().len());
        for operation in reduced.operations() {
            let Some((collection, target)) = self.tables.iter().find(|(live, _)| live == operation.collection()) else {
                continue;
            };
            if let Ok(mut written) = self.written.lock()
                && !written.contains(collection)
            {
                written.insert(collection.clone());
            }
            let operation = retarget(operation, target);
            schema.validate(&operation).map_err(|e| Self::fail(event, e))?;
            if self.shared.config.row_versions && !schema.versions.contains_key(target) {
                return Err(crate::read::no_versions(target));
            }
            out.push(operation);
        }
        Ok(out)
    }

    /// Replays one page of events after `after` in `tx`; answers the last
    /// `seq` (or `after`). The page's changes go in multi-row statements,
    /// as a dispatched group's do (the multi-row statements of `sql::batch`), under a
    /// savepoint; should that fail in the database, the page is written
    /// again one statement per change, and fails as it always did.
    async fn page(&self, tx: &mut dyn WriteTx, after: u64, events: &[StoredEvent]) -> Result<u64, StoreError> {
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(after);
        };
        let schema = self.shared.schema();
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            changes.push((self.reduce(&schema, event)?, event.seq));
        }
        let dialect = self.shared.pool.dialect();
        let operations = changes.iter().flat_map(|(operations, seq)| {
            operations
                .iter()
                .map(|operation| (&schema.tables[operation.collection()], operation, *seq))
        });
        let steps = crate::sql::batch::schedule(operations, |table| {
            self.batchable.contains(&table.name) && crate::writer::exact_key(dialect, table)
        });
        let versions = self.shared.config.row_versions.then_some(&schema.versions);
        let mut savepoint = tx.savepoint().await?;
        let statements = steps.into_iter().flat_map(|step| step.statements(dialect, versions));
        match crate::writer::pipeline(&mut *savepoint, statements).await {
            Ok(()) => {
                savepoint.commit().await?;
                return Ok(last);
            }
            Err(err) => {
                tracing::debug!(error = %err, "rebuild: a multi-row page failed; writing it one change at a time");
                savepoint.rollback().await?;
            }
        }
        for ((operations, _), event) in changes.iter().zip(events) {
            self.apply(tx, &schema, event, operations).await?;
        }
        Ok(last)
    }

    /// Writes `operations` (of `event`, from [`Plan::reduce`]) one statement each.
    async fn apply(
        &self,
        tx: &mut dyn WriteTx,
        schema: &DbSchema,
        event: &StoredEvent,
        operations: &[Operation],
    ) -> Result<(), StoreError> {
        let dialect = self.shared.pool.dialect();
        for operation in operations {
            let target = operation.collection();
            let table = &schema.tables[target];
            let Some(statement) = compile_operation(dialect, table, operation) else {
                continue;
            };
            let (before, after) = match schema.versions.get(target) {
                Some(versions) if self.shared.config.row_versions => {
                    crate::sql::versions::around(dialect, table, versions, operation, event.seq)
                }
                _ => (None, Vec::new()),
            };
            for statement in before.iter().chain([&statement]).chain(&after) {
                tx.execute(statement).await?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Rebuilds the read model with `reducer` from the whole log, into the
    /// tables `tables` names — `(collection, new table)` pairs, one for each
    /// collection to rebuild; what the new reducers write to other
    /// collections is left out, their tables staying as they are — then
    /// switches: each `new table` becomes `collection`, the old one
    /// `collection_before_<seq>`. See the
    /// [module docs](crate::rebuild) for the steps, the pause and failures.
    /// `progress` is called after every page.
    pub async fn rebuild(
        &self,
        reducer: impl Reducer + 'static,
        tables: &[(&str, &str)],
        mut progress: impl FnMut(RebuildProgress),
    ) -> Result<RebuildReport, StoreError> {
        let shared = self.shared().clone();
        let dialect = shared.pool.dialect();
        let reducer: Arc<dyn Reducer> = Arc::new(reducer);
        let tables: Vec<(String, String)> = tables.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect();
        let schema = self.refresh_schema().await?;
        let invalid = |reason: String| StoreError::rejected(None, format!("rebuild: {reason}"));
        for (collection, target) in &tables {
            if !schema.collections.contains_key(target) {
                return Err(invalid(format!(
                    "no table `{target}` with a primary key (create it with your new migrations first)"
                )));
            }
            if !self
                .find_all(
                    target,
                    FindOptions {
                        limit: Some(1),
                        ..FindOptions::all()
                    },
                )
                .await?
                .is_empty()
            {
                return Err(invalid(format!("table `{target}` is not empty")));
            }
            if tables.iter().filter(|(c, _)| c == collection).count() > 1 {
                return Err(invalid(format!("collection `{collection}` is mapped twice")));
            }
            if tables.iter().filter(|(_, t)| t == target).count() > 1 {
                return Err(invalid(format!("table `{target}` is the target of two collections")));
            }
        }
        let batchable = shared.db().batchable_tables().await.unwrap_or_else(|err| {
            tracing::debug!(error = %err, "rebuild: cannot tell which tables take multi-row statements; using none");
            HashSet::new()
        });
        let plan = Plan {
            shared: &shared,
            reducer: &*reducer,
            tables: &tables,
            batchable,
            written: std::sync::Mutex::default(),
        };
        let page_size = shared.config.replay_page.max(1) as u64 * 2;
        let started = Instant::now();
        tracing::info!(tables = ?tables, "rebuild: replaying the log");

        // 2 + 3: replay and catch up, one transaction per page.
        let mut done = 0;
        loop {
            let events =
                crate::icelog::read::events(shared.db(), &shared.icelog, &EventQuery::after(done, page_size), None)
                    .await?;
            if events.is_empty() {
                break;
            }
            let mut tx = shared.db().begin_write().await?;
            match plan.page(&mut *tx, done, &events).await {
                Ok(last) => {
                    tx.commit().await?;
                    done = last;
                }
                Err(err) => {
                    let _ = tx.rollback().await;
                    tracing::warn!(error = %err, "rebuild failed; the live tables are untouched");
                    return Err(err);
                }
            }
            progress(RebuildProgress {
                replayed: done,
                head: shared.head.load(Ordering::SeqCst).max(done),
            });
        }

        // 4: the switch, with this store's writer paused and the writers' lock held.
        let gate = shared.write_gate.lock().await;
        let pause = Instant::now();
        let mut tx = shared.db().begin_write().await?;
        let switched: Result<Switch, StoreError> = async {
            loop {
                let events =
                    crate::icelog::read::events(shared.db(), &shared.icelog, &EventQuery::after(done, page_size), None)
                        .await?;
                if events.is_empty() {
                    break;
                }
                done = plan.page(&mut *tx, done, &events).await?;
            }
            // A collection that is no table and that the reducers never
            // wrote is most likely a misspelt one: switching would only
            // make an empty table of that name.
            let written = plan.written.lock().map(|w| w.clone()).unwrap_or_default();
            if let Some((collection, _)) = tables
                .iter()
                .find(|(c, _)| !schema.collections.contains_key(c) && !written.contains(c))
            {
                return Err(invalid(format!(
                    "no table `{collection}`, and the new reducers write no collection of that name"
                )));
            }
            let mut renames = Vec::new();
            let mut retired = Vec::new();
            let mut indexes = Vec::new();
            let current = shared.schema();
            let versions_of = |table: &str| current.versions.get(table).filter(|_| shared.config.row_versions);
            for (collection, target) in &tables {
                if schema.collections.contains_key(collection) {
                    let old = format!("{collection}_before_{done}");
                    if schema.collections.contains_key(&old) {
                        return Err(invalid(format!("table `{old}` exists already")));
                    }
                    if let Some(versions) = versions_of(collection) {
                        let (from, to) = (table_name(collection), table_name(&old));
                        indexes.extend(rename_indexes(dialect, versions, &from, &to, false));
                        retired.push((from, to));
                    }
                    retired.push((collection.clone(), old));
                }
                if let Some(versions) = versions_of(target) {
                    let (from, to) = (table_name(target), table_name(collection));
                    indexes.extend(rename_indexes(dialect, versions, &from, &to, true));
                    renames.push((from, to));
                }
                renames.push((target.clone(), collection.clone()));
            }
            let mut all = retired.clone();
            all.extend(renames);
            Ok((done, all, indexes))
        }
        .await;
        let (done, renames, indexes) = match switched {
            Ok(ok) => ok,
            Err(err) => {
                let _ = tx.rollback().await;
                return Err(err);
            }
        };
        // The versions tables' indexes follow them (on MySQL, by themselves).
        let mut statements = rename_tables_sql(dialect, &renames);
        statements.extend(indexes);
        if dialect.syntax().rename_commits() {
            tx.commit().await?;
            tx = shared.db().begin_write().await?;
        }
        // Dropped on an error, the transaction rolls back.
        for statement in &statements {
            tx.execute(statement).await?;
        }
        tx.commit().await?;
        shared.set_reducer(reducer);
        self.refresh_schema().await?;
        let paused = pause.elapsed();
        drop(gate);
        let retired: Vec<String> = renames
            .iter()
            .filter(|(from, _)| tables.iter().any(|(c, _)| c == from))
            .map(|(_, to)| to.clone())
            .collect();
        tracing::info!(
            replayed = done,
            ?retired,
            paused_ms = paused.as_secs_f64() * 1000.0,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "rebuild: switched"
        );
        progress(RebuildProgress {
            replayed: done,
            head: done,
        });
        Ok(RebuildReport {
            replayed: done,
            retired,
            paused,
        })
    }
}
