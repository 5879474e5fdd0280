//! Reading the log across the freeze boundary: every reader of the log
//! (events paging, subscriptions, the time machine, rebuild, the versions
//! build) goes through here, and gets the same events whether they are in
//! `flux_events` or in segments.
//!
//! The manifest is cached; it is read again when it may have changed under
//! the reader (another process froze or thawed): an unfiltered read of the
//! database that does not start right after where it was asked to (the
//! events were frozen meanwhile; the newest event always stays in the
//! database, so an empty answer is never a freeze's doing), a filtered read
//! (always: a filter hides gaps), a segment gone (thawed meanwhile), a
//! `seq` found nowhere. Two decoded segments are cached, so paging through
//! a segment decodes it once.

use std::sync::Arc;

use flux_capacitor::StoredEvent;

use super::IceLog;
use super::manifest::SegmentInfo;
use crate::sql::backend::Backend;
use crate::sql::builder::Sql;
use crate::subscribe::event_bytes;
use crate::{EventQuery, StoreError};

/// How many times a read starts again after finding the manifest changed.
const ATTEMPTS: usize = 4;

/// The events `query` selects, from segments and the database, stopping
/// (when `max_bytes` is given) after the event that brings the page's size
/// ([`event_bytes`]) to `max_bytes`.
pub(crate) async fn events(
    db: &dyn Backend,
    ice: &IceLog,
    query: &EventQuery,
    max_bytes: Option<usize>,
) -> Result<Vec<StoredEvent>, StoreError> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let mut fresh = false;
    for _ in 0..ATTEMPTS {
        let manifest = ice.manifest(db, fresh).await?;
        let frozen = manifest.last().map_or(0, |s| s.last_seq);
        let mut page = Page {
            out: Vec::new(),
            bytes: 0,
            limit: query.limit,
            max_bytes: max_bytes.unwrap_or(usize::MAX),
        };
        let mut after = query.after_seq;
        if after < frozen {
            match from_segments(ice, &manifest, query, &mut page).await {
                Ok(()) => {}
                Err(StoreError::SegmentMissing { .. }) if !fresh => {
                    fresh = true;
                    continue;
                }
                Err(err) => return Err(err),
            }
            if page.full() {
                return Ok(page.out);
            }
            after = frozen;
        }
        let rest = EventQuery {
            after_seq: after,
            limit: query.limit - page.out.len() as u64,
            types: query.types.clone(),
        };
        let rows = match max_bytes {
            Some(_) => db.fetch_events_within(&rest, page.max_bytes - page.bytes).await?,
            None => db.fetch_events(&rest).await?,
        };
        let changed = match &query.types {
            None => rows.first().is_some_and(|e| e.seq != after + 1),
            // A filter hides gaps: look at the manifest itself.
            Some(_) => super::manifest::load(db).await?.last().map_or(0, |s| s.last_seq) != frozen,
        };
        if changed {
            tracing::debug!(
                after,
                frozen,
                "icelog: the manifest changed under a read; reading it again"
            );
            fresh = true;
            continue;
        }
        page.out.extend(rows);
        return Ok(page.out);
    }
    Err(StoreError::IceLog {
        reason: "the log kept being frozen or thawed while it was read".into(),
    })
}

struct Page {
    out: Vec<StoredEvent>,
    bytes: usize,
    limit: u64,
    max_bytes: usize,
}

impl Page {
    fn full(&self) -> bool {
        self.out.len() as u64 >= self.limit || self.bytes >= self.max_bytes
    }
}

async fn from_segments(
    ice: &IceLog,
    manifest: &[SegmentInfo],
    query: &EventQuery,
    page: &mut Page,
) -> Result<(), StoreError> {
    let start = manifest.partition_point(|s| s.last_seq <= query.after_seq);
    for info in &manifest[start..] {
        let events = ice.segment(info).await?;
        // A segment holds `first_seq..=last_seq`, one event each (checked when decoded).
        let skip = (query.after_seq + 1).saturating_sub(info.first_seq) as usize;
        for event in events.iter().skip(skip) {
            if query.types.as_ref().is_some_and(|t| !t.contains(&event.event_type)) {
                continue;
            }
            page.bytes += event_bytes(event);
            page.out.push(event.clone());
            if page.full() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The events `sql` (a `SELECT` of given `seq`s, `seqs`) finds in the
/// database, plus those of `seqs` that are in segments, in `seq` order.
pub(crate) async fn events_at(
    db: &dyn Backend,
    ice: &IceLog,
    sql: &Sql,
    seqs: &[u64],
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut found = db.fetch_events_sql(sql).await?;
    let mut fresh = false;
    for _ in 0..ATTEMPTS {
        let missing: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|seq| !found.iter().any(|e| e.seq == *seq))
            .collect();
        if missing.is_empty() {
            break;
        }
        let manifest = ice.manifest(db, fresh).await?;
        let mut gone = false;
        for seq in missing {
            let at = manifest.partition_point(|s| s.last_seq < seq);
            let Some(info) = manifest.get(at).filter(|s| s.first_seq <= seq) else {
                gone = true;
                continue;
            };
            match ice.segment(info).await {
                Ok(events) => found.extend(events.iter().find(|e| e.seq == seq).cloned()),
                Err(StoreError::SegmentMissing { .. }) if !fresh => gone = true,
                Err(err) => return Err(err),
            }
        }
        if !gone || fresh {
            break;
        }
        // Thawed (or frozen) meanwhile: read both again.
        fresh = true;
        found = db.fetch_events_sql(sql).await?;
    }
    found.sort_by_key(|e| e.seq);
    found.dedup_by_key(|e| e.seq);
    Ok(found)
}

/// Shares decoded segments between readers.
pub(crate) type Decoded = Arc<[StoredEvent]>;

/// The events of `ids` that are in segments (their ids kept in
/// `flux_icelog_ids`, their events read back), in `seq` order.
pub(crate) async fn frozen_events_by_id(
    db: &dyn Backend,
    ice: &IceLog,
    ids: &[uuid::Uuid],
) -> Result<Vec<StoredEvent>, StoreError> {
    let seqs = super::manifest::frozen_seqs(db, ids).await?;
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    events_at(
        db,
        ice,
        &crate::sql::versions::events_at_sql(db.dialect(), &seqs),
        &seqs,
    )
    .await
}
