//! [`Store::freeze`], [`Store::thaw`] and the icelog's listing and checks:
//! moving events between `flux_events` and segments (see the [module
//! docs](crate::icelog) for why each step is safe).

use std::time::Instant;

use chrono::{DateTime, Utc};
use flux_capacitor::StoredEvent;

use super::objects::Objects;
use super::{FreezeBelow, IceProgress, IceReport, SegmentInfo, manifest, segment};
use crate::sql::codec::parse_timestamp;
use crate::sql::write::split_rows;
use crate::sql::{EVENT_PARAMS, insert_events};
use crate::{EventQuery, Store, StoreError};

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
            tx.execute(&manifest::copy_ids_sql(db.dialect(), info.first_seq, info.last_seq))
                .await?;
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
            for chunk in split_rows(&events, EVENT_PARAMS) {
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
        tx.execute(&manifest::delete_ids_above_sql(dialect, cut)).await?;
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
