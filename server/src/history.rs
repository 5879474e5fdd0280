//! The time machine: the read model as of any past point ([`Store::as_of`]),
//! the history of one row ([`Store::history`]), and restoring a destroyed
//! row with an ordinary event ([`Store::restore`]).
//!
//! # Snapshots
//!
//! A point costs loading the newest snapshot at or before it plus replaying
//! the events after it through the reducers into a [`MemoryDatabase`] — not
//! the whole log. Snapshots ([`crate::snapshots`]) are the **full** read
//! model as of a `seq`, taken in the background every
//! [`Config::snapshot_every`](crate::Config::snapshot_every) events (default
//! 1000) and on demand with [`Store::take_snapshot`]. Costs: each snapshot holds the whole state
//! (storage grows with state size × log length / N), and taking one replays
//! at most N events plus serializes the state once; `as_of` replays at most
//! N events after loading a snapshot. Snapshots belong to the reducers that
//! made them: [`Store::rebuild`](crate::Store::rebuild) deletes them when it
//! switches reducers.
//!
//! The whole state of a point is held in memory, as a `MemoryDatabase` with
//! the read model's schema (so it checks exactly what SQL checks).

use flux_capacitor::{Error as CoreError, Event, Key, MemoryDatabase, Operation, RESTORE_EVENT, Row, StoredEvent};
use serde_json::json;

use crate::read::query_error;
use crate::reduce::run_reducer;
use crate::snapshots::Snapshots;
use crate::sql::codec::{parse_timestamp, read_back};
use crate::store::Shared;
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

/// The read model as it was at a point: see [`Store::as_of`].
#[derive(Debug, Clone)]
pub struct AsOf {
    /// The last event included (0: none). A point after the log's head is the head.
    pub seq: u64,
    /// The state.
    pub db: MemoryDatabase,
}

impl AsOf {
    /// Rows of `collection` as [`Store::find_all`] would have returned them
    /// then: the same validation ([`FindOptions::validate`]), the same
    /// meaning ([`MemoryDatabase::find_all`]) and the same values back (each
    /// through the decoding of its column type: a `real` as a `real` column
    /// gives it back).
    pub fn find_all(&self, collection: &str, options: &FindOptions) -> Result<Vec<Row>, StoreError> {
        let rows = self.db.find_all(collection, options).map_err(query_error(collection))?;
        Ok(rows.into_iter().map(|row| self.read_back(collection, row)).collect())
    }

    /// The row of `collection` with key `id` then, as [`Store::find_by_id`]
    /// would have returned it (a key of the other type is `type_mismatch`).
    pub fn find_by_id(&self, collection: &str, id: impl Into<Key>) -> Result<Option<Row>, StoreError> {
        let row = self
            .db
            .find_by_id(collection, &id.into())
            .map_err(query_error(collection))?;
        Ok(row.map(|row| self.read_back(collection, row)))
    }

    /// `row` as its table would give it back.
    fn read_back(&self, collection: &str, row: &Row) -> Row {
        let fields = self.db.schema().and_then(|s| s.collections.get(collection));
        row.iter()
            .map(|(field, value)| {
                let ty = fields.and_then(|f| f.fields.get(field));
                let value = ty.map_or_else(|| value.clone(), |ty| read_back(*ty, value));
                (field.clone(), value)
            })
            .collect()
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

fn replay_error(event: &StoredEvent, source: CoreError) -> StoreError {
    StoreError::Replay {
        seq: event.seq,
        event_type: event.event_type.clone(),
        source: Box::new(source),
    }
}

/// An empty state with the read model's schema.
pub(crate) fn empty_state(shared: &Shared) -> MemoryDatabase {
    MemoryDatabase::with_schema(shared.schema().schema.clone())
}

/// Replays events `after < seq <= upto` into `db`; with `watch`, answers
/// every change of that row.
async fn replay(
    shared: &Shared,
    db: &mut MemoryDatabase,
    after: u64,
    upto: u64,
    watch: Option<(&str, &Key)>,
) -> Result<Vec<Change>, StoreError> {
    let reducer = shared.reducer();
    let mut changes = Vec::new();
    let mut last = after;
    while last < upto {
        let page = (shared.config.replay_page as u64).min(upto - last);
        let events = shared.db().fetch_events(&EventQuery::after(last, page)).await?;
        let Some(tail) = events.last() else { break };
        last = tail.seq;
        for event in events.iter().filter(|e| e.seq <= upto) {
            let before = watch.and_then(|(c, id)| db.get(c, id).cloned());
            let changeset = run_reducer(&*reducer, event).map_err(|e| replay_error(event, e))?;
            db.apply(&changeset).map_err(|e| replay_error(event, e))?;
            if let Some((collection, id)) = watch {
                let after = db.get(collection, id);
                if before.as_ref() != after {
                    changes.push(Change {
                        event: event.clone(),
                        before,
                        after: after.cloned(),
                    });
                }
            }
        }
    }
    Ok(changes)
}

/// The state right after `seq`: newest snapshot at or before it, plus the events after.
pub(crate) async fn state_at(shared: &Shared, seq: u64) -> Result<MemoryDatabase, StoreError> {
    let (mut db, from) = match Snapshots::load(shared, seq).await? {
        Some((at, db)) => (db, at),
        None => (empty_state(shared), 0),
    };
    replay(shared, &mut db, from, seq, None).await?;
    Ok(db)
}

/// The `seq` of the last event at or before `time` (binary search: `seq`s
/// are gap-free and timestamps never decrease with `seq`).
async fn seq_at_time(shared: &Shared, time: &str, head: u64) -> Result<u64, StoreError> {
    let wanted = parse_timestamp(time).map_err(|_| StoreError::InvalidPoint {
        reason: format!("`{time}` is not an RFC 3339 time"),
    })?;
    let (mut low, mut high) = (0, head); // answer in [low, high]
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        let event = shared.db().fetch_events(&EventQuery::after(mid - 1, 1)).await?;
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
    /// [`Point::Time`]): the newest snapshot at or before it plus the events
    /// after it, replayed through the store's reducers. Equal to replaying
    /// the first `seq` events into an empty `MemoryDatabase`.
    ///
    /// A `seq` past the log's head is [`StoreError::InvalidPoint`]: no state
    /// has been "right after" an event that does not exist yet, and answering
    /// the head's instead would pass a typo or another log's `seq` off as a
    /// real past. A time after the last event is fine: it means now (the
    /// head).
    pub async fn as_of(&self, point: impl Into<Point>) -> Result<AsOf, StoreError> {
        let shared = self.shared();
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
            db: state_at(shared, seq).await?,
        })
    }

    /// Takes a snapshot of the read model as of the log's head now; answers its `seq`.
    pub async fn take_snapshot(&self) -> Result<u64, StoreError> {
        let shared = self.shared();
        let head = shared.db().last_seq().await?;
        Snapshots::take(shared, head).await?;
        Ok(head)
    }

    /// Every event that changed row `id` of `collection`, in `seq` order, with
    /// the row before and after it: who changed what, and when. Replays the
    /// whole log (reducers are opaque: any event may touch any row).
    pub async fn history(&self, collection: &str, id: impl Into<Key>) -> Result<Vec<Change>, StoreError> {
        let shared = self.shared();
        let id = id.into();
        let head = shared.db().last_seq().await?;
        replay(shared, &mut empty_state(shared), 0, head, Some((collection, &id))).await
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
