//! The icelog: old events moved out of the database into cold, immutable,
//! checksummed **segments** ([`Store::freeze`](crate::Store::freeze)), and back ([`Store::thaw`](crate::Store::thaw)),
//! while everything that reads the log keeps reading all of it.
//!
//! * **Segments** (`segment.rs`): the events of a `seq` range, at most
//!   [`Config::icelog_segment_events`](crate::Config::icelog_segment_events)
//!   (100,000), as zstd-compressed JSON lines of the stored events (`hash`
//!   included), one object each, named by the range
//!   and a UUID (`segment-<first>-<last>-<uuid>.jsonl.zst`), with a CRC-32 over the compressed
//!   bytes and one over the decoded lines.
//! * **Where** (`objects.rs`): [`Config::icelog`](crate::Config::icelog), a
//!   URL — a directory (by default `<database file>.icelog` beside an SQLite
//!   file; PostgreSQL and MySQL/MariaDB have no default: set one), `file://`,
//!   or `s3://bucket/prefix` with the `s3` feature.
//! * **The manifest** (`manifest.rs`): table `flux_icelog`, one row a segment.
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
//! it (its manifest row goes in only if the manifest still ends right
//! before the segment), a thaw shortens it from the end (it removes exactly
//! the manifest rows it read); either fails, changing nothing, when the
//! other ran in between. Readers rely on it: below `F` the segments, above
//! it the database.
//!
//! # Reading across the boundary
//!
//! `read.rs` serves every reader of the log — [`Store::events`](crate::Store::events), subscriptions
//! resuming from an old `seq`, the time machine's event lookups
//! ([`Store::history`](crate::Store::history), a [`Point::Time`](crate::Point::Time)), [`Store::rebuild`](crate::Store::rebuild)
//! and the row versions' build. The time machine's states ([`Store::as_of`](crate::Store::as_of))
//! come from the row versions tables, which a freeze does not touch.
//! A segment that is missing or damaged is [`StoreError::SegmentMissing`] or
//! [`StoreError::SegmentCorrupt`], naming it — never a shorter history.
//!
//! Client-chosen event ids stay committed once across the boundary: a freeze
//! copies the ids it moves, with their `seq`s, into `flux_icelog_ids` (about
//! 40 bytes an event, in the same transaction as the move; a thaw deletes
//! them), so the writer's check ([`Store::dispatch_all_with`](crate::Store::dispatch_all_with))
//! and [`Store::events_by_id`](crate::Store::events_by_id) find a frozen id and answer with its
//! event read back from its segment. A group whose ids are all new pays one
//! indexed read of that table.

mod freeze;
pub(crate) mod manifest;
pub(crate) mod objects;
pub(crate) mod read;
pub(crate) mod segment;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use flux_capacitor::StoredEvent;

pub use manifest::SegmentInfo;
use objects::Objects;
use read::Decoded;

use crate::StoreError;
use crate::sql::backend::Backend;

/// Which events [`Store::freeze`](crate::Store::freeze) moves to the icelog.
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

/// What a finished [`Store::freeze`](crate::Store::freeze) or [`Store::thaw`](crate::Store::thaw) did.
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

/// `location` with a relative directory made absolute: the manifest
/// records it, and a process started from another working directory must
/// find the same segments. URLs are kept as they are.
fn absolute_location(location: String) -> String {
    if location.is_empty() || location.contains("://") {
        return location;
    }
    std::path::absolute(&location).map_or(location, |path| path.display().to_string())
}

impl IceLog {
    pub(crate) fn new(location: Option<String>, segment_events: usize) -> IceLog {
        IceLog {
            location: location.map(absolute_location),
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

#[cfg(test)]
mod tests {
    use super::absolute_location;

    #[test]
    fn a_relative_directory_is_recorded_absolute_and_urls_as_they_are() {
        let recorded = absolute_location("frozen/events".into());
        assert!(std::path::Path::new(&recorded).is_absolute(), "{recorded}");
        assert!(recorded.ends_with("frozen/events"), "{recorded}");
        for url in ["/var/lib/icelog", "file:///var/lib/icelog", "s3://bucket/prefix", ""] {
            assert_eq!(absolute_location(url.into()), url);
        }
    }
}
