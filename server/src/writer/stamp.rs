//! Stamping: the one routine that gives a dispatch's events their `seq`,
//! `id` and timestamp (new events) or checks that they follow the log
//! (replayed events), for the multi-row and the one-statement path alike.

use chrono::{DateTime, Utc};
use flux_capacitor::StoredEvent;
use uuid::Uuid;

use super::{Batch, Request};
use crate::StoreError;
use crate::sql::codec::{format_timestamp, parse_timestamp};

/// One dispatch's events as stored, each with its time.
pub(super) struct Stamped {
    pub events: Vec<StoredEvent>,
    pub times: Vec<DateTime<Utc>>,
}

/// Takes `batch`'s events and stamps them to follow event `seq` at `time`:
/// new events get the next `seq`s, their client-chosen id or a new one, and a time (now, never before
/// the previous event's); replayed events must have exactly the next `seq`s
/// and a valid timestamp, or nothing is taken and the error names the first
/// that does not.
pub(super) fn stamp(batch: &mut Batch, seq: u64, time: DateTime<Utc>) -> Result<Stamped, StoreError> {
    match batch {
        Batch::New(events) => {
            let mut time = time;
            let mut times = Vec::with_capacity(events.len());
            let events = std::mem::take(events)
                .into_iter()
                .enumerate()
                .map(|(index, mut event)| {
                    time = next_time(time);
                    times.push(time);
                    StoredEvent {
                        // The id the dispatcher chose, if any (see `ids`).
                        id: event.id.take().unwrap_or_else(new_id),
                        seq: seq + index as u64 + 1,
                        timestamp: format_timestamp(time),
                        // Set by the writer once it has the changeset.
                        hash: None,
                        event,
                    }
                })
                .collect();
            Ok(Stamped { events, times })
        }
        Batch::Stored(events) => {
            // Replayed: the hash written is that of the current reducers'
            // changeset, and reducers never see one.
            for event in events.iter_mut() {
                event.hash = None;
            }
            let times = events
                .iter()
                .enumerate()
                .map(|(index, event)| replayed_time(event, index, seq))
                .collect::<Result<_, _>>()?;
            Ok(Stamped {
                events: std::mem::take(events),
                times,
            })
        }
    }
}

/// The time of replayed event `index`, checking it is the log's next.
fn replayed_time(event: &StoredEvent, index: usize, seq: u64) -> Result<DateTime<Utc>, StoreError> {
    let expected = seq + index as u64 + 1;
    if event.seq != expected {
        return Err(StoreError::InvalidEvent {
            index,
            reason: format!("replayed event has seq {}, the log expects {expected}", event.seq),
        });
    }
    parse_timestamp(&event.timestamp).map_err(|_| StoreError::InvalidEvent {
        index,
        reason: format!("replayed event has an invalid timestamp `{}`", event.timestamp),
    })
}

/// Stamps every dispatch of the group in turn; `None`, with every event put
/// back, when one cannot be stamped (the one-statement path reports it).
pub(super) fn stamp_group(group: &mut [Request], mut seq: u64, mut time: DateTime<Utc>) -> Option<Vec<Stamped>> {
    let mut out = Vec::with_capacity(group.len());
    for index in 0..group.len() {
        match stamp(&mut group[index].batch, seq, time) {
            Ok(stamped) => {
                seq += stamped.events.len() as u64;
                time = stamped.times.last().copied().unwrap_or(time);
                out.push(stamped);
            }
            Err(_) => {
                unstamp(group, out);
                return None;
            }
        }
    }
    Some(out)
}

/// Puts stamped events back into their requests, in order.
pub(super) fn unstamp(group: &mut [Request], stamped: Vec<Stamped>) {
    for (request, dispatch) in group.iter_mut().zip(stamped) {
        request.batch = match request.batch {
            // Each keeps its id when stamped again.
            Batch::New(_) => Batch::New(dispatch.events.into_iter().map(|e| e.event.with_id(e.id)).collect()),
            Batch::Stored(_) => Batch::Stored(dispatch.events),
        };
    }
}

/// The time of the next event: now, in milliseconds, never before `last`.
fn next_time(last: DateTime<Utc>) -> DateTime<Utc> {
    let now = Utc::now();
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    now.max(last)
}

/// A new event's id: a version 7 UUID — random, but ordered by creation (a
/// millisecond timestamp, then a counter), so the log's unique index on `id`
/// grows at its end like the one on `seq`. Random (v4) ids dirty a page of
/// that index per event, which made writes slow down as the log grew.
fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;

    use super::*;

    #[test]
    fn replayed_events_must_follow_the_log_with_valid_timestamps() {
        let at = |seq, timestamp: &str| StoredEvent {
            id: Uuid::nil(),
            seq,
            timestamp: timestamp.into(),
            hash: None,
            event: Event::new("e", serde_json::Value::Null),
        };
        let time = DateTime::<Utc>::MIN_UTC;
        let good = "2026-11-30T10:00:00.000Z";
        let mut ok = Batch::Stored(vec![at(4, good), at(5, good)]);
        assert_eq!(stamp(&mut ok, 3, time).unwrap().events.len(), 2);
        for (events, index, reason) in [
            (
                vec![at(4, good), at(6, good)],
                1,
                "replayed event has seq 6, the log expects 5",
            ),
            (
                vec![at(4, "yesterday")],
                0,
                "replayed event has an invalid timestamp `yesterday`",
            ),
        ] {
            let mut batch = Batch::Stored(events);
            match stamp(&mut batch, 3, time) {
                Err(StoreError::InvalidEvent { index: i, reason: r }) => assert_eq!((i, r.as_str()), (index, reason)),
                _ => panic!("expected invalid_event"),
            }
            assert!(matches!(&batch, Batch::Stored(e) if !e.is_empty()), "nothing taken");
        }
    }
}
