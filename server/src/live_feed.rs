//! The live feed: every committed batch goes once to every subscriber of
//! this instance, carrying its JSON, made at most once whatever the number
//! of subscribers.
//!
//! A WebSocket subscriber sends events as JSON text; with a thousand of them
//! making it each, one batch was serialized a thousand times. The first
//! subscriber that needs a batch's JSON makes it ([`Batch::json`]), the
//! others share it: the whole batch as one message (`[e1,…,en]`, sent as it
//! is when a subscriber may see all of it and it fits one message) and where
//! each event lies in it (to join the events a subscriber may see, without
//! serializing them again). A batch's JSON lives as long as the batch: in
//! the feed's buffer ([`Config::subscriber_buffer`](crate::Config::subscriber_buffer)
//! batches) or with a subscriber still sending it.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use flux_capacitor::StoredEvent;
use tokio::sync::broadcast;

use crate::metrics::Metrics;

/// The sending side of the live feed (a bounded `tokio::sync::broadcast`
/// channel of [`Batch`]es).
pub(crate) struct LiveFeed {
    sender: broadcast::Sender<Arc<Batch>>,
}

impl LiveFeed {
    /// A feed keeping the last `capacity` batches for its slowest receivers.
    pub(crate) fn new(capacity: usize) -> LiveFeed {
        let (sender, _) = broadcast::channel(capacity.max(1));
        LiveFeed { sender }
    }

    /// Publishes committed `events` (consecutive `seq`s, in order); answers
    /// the number of receivers, or an error when there is none.
    pub(crate) fn send(&self, events: Arc<[StoredEvent]>) -> Result<usize, broadcast::error::SendError<Arc<Batch>>> {
        self.sender.send(Arc::new(Batch {
            events,
            json: OnceLock::new(),
        }))
    }

    /// Receivers listening now.
    pub(crate) fn receiver_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A receiver of the batches sent from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.sender.subscribe()
    }

    /// A handle that does not keep the feed open.
    pub(crate) fn downgrade(&self) -> broadcast::WeakSender<Arc<Batch>> {
        self.sender.downgrade()
    }
}

/// One published batch and, once a subscriber asked, its JSON.
#[derive(Debug)]
pub(crate) struct Batch {
    events: Arc<[StoredEvent]>,
    json: OnceLock<Result<BatchJson, String>>,
}

impl Batch {
    /// The batch's events.
    pub(crate) fn events(&self) -> &Arc<[StoredEvent]> {
        &self.events
    }

    /// The batch's JSON: made by the first caller (counted in `metrics`),
    /// shared with every later one. An error (an event serde_json cannot
    /// write) is kept as well: asking again does not retry.
    pub(crate) fn json(&self, metrics: &Metrics) -> Result<&BatchJson, &str> {
        self.json
            .get_or_init(|| {
                metrics.serialized(self.events.len());
                BatchJson::new(&self.events).map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Events as one JSON array, and where each event lies in it.
#[derive(Debug)]
pub(crate) struct BatchJson {
    /// `[e1,e2,…,en]`, exactly as serde_json writes each event.
    text: Utf8Bytes,
    /// Event `i`'s bytes in `text`.
    spans: Box<[Range<usize>]>,
}

impl BatchJson {
    /// Serializes `events`, each once.
    pub(crate) fn new(events: &[StoredEvent]) -> Result<BatchJson, serde_json::Error> {
        let mut text = Vec::with_capacity(events.iter().map(crate::subscribe::event_bytes).sum::<usize>() + 2);
        let mut spans = Vec::with_capacity(events.len());
        text.push(b'[');
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            let start = text.len();
            serde_json::to_writer(&mut text, event)?;
            spans.push(start..text.len());
        }
        text.push(b']');
        // serde_json writes UTF-8 only.
        let text = String::from_utf8(text).map_err(|err| serde_json::Error::io(std::io::Error::other(err)))?;
        Ok(BatchJson {
            text: Utf8Bytes::from(text),
            spans: spans.into(),
        })
    }

    /// The whole array, shared (cloning it copies no text).
    pub(crate) fn whole(&self) -> &Utf8Bytes {
        &self.text
    }

    /// Event `i`'s JSON.
    pub(crate) fn event(&self, i: usize) -> &[u8] {
        &self.text.as_bytes()[self.spans[i].clone()]
    }
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn event(seq: u64, payload: serde_json::Value) -> StoredEvent {
        StoredEvent {
            id: Uuid::now_v7(),
            seq,
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            hash: None,
            event: Event::new("t", payload),
        }
    }

    #[test]
    fn the_array_and_each_event_are_what_serde_json_writes() {
        let events = vec![
            event(1, json!({ "a": "é\"\n" })),
            event(2, json!([1, 2.5, null])),
            event(3, json!("x")),
        ];
        let json = BatchJson::new(&events).unwrap();
        assert_eq!(json.whole().as_str(), serde_json::to_string(&events).unwrap());
        for (i, e) in events.iter().enumerate() {
            assert_eq!(json.event(i), serde_json::to_vec(e).unwrap().as_slice());
        }
        assert_eq!(BatchJson::new(&[]).unwrap().whole().as_str(), "[]");
    }

    #[test]
    fn a_batch_is_serialized_once_however_often_asked() {
        let metrics = Metrics::default();
        let feed = LiveFeed::new(4);
        let mut receiver = feed.subscribe();
        feed.send(Arc::from(vec![event(1, json!(1)), event(2, json!(2))]))
            .unwrap();
        let batch = receiver.try_recv().unwrap();
        let first = batch.json(&metrics).unwrap().whole().clone();
        for _ in 0..10 {
            assert_eq!(batch.json(&metrics).unwrap().whole(), &first);
        }
        assert_eq!(metrics.serialized_total(), 2, "two events, serialized once");
    }
}
