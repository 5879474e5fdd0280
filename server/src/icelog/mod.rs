//! The icelog: old events moved out of the database into cold, immutable,
//! checksummed **segments** ([`Store::freeze`]), and back ([`Store::thaw`]),
//! while everything that reads the log keeps reading all of it.
//!
//! * **Segments** ([`segment`]): the events of a `seq` range, at most
//!   [`Config::icelog_segment_events`](crate::Config::icelog_segment_events)
//!   (100,000), as zstd-compressed JSON lines of the stored events (`hash`
//!   included), one object each, named by the range
//!   and a UUID (`segment-<first>-<last>-<uuid>.jsonl.zst`), with a CRC-32 over the compressed
//!   bytes and one over the decoded lines.
//! * **Where** ([`objects`]): [`Config::icelog`](crate::Config::icelog), a
//!   URL — a directory (by default `<database file>.icelog` beside an SQLite
//!   file; PostgreSQL and MySQL/MariaDB have no default: set one), `file://`,
//!   or `s3://bucket/prefix` with the `s3` feature.
//! * **The manifest** ([`manifest`]): table `flux_icelog`, one row a segment.
//!
//! # Safety
//!
//! A freeze writes a segment, reads it back and checks it (both checksums,
//! every event equal to the database's) before it deletes anything; then it
//! deletes the segment's rows from `flux_events` and inserts its manifest
//! row in **one transaction**, holding the writers' lock, and checks that
//! it deleted exactly the segment's events (else it rolls back: another
//! freeze got there first). The newest event always stays in the database,
//! so `seq` allocation (the last `seq`, read under the lock) is untouched.
//! Frozen events are always a prefix of the log (`1..=F`): a freeze extends
//! it, a thaw shortens it from the end.
//!
//! # Reading across the boundary
//!
//! [`read`] serves every reader of the log — [`Store::events`], subscriptions
//! resuming from an old `seq`, the time machine's event lookups
//! ([`Store::history`], a [`Point::Time`](crate::Point::Time)), [`Store::rebuild`]
//! and the row versions' build. The time machine's states ([`Store::as_of`])
//! come from the row versions tables, which a freeze does not touch.
//! A segment that is missing or damaged is [`StoreError::SegmentMissing`] or
//! [`StoreError::SegmentCorrupt`], naming it — never a shorter history.
//!
//! What does not look into segments: the check of client-chosen event ids
//! ([`Store::dispatch_all_with`]) reads `flux_events` only, so an id is
//! unique among the events not frozen (resending a dispatch long after its
//! events were frozen commits it again), and [`Store::events_by_id`] finds
//! only events not frozen.

pub(crate) mod manifest;
pub(crate) mod objects;
pub(crate) mod read;
pub(crate) mod segment;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use flux_capacitor::StoredEvent;

pub use manifest::SegmentInfo;
use objects::Objects;
use read::Decoded;

use crate::sql::backend::Backend;
use crate::sql::codec::parse_timestamp;
use crate::sql::{EVENT_PARAMS, insert_events, row_chunks};
use crate::{EventQuery, Store, StoreError};

/// Which events [`Store::freeze`] moves to the icelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeBelow {
    /// Events whose `seq` is below this one.
    Seq(u64),
    /// Events committed before this time.
    OlderThan(DateTime<Utc>),
}

/// How far a freeze or thaw has come, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceProgress {
    /// Events moved so far.
    pub done: u64,
    /// Events to move in all.
    pub total: u64,
}

/// What a finished [`Store::freeze`] or [`Store::thaw`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceReport {
    /// The segments written (freeze) or brought back (thaw).
    pub segments: Vec<SegmentInfo>,
    /// Events moved.
    pub events: u64,
}

/// How many decoded segments are kept for readers.
const CACHED_SEGMENTS: usize = 2;

/// A store's icelog: where new segments go, the manifest and decoded
/// segments cached for readers.
#[derive(Debug)]
pub(crate) struct IceLog {
    /// Where freezes write (`None`: nowhere configured).
    location: Option<String>,
    segment_events: usize,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    manifest: Option<Arc<[SegmentInfo]>>,
    decoded: VecDeque<(SegmentInfo, Decoded)>,
    objects: HashMap<String, Objects>,
}

impl IceLog {
    pub(crate) fn new(location: Option<String>, segment_events: usize) -> IceLog {
        IceLog {
            location,
            segment_events: segment_events.max(1),
            cache: Mutex::default(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The manifest, cached unless `fresh`.
    pub(crate) async fn manifest(&self, db: &dyn Backend, fresh: bool) -> Result<Arc<[SegmentInfo]>, StoreError> {
        if !fresh && let Some(manifest) = self.cache().manifest.clone() {
            return Ok(manifest);
        }
        let manifest: Arc<[SegmentInfo]> = manifest::load(db).await?.into();
        self.cache().manifest = Some(manifest.clone());
        Ok(manifest)
    }

    /// Forgets the cached manifest (after this store froze or thawed).
    fn invalidate(&self) {
        self.cache().manifest = None;
    }

    fn objects(&self, location: &str) -> Result<Objects, StoreError> {
        if let Some(objects) = self.cache().objects.get(location) {
            return Ok(objects.clone());
        }
        let objects = Objects::open(location)?;
        self.cache().objects.insert(location.to_owned(), objects.clone());
        Ok(objects)
    }

    /// Segment `info`'s events, read and checked (or cached).
    pub(crate) async fn segment(&self, info: &SegmentInfo) -> Result<Decoded, StoreError> {
        if let Some((_, events)) = self.cache().decoded.iter().find(|(i, _)| i == info) {
            return Ok(events.clone());
        }
        let events: Decoded = self.read_segment(info).await?.into();
        let mut cache = self.cache();
        if cache.decoded.len() >= CACHED_SEGMENTS {
            cache.decoded.pop_front();
        }
        cache.decoded.push_back((info.clone(), events.clone()));
        Ok(events)
    }

    /// Reads segment `info` from its location and checks it against the manifest.
    async fn read_segment(&self, info: &SegmentInfo) -> Result<Vec<StoredEvent>, StoreError> {
        let bytes = self.objects(&info.location)?.get(&info.segment).await?;
        segment::decode(&info.segment, &bytes, &info.expected())
    }

    /// Where new segments go.
    fn target(&self) -> Result<Objects, StoreError> {
        let location = self.location.as_deref().ok_or_else(|| StoreError::IceLog {
            reason: "no icelog location configured (Config::icelog, --icelog or FLUX_ICELOG; \
                     only a store on an SQLite file has a default)"
                .into(),
        })?;
        self.objects(location)
    }
}

/// The `seq` of the last event committed before `time` (0: none), by
/// binary search over the log (timestamps never decrease with `seq`).
async fn seq_before(store: &Store, time: DateTime<Utc>, head: u64) -> Result<u64, StoreError> {
    let (mut low, mut high) = (0, head);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        let event = store.events(EventQuery::after(mid - 1, 1)).await?;
        let at = match event.first() {
            Some(e) if e.seq == mid => parse_timestamp(&e.timestamp)?,
            _ => {
                return Err(StoreError::IceLog {
                    reason: format!("the log has no event {mid}"),
                });
            }
        };
        if at < time { low = mid } else { high = mid - 1 }
    }
    Ok(low)
}

impl Store {
    /// Moves the events below `below` (all but the newest event at most)
    /// out of `flux_events` into icelog segments (see the [module
    /// docs](crate::icelog)); `progress` is called after each segment.
    /// Events frozen already stay as they are; freezing nothing new is not
    /// an error. Dispatches go on meanwhile, waiting only for each
    /// segment's delete-and-record transaction.
    pub async fn freeze(
        &self,
        below: FreezeBelow,
        mut progress: impl FnMut(IceProgress),
    ) -> Result<IceReport, StoreError> {
        let shared = self.shared().clone();
        let ice = &shared.icelog;
        let db = shared.db();
        let target = ice.target()?;
        let head = db.last_seq().await?;
        let wanted = match below {
            FreezeBelow::Seq(seq) => seq.saturating_sub(1),
            FreezeBelow::OlderThan(time) => seq_before(self, time, head).await?,
        };
        let last = wanted.min(head.saturating_sub(1));
        let mut frozen = ice.manifest(db, true).await?.last().map_or(0, |s| s.last_seq);
        let total = last.saturating_sub(frozen);
        let started = Instant::now();
        tracing::info!(from = frozen + 1, to = last, location = %target.url, "icelog: freezing");
        let mut report = IceReport {
            segments: Vec::new(),
            events: 0,
        };
        progress(IceProgress { done: 0, total });
        while frozen < last {
            let count = (last - frozen).min(ice.segment_events as u64);
            let events = db.fetch_events(&EventQuery::after(frozen, count)).await?;
            let (Some(first), Some(end)) = (events.first(), events.last()) else {
                break;
            };
            if first.seq != frozen + 1 || end.seq - first.seq + 1 != events.len() as u64 {
                ice.invalidate();
                return Err(StoreError::IceLog {
                    reason: format!(
                        "the log's events after {frozen} are not where a freeze expects them \
                         (another freeze or thaw running?)"
                    ),
                });
            }
            let info = write_segment(&target, &events).await?;
            // The move: one transaction, holding this store's writer and the writers' lock.
            let gate = shared.write_gate.lock().await;
            let mut tx = db.begin_write().await?;
            let deleted = tx
                .execute(&manifest::delete_events_sql(
                    db.dialect(),
                    info.first_seq,
                    info.last_seq,
                ))
                .await?;
            if deleted != info.events {
                let _ = tx.rollback().await;
                ice.invalidate();
                return Err(StoreError::IceLog {
                    reason: format!(
                        "freezing {}..={}: {deleted} events were still in the database, not {} \
                         (another freeze ran at the same time); nothing was changed",
                        info.first_seq, info.last_seq, info.events
                    ),
                });
            }
            if tx.execute(&manifest::insert_sql(db.dialect(), &info)).await? != 1 {
                let _ = tx.rollback().await;
                ice.invalidate();
                return Err(StoreError::IceLog {
                    reason: format!(
                        "freezing {}..={}: the icelog no longer ends at {} (a thaw ran at the same time); \
                         nothing was changed",
                        info.first_seq,
                        info.last_seq,
                        info.first_seq - 1
                    ),
                });
            }
            tx.commit().await?;
            drop(gate);
            ice.invalidate();
            frozen = info.last_seq;
            report.events += info.events;
            tracing::info!(segment = %info.segment, events = info.events, bytes = info.bytes, "icelog: segment frozen");
            report.segments.push(info);
            progress(IceProgress {
                done: report.events,
                total,
            });
        }
        tracing::info!(
            events = report.events,
            segments = report.segments.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "icelog: frozen"
        );
        Ok(report)
    }

    /// Brings back into `flux_events` (same `seq`s, ids, timestamps and
    /// hashes) the events of every segment whose first `seq` is above
    /// `above_seq` (`None`: every segment), and deletes their manifest
    /// entries, in one transaction holding the writers' lock; then deletes
    /// their objects. Each segment is checked as it is read: a missing or
    /// damaged one fails the thaw with nothing changed.
    pub async fn thaw(
        &self,
        above_seq: Option<u64>,
        mut progress: impl FnMut(IceProgress),
    ) -> Result<IceReport, StoreError> {
        let shared = self.shared().clone();
        let ice = &shared.icelog;
        let db = shared.db();
        let dialect = db.dialect();
        let segments: Vec<SegmentInfo> = manifest::load(db)
            .await?
            .into_iter()
            .filter(|s| above_seq.is_none_or(|above| s.first_seq > above))
            .collect();
        let total = segments.iter().map(|s| s.events).sum();
        progress(IceProgress { done: 0, total });
        let gate = shared.write_gate.lock().await;
        let mut tx = db.begin_write().await?;
        let mut done = 0;
        for info in &segments {
            let events = ice.read_segment(info).await?;
            let mut rest = &events[..];
            for size in row_chunks(events.len(), EVENT_PARAMS) {
                let (chunk, tail) = rest.split_at(size);
                rest = tail;
                let rows = chunk
                    .iter()
                    .map(|e| Ok((e, parse_timestamp(&e.timestamp)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                tx.execute(&insert_events(dialect, &rows)).await?;
            }
            done += info.events;
            progress(IceProgress { done, total });
        }
        // Exactly the segments read before the lock: another thaw or a
        // freeze that ran since fails this one (the frozen events stay a prefix).
        let cut = segments.first().map_or(u64::MAX, |s| s.first_seq - 1);
        let removed = tx.execute(&manifest::delete_above_sql(dialect, cut)).await?;
        if removed != segments.len() as u64 {
            let _ = tx.rollback().await;
            ice.invalidate();
            return Err(StoreError::IceLog {
                reason: "the icelog changed while it was thawed (another freeze or thaw); nothing was changed".into(),
            });
        }
        tx.commit().await?;
        drop(gate);
        ice.invalidate();
        for info in &segments {
            if let Err(err) = ice.objects(&info.location)?.delete(&info.segment).await {
                tracing::warn!(error = %err, segment = %info.segment, "icelog: thawed segment not deleted");
            }
        }
        tracing::info!(events = done, segments = segments.len(), "icelog: thawed");
        Ok(IceReport { segments, events: done })
    }

    /// The icelog's segments, in `seq` order (read from the manifest).
    pub async fn icelog_segments(&self) -> Result<Vec<SegmentInfo>, StoreError> {
        Ok(self.shared().icelog.manifest(self.shared().db(), true).await?.to_vec())
    }

    /// Reads segment `info` back and checks it (size, both checksums, every
    /// event in place): [`StoreError::SegmentMissing`] or
    /// [`StoreError::SegmentCorrupt`] when it is not as the manifest says.
    pub async fn verify_segment(&self, info: &SegmentInfo) -> Result<(), StoreError> {
        self.shared().icelog.read_segment(info).await.map(|_| ())
    }
}

/// Writes `events` (consecutive) as a segment at `target`, reads it back
/// and checks it: its manifest entry.
async fn write_segment(target: &Objects, events: &[StoredEvent]) -> Result<SegmentInfo, StoreError> {
    let (first, last) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => {
            return Err(StoreError::IceLog {
                reason: "an empty segment".into(),
            });
        }
    };
    let encoded = segment::encode(events)?;
    let info = SegmentInfo {
        segment: segment::object_name(first.seq, last.seq),
        first_seq: first.seq,
        last_seq: last.seq,
        first_time: first.timestamp.clone(),
        last_time: last.timestamp.clone(),
        events: events.len() as u64,
        bytes: encoded.bytes.len() as u64,
        crc_compressed: encoded.crc_compressed,
        crc_events: encoded.crc_events,
        location: target.url.clone(),
    };
    target.put(&info.segment, encoded.bytes).await?;
    let back = target.get(&info.segment).await?;
    let decoded = segment::decode(&info.segment, &back, &info.expected())?;
    if decoded != events {
        return Err(StoreError::SegmentCorrupt {
            segment: info.segment,
            reason: "read back, its events differ from the database's".into(),
        });
    }
    Ok(info)
}
