//! Client-chosen event ids ([`Event::id`]): the store commits each at most
//! once, so that resending an event is always safe.
//!
//! Each group's transaction first reads, under the writers' lock (the one
//! that keeps `seq` gap-free across processes), which of its ids the log
//! already holds ([`resolve`]): those events are taken out of their dispatch
//! and answered as stored ([`answer`]), and nothing of them is written again;
//! another event under a committed id is `id_conflict`. Since every writer,
//! in every process, reads under that lock before it writes, two dispatches
//! of one id cannot both miss it — a unique index alone would let both check,
//! both insert, and one fail. The log's unique index on `id` stays as the
//! backstop: a dispatch that fails on a unique index is written once more
//! ([`unique_violation`]), when the check answers it. Two dispatches of one
//! id in the same group would both miss it, the first not being committed
//! yet: the later waits for the next group ([`split_repeats`]).

use std::collections::{HashMap, HashSet};

use flux_capacitor::domain::canonical;
use flux_capacitor::{Event, StoredEvent};
use serde_json::Value;
use uuid::Uuid;

use super::{Batch, Request};
use crate::StoreError;
use crate::icelog::read::frozen_events_by_id;
use crate::middleware::{REQUEST_HASH, REQUEST_ID};
use crate::sql::backend::WriteTx;
use crate::store::Shared;

/// The client-chosen ids of a batch's new events.
pub(super) fn client_ids(batch: &Batch) -> impl Iterator<Item = Uuid> + '_ {
    let events = match batch {
        Batch::New(events) => events.as_slice(),
        Batch::Stored(_) => &[],
    };
    events.iter().filter_map(|event| event.id)
}

/// Splits a group into the requests to write now and those to write in a
/// later group: each request that repeats an id of an earlier one of the
/// group (the first request always stays).
pub(super) fn split_repeats(group: Vec<Request>) -> (Vec<Request>, Vec<Request>) {
    let mut seen = HashSet::new();
    let (mut now, mut later) = (Vec::with_capacity(group.len()), Vec::new());
    for request in group {
        let ids: Vec<Uuid> = client_ids(&request.batch).collect();
        if !now.is_empty() && ids.iter().any(|id| seen.contains(id)) {
            later.push(request);
        } else {
            seen.extend(ids);
            now.push(request);
        }
    }
    (now, later)
}

/// Reads which of the group's client-chosen ids the log holds (in the
/// writer's transaction, under the writers' lock) and takes those events out
/// of their dispatches (see [`take_known`]). An id not in `flux_events` may
/// be of an event frozen into the icelog: `flux_icelog_ids` says, and the
/// event is read back from its segment.
pub(super) async fn resolve(shared: &Shared, tx: &mut dyn WriteTx, group: &mut [Request]) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = group.iter().flat_map(|r| client_ids(&r.batch)).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut found: HashMap<Uuid, StoredEvent> = tx
        .events_by_id(&ids)
        .await
        .map_err(StoreError::database)?
        .into_iter()
        .map(|event| (event.id, event))
        .collect();
    let missing: Vec<Uuid> = ids.iter().filter(|id| !found.contains_key(id)).copied().collect();
    if !missing.is_empty() {
        let frozen = frozen_events_by_id(shared.db(), &shared.icelog, &missing).await?;
        if !frozen.is_empty() {
            tracing::debug!(
                frozen = frozen.len(),
                "ids committed before a freeze: answered from the icelog"
            );
            found.extend(frozen.into_iter().map(|event| (event.id, event)));
        }
    }
    if !found.is_empty() {
        tracing::debug!(found = found.len(), "ids already committed: answered from the log");
        for request in group {
            take_known(request, &found);
        }
    }
    Ok(())
}

/// Moves the events of `request` whose id is in `found` to its `known`
/// answers; the first whose content differs from the committed event refuses
/// the whole dispatch (`id_conflict`), which then writes nothing.
fn take_known(request: &mut Request, found: &HashMap<Uuid, StoredEvent>) {
    let Batch::New(events) = &mut request.batch else {
        return;
    };
    if !events.iter().any(|e| e.id.is_some_and(|id| found.contains_key(&id))) {
        return;
    }
    // The positions in the dispatch of the events still in the batch.
    let total = events.len() + request.known.len();
    let free: Vec<usize> = (0..total)
        .filter(|p| !request.known.iter().any(|(known, _)| known == p))
        .collect();
    let mut kept = Vec::with_capacity(events.len());
    for (event, index) in std::mem::take(events).into_iter().zip(free) {
        match event.id.and_then(|id| found.get(&id)) {
            Some(stored) => {
                if let Err(reason) = same_event(&event, stored)
                    && request.refused.is_none()
                {
                    request.refused = Some(StoreError::IdConflict {
                        index,
                        id: stored.id,
                        seq: stored.seq,
                        reason,
                    });
                }
                request.known.push((index, stored.clone()));
            }
            None => kept.push(event),
        }
    }
    if request.refused.is_none() {
        *events = kept;
    }
}

/// Whether `sent` is the event committed as `stored`: the same `type`,
/// `error`, `payload` and `meta` in canonical form (`3.0` is `3`), except
/// `meta.request_id` and `meta.request_hash`, which every request sets anew
/// (an empty `meta` is none).
fn same_event(sent: &Event, stored: &StoredEvent) -> Result<(), String> {
    if sent.event_type != stored.event_type {
        return Err(format!(
            "type `{}`, committed as `{}`",
            sent.event_type, stored.event_type
        ));
    }
    if sent.error != stored.error {
        return Err("the error flag differs".into());
    }
    if canonical(&sent.payload) != canonical(&stored.payload) {
        return Err("the payload differs".into());
    }
    if comparable_meta(sent.meta.as_ref()) != comparable_meta(stored.meta.as_ref()) {
        return Err("meta differs".into());
    }
    Ok(())
}

fn comparable_meta(meta: Option<&Value>) -> Option<Value> {
    let mut meta = canonical(meta?).into_owned();
    if let Value::Object(map) = &mut meta {
        map.remove(REQUEST_ID);
        map.remove(REQUEST_HASH);
        if map.is_empty() {
            return None;
        }
    }
    Some(meta)
}

/// The answer to a dispatch: its refusal, or every event in the order sent —
/// those written now (`written`, in order) and those found in the log.
pub(super) fn answer(
    known: Vec<(usize, StoredEvent)>,
    refused: Option<StoreError>,
    written: Result<Vec<StoredEvent>, StoreError>,
) -> Result<Vec<StoredEvent>, StoreError> {
    if let Some(err) = refused {
        return Err(err);
    }
    let written = written?;
    if known.is_empty() {
        return Ok(written);
    }
    let mut known = known;
    known.sort_by_key(|(index, _)| *index);
    let total = written.len() + known.len();
    let mut known = known.into_iter().peekable();
    let mut written = written.into_iter();
    let mut out = Vec::with_capacity(total);
    for index in 0..total {
        let next = match known.next_if(|(at, _)| *at == index) {
            Some((_, stored)) => Some(stored),
            None => written.next(),
        };
        out.extend(next);
    }
    Ok(out)
}

/// Whether a dispatch failed on a unique index (the log's `id` among them),
/// so that writing it once more may find its ids committed.
pub(super) fn unique_violation(err: &StoreError) -> bool {
    matches!(err, StoreError::Database { source, .. }
        if source.as_database_error().is_some_and(|e| e.is_unique_violation()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(seq: u64, event: Event) -> StoredEvent {
        StoredEvent::at(seq, "2026-11-30T10:00:00.000Z", event)
    }

    #[test]
    fn the_same_event_is_compared_in_canonical_form_without_the_request_id() {
        let committed = stored(
            3,
            Event::new("add", json!({ "n": 3, "t": "x" })).with_meta(json!({ "user": "mary", "request_id": "a" })),
        );
        let resent =
            Event::new("add", json!({ "t": "x", "n": 3.0 })).with_meta(json!({ "user": "mary", "request_id": "b" }));
        assert_eq!(same_event(&resent, &committed), Ok(()));
        let alone = stored(4, Event::new("add", json!({})).with_meta(json!({ "request_id": "a" })));
        assert_eq!(same_event(&Event::new("add", json!({})), &alone), Ok(()));
        for (other, reason) in [
            (
                Event::new("edit", json!({ "n": 3, "t": "x" })),
                "type `edit`, committed as `add`",
            ),
            (Event::new("add", json!({ "n": 4, "t": "x" })), "the payload differs"),
            (
                Event::new("add", json!({ "n": 3, "t": "x" })).with_meta(json!({ "user": "george" })),
                "meta differs",
            ),
        ] {
            assert_eq!(same_event(&other, &committed), Err(reason.to_owned()));
        }
    }

    #[test]
    fn answers_keep_the_order_sent() {
        let event = |n: u64| stored(n, Event::new("e", json!({ "n": n })));
        let known = vec![(2, event(1)), (0, event(2))];
        let out = answer(known, None, Ok(vec![event(7), event(8)])).unwrap();
        assert_eq!(out.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 7, 1, 8]);
        let refused = StoreError::rejected(None, "no");
        assert!(answer(vec![(0, event(1))], Some(refused), Ok(vec![])).is_err());
    }
}
