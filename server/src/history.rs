//! The time machine: the read model as of any past point ([`Store::as_of`]),
//! the history of one row ([`Store::history`]), and restoring a destroyed
//! row with an ordinary event ([`Store::restore`]).
//!
//! # Row versions
//!
//! Both read the **row versions** the store keeps ([`crate::versions`]):
//! for each read-model table a versions table with the same columns plus
//! `flux_valid_from_seq` / `flux_valid_until_seq`, written in the dispatch's
//! own transaction (a create opens a version; an update closes the current
//! one at the event's `seq` and opens the new one; a destroy closes it;
//! `*_where` do the same for every row matched, set-based). So:
//!
//! * a past page ([`AsOf::find_all`]) is **one indexed SQL query**: the
//!   live read's statement (the same [`FindOptions`] checks, filter and
//!   order compilation and decoding) on the versions table, restricted to
//!   the versions in force right after the `seq`;
//! * a row's [`Store::history`] is one indexed query (plus one for the
//!   events that made its changes);
//! * storage grows with the number of changes, not with the state's size
//!   times the log's length; memory stays flat.
//!
//! Chosen over the alternatives by these properties and by measurement
//! (BENCHMARKS.md, Store section 9): full snapshots (what the store did
//! before: the whole state as JSON every 1,000 events, an `as_of` loading
//! one into memory — 1.2–1.9 s and 22 MB a snapshot at 200,000 rows) cost
//! in proportion to the state; inverse changesets stored with each event
//! would still need a replay to reach a point. The cost is paid at write
//! time: every changed row is written twice (its table and its versions).
//!
//! A point given as a time ([`Point::Time`]) becomes the `seq` of the last
//! event at or before it (a binary search over the log: a few indexed reads).

use flux_capacitor::{Event, FieldType, Key, Operation, RESTORE_EVENT, Row, StoredEvent, check_key};
use serde_json::{Value, json};

use crate::read::no_versions;
use crate::reduce::run_reducer;
use crate::schema::Column;
use crate::sql::codec::parse_timestamp;
use crate::sql::versions::{events_at_sql, history_sql};
use crate::store::Shared;
use crate::versions::{OPEN, VALIDITY};
use crate::{Context, EventQuery, FindOptions, Store, StoreError};

/// A point in the log: right after event `seq`, or right after the last
/// event committed at or before an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// After this `seq` (0: before the first event).
    Seq(u64),
    /// After the last event whose timestamp is at or before this time.
    Time(String),
}

/// A `seq` when `text` is a number, else a time (checked when used).
impl From<&str> for Point {
    fn from(text: &str) -> Self {
        text.parse().map_or_else(|_| Point::Time(text.to_owned()), Point::Seq)
    }
}

impl From<u64> for Point {
    fn from(seq: u64) -> Self {
        Point::Seq(seq)
    }
}

/// The read model as it was at a point: see [`Store::as_of`]. A handle:
/// each read is one SQL query on the row versions at [`AsOf::seq`].
#[derive(Debug, Clone)]
pub struct AsOf {
    /// The last event included (0: none). A point after the log's head is the head.
    pub seq: u64,
    store: Store,
}

impl AsOf {
    /// Rows of `collection` as [`Store::find_all`] would have returned them
    /// then: the same validation ([`FindOptions::validate`]) and errors, the
    /// same statement (on the table's versions in force right after
    /// [`AsOf::seq`]), the same values back.
    pub async fn find_all(&self, collection: &str, options: &FindOptions) -> Result<Vec<Row>, StoreError> {
        self.store.find_at(collection, options, Some(self.seq)).await
    }

    /// The row of `collection` with key `id` then, as [`Store::find_by_id`]
    /// would have returned it (a key of the other type is `type_mismatch`).
    pub async fn find_by_id(&self, collection: &str, id: impl Into<Key>) -> Result<Option<Row>, StoreError> {
        self.store.find_by_id_at(collection, id.into(), Some(self.seq)).await
    }

    /// Every table that had rows then, as [`Store::snapshot`] gives the live ones.
    pub async fn snapshot(&self) -> Result<Value, StoreError> {
        let schema = self.store.refresh_schema().await?;
        let mut out = serde_json::Map::new();
        for name in schema.collections.keys() {
            let rows = self.find_all(name, &FindOptions::all()).await?;
            if !rows.is_empty() {
                out.insert(
                    name.clone(),
                    Value::Array(rows.into_iter().map(Value::Object).collect()),
                );
            }
        }
        Ok(Value::Object(out))
    }
}

/// One event's effect on one row: see [`Store::history`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The event (who: `meta`, when: `timestamp`).
    pub event: StoredEvent,
    /// The row before it (`None`: did not exist).
    pub before: Option<Row>,
    /// The row after it (`None`: destroyed).
    pub after: Option<Row>,
}

/// [`StoreError::InvalidPoint`] when the store keeps no row versions.
fn versions_on(shared: &Shared) -> Result<(), StoreError> {
    if shared.config.row_versions {
        return Ok(());
    }
    Err(StoreError::InvalidPoint {
        reason: "the store keeps no row versions (Config::row_versions is off)".into(),
    })
}

/// The `seq` of the last event at or before `time` (binary search: `seq`s
/// are gap-free and timestamps never decrease with `seq`).
async fn seq_at_time(shared: &Shared, time: &str, head: u64) -> Result<u64, StoreError> {
    let wanted = parse_timestamp(time).map_err(|_| StoreError::InvalidPoint {
        reason: format!("`{time}` is not an RFC 3339 time"),
    })?;
    let (mut low, mut high) = (0, head); // answer in [low, high]
    // Frozen events: the manifest's times narrow the search to one segment.
    for segment in shared.icelog.manifest(shared.db(), false).await?.iter() {
        if parse_timestamp(&segment.last_time)? <= wanted {
            low = low.max(segment.last_seq.min(head));
        } else {
            high = high.min(segment.last_seq);
            low = low.max(segment.first_seq - 1);
            break;
        }
    }
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        let event =
            crate::icelog::read::events(shared.db(), &shared.icelog, &EventQuery::after(mid - 1, 1), None).await?;
        let at = event
            .first()
            .map(|e| parse_timestamp(&e.timestamp))
            .transpose()?
            .ok_or_else(|| StoreError::InvalidPoint {
                reason: format!("the log has no event {mid}"),
            })?;
        if at <= wanted { low = mid } else { high = mid - 1 }
    }
    Ok(low)
}

impl Store {
    /// The read model as it was right after `point` (a `seq`, or a
    /// [`Point::Time`]), read from the row versions (see the [module
    /// docs](crate::AsOf)): equal to replaying the first `seq` events into
    /// an empty `MemoryDatabase`. Cheap: it only finds the `seq`; each read
    /// of the [`AsOf`] is one query.
    ///
    /// A `seq` past the log's head is [`StoreError::InvalidPoint`]: no state
    /// has been "right after" an event that does not exist yet, and answering
    /// the head's instead would pass a typo or another log's `seq` off as a
    /// real past. A time after the last event is fine: it means now (the
    /// head).
    pub async fn as_of(&self, point: impl Into<Point>) -> Result<AsOf, StoreError> {
        let shared = self.shared();
        versions_on(shared)?;
        let head = shared.db().last_seq().await?;
        let seq = match point.into() {
            Point::Seq(seq) if seq > head => {
                return Err(StoreError::InvalidPoint {
                    reason: format!("seq {seq} is past the log's head ({head})"),
                });
            }
            Point::Seq(seq) => seq,
            Point::Time(time) => seq_at_time(shared, &time, head).await?,
        };
        Ok(AsOf {
            seq,
            store: self.clone(),
        })
    }

    /// Every event that changed row `id` of `collection`, in `seq` order, with
    /// the row before and after it (as a read gives it back): who changed
    /// what, and when. One indexed query on the row's versions, one for the
    /// events. An event that left the row as it was is not a change.
    pub async fn history(&self, collection: &str, id: impl Into<Key>) -> Result<Vec<Change>, StoreError> {
        let id = id.into();
        versions_on(self.shared())?;
        let schema = self
            .checked_schema(collection, |schema| check_key(collection, &id, Some(schema)))
            .await?;
        let versions = schema.versions.get(collection).ok_or_else(|| no_versions(collection))?;
        let db = self.shared().db();
        let (statement, mut columns) = history_sql(db.dialect(), versions, &id);
        let [from, to] = VALIDITY.map(|name| Column::new(name, FieldType::Integer));
        columns.extend([&from, &to]);
        let mut steps: Vec<(u64, Option<Row>, Option<Row>)> = Vec::new();
        let mut last: Option<(Row, Option<u64>)> = None;
        for mut row in db.fetch_rows(&statement, &columns).await? {
            let seq = |row: &mut Row, name: &str| row.remove(name).and_then(|v| v.as_u64());
            let end = seq(&mut row, VALIDITY[1]).filter(|&end| end != OPEN as u64);
            let (Some(start), end) = (seq(&mut row, VALIDITY[0]), end) else {
                continue;
            };
            let before = match last.take() {
                Some((previous, Some(ended))) if ended < start => {
                    steps.push((ended, Some(previous), None));
                    None
                }
                Some((previous, _)) => Some(previous),
                None => None,
            };
            steps.push((start, before, Some(row.clone())));
            last = Some((row, end));
        }
        if let Some((previous, Some(ended))) = last {
            steps.push((ended, Some(previous), None));
        }
        steps.retain(|(_, before, after)| before != after);
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<u64> = steps.iter().map(|(seq, _, _)| *seq).collect();
        let events =
            crate::icelog::read::events_at(db, &self.shared().icelog, &events_at_sql(db.dialect(), &seqs), &seqs)
                .await?;
        steps
            .into_iter()
            .map(|(seq, before, after)| {
                let event = events
                    .iter()
                    .find(|e| e.seq == seq)
                    .cloned()
                    .ok_or_else(|| StoreError::InvalidPoint {
                        reason: format!("row versions name event {seq}, which is not in the log"),
                    })?;
                Ok(Change { event, before, after })
            })
            .collect()
    }

    /// Brings back the last state of the destroyed row `id` of `collection`
    /// by dispatching an ordinary [`RESTORE_EVENT`] (so the restore is itself
    /// in the log, and reducers everywhere apply it). The store's reducers must
    /// include [`flux_capacitor::restore`]. Fails with
    /// [`StoreError::NotRestorable`] when the row exists or never existed.
    pub async fn restore(
        &self,
        collection: &str,
        id: impl Into<Key>,
        ctx: &Context,
    ) -> Result<StoredEvent, StoreError> {
        let event = self.restore_event(collection, id).await?;
        let mut stored = self.dispatch_all_with(vec![event], ctx).await?;
        stored.pop().ok_or(StoreError::Closed)
    }

    /// The [`RESTORE_EVENT`] that [`Store::restore`] dispatches, without
    /// dispatching it (to authorize or stamp it first, as the HTTP service does).
    pub async fn restore_event(&self, collection: &str, id: impl Into<Key>) -> Result<Event, StoreError> {
        let id = id.into();
        let not = |reason: &str| StoreError::NotRestorable {
            collection: collection.into(),
            id: id.to_string(),
            reason: reason.into(),
        };
        let history = self.history(collection, id.clone()).await?;
        let last = history.last().ok_or_else(|| not("it never existed"))?;
        if last.after.is_some() {
            return Err(not("it exists"));
        }
        let row = last.before.clone().ok_or_else(|| not("it never existed"))?;
        let key = self.shared().schema().tables.get(collection).map(|t| t.key.clone());
        let payload = json!({ "collection": collection, "key": key, "row": row });
        let event = Event::new(RESTORE_EVENT, payload);
        // Without `flux_capacitor::restore()` among the reducers the event
        // would be logged and change nothing: refuse instead.
        let probe = StoredEvent::at(0, "", event.clone());
        let creates = run_reducer(&*self.shared().reducer(), &probe).is_ok_and(|changeset| {
            changeset
                .operations()
                .iter()
                .any(|op| matches!(op, Operation::Create { collection: c, .. } if c == collection))
        });
        if !creates {
            return Err(not(
                "the store's reducers do not handle `flux/restore` (add `flux_capacitor::restore()`)",
            ));
        }
        Ok(event)
    }
}
