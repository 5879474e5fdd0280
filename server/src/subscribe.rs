//! Subscriptions: committed events as an async stream.
//!
//! A subscription listens to the store's live feed (a bounded
//! `tokio::sync::broadcast` channel of committed batches) and keeps the `seq`
//! of the last event it delivered. It never delivers an event twice (it skips
//! `seq <= last`) and never skips one: whenever it falls behind — it starts
//! from an older `seq`, its buffer overflowed ([`SubscriptionItem::Lagged`]),
//! or the next live batch does not follow its last `seq` (another process
//! committed in between) — it reads the missing events from the log, then goes
//! back to the live feed. It subscribes to the live feed *before* its last
//! read of the log, so nothing committed at the seam is lost.
//!
//! The feed never waits for subscribers: a slow subscriber only lags.
//! Live batches reach every subscriber as one shared [`Batch`], so that its
//! JSON is made once for all (see [`crate::live_feed`]).
//!
//! **Memory.** While it catches up, a subscription holds no place in the
//! live feed (a receiver that is not read keeps the feed's last batches
//! alive for everyone); it takes one when a read of the log comes back short,
//! and reads the log once more before going live. Each read of the log is a
//! page of at most [`Config::replay_page`](crate::Config::replay_page)
//! events and about [`Config::replay_page_bytes`](crate::Config::replay_page_bytes)
//! bytes (the rows are streamed and the page ends at the first event that
//! reaches the budget), and the next page asks for as many events as the last
//! one's sizes say fit the budget, so a log of big events is not read ahead.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use flux_capacitor::StoredEvent;
use futures::Stream;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::icelog::IceLog;
use crate::live_feed::Batch;
use crate::store::Shared;
use crate::{DbPool, EventQuery};

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionItem {
    /// Committed events with consecutive `seq`s, in `seq` order: a live item
    /// is one dispatch; items replayed from the log are pages of it.
    Events(Arc<[StoredEvent]>),
    /// The subscriber fell behind the live feed's buffer. Nothing is lost:
    /// the next items replay the log from `after_seq`.
    Lagged {
        /// The `seq` of the last event delivered before the lag.
        after_seq: u64,
    },
}

impl SubscriptionItem {
    /// The events, or an empty slice for [`SubscriptionItem::Lagged`].
    pub fn events(&self) -> &[StoredEvent] {
        match self {
            SubscriptionItem::Events(events) => events,
            SubscriptionItem::Lagged { .. } => &[],
        }
    }
}

/// What a subscription yields inside the crate: live batches as the feed
/// carries them (their JSON shared by every subscriber), pages of the log.
pub(crate) enum FeedItem {
    /// A published batch; its first `skip` events were delivered before.
    Live {
        /// The batch.
        batch: Arc<Batch>,
        /// Events at its start to leave out.
        skip: usize,
    },
    /// Events read from the log, for this subscriber alone.
    Page(Arc<[StoredEvent]>),
    /// See [`SubscriptionItem::Lagged`].
    Lagged {
        /// The `seq` of the last event delivered before the lag.
        after_seq: u64,
    },
}

impl From<FeedItem> for SubscriptionItem {
    fn from(item: FeedItem) -> SubscriptionItem {
        match item {
            FeedItem::Live { batch, skip: 0 } => SubscriptionItem::Events(batch.events().clone()),
            FeedItem::Live { batch, skip } => SubscriptionItem::Events(Arc::from(&batch.events()[skip..])),
            FeedItem::Page(events) => SubscriptionItem::Events(events),
            FeedItem::Lagged { after_seq } => SubscriptionItem::Lagged { after_seq },
        }
    }
}

/// A stream of [`FeedItem`]s: a [`Subscription`] before its items are
/// turned into [`SubscriptionItem`]s.
pub(crate) type Feed = Pin<Box<dyn Stream<Item = FeedItem> + Send>>;

struct State {
    pool: DbPool,
    icelog: Arc<IceLog>,
    feed: broadcast::WeakSender<Arc<Batch>>,
    /// The live feed; `None` while catching up from the log.
    live: Option<broadcast::Receiver<Arc<Batch>>>,
    last: u64,
    catch_up: bool,
    pages: Pages,
}

/// A stream of committed events ([`SubscriptionItem`]s); dropping it
/// unsubscribes. It ends once every handle of its store is dropped. Made by [`Store::subscribe`](crate::Store::subscribe) and
/// [`Store::subscribe_from`](crate::Store::subscribe_from).
pub struct Subscription {
    inner: Pin<Box<dyn Stream<Item = SubscriptionItem> + Send>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = SubscriptionItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SubscriptionItem>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// A subscription from `after` (`None`: from now on).
pub(crate) fn subscribe(shared: &Shared, after: Option<u64>) -> Subscription {
    Subscription {
        inner: Box::pin(futures::StreamExt::map(feed(shared, after), SubscriptionItem::from)),
    }
}

/// The items of a subscription from `after` (`None`: from now on), with
/// the live batches as the feed carries them.
pub(crate) fn feed(shared: &Shared, after: Option<u64>) -> Feed {
    let (live, last, catch_up) = match after {
        Some(seq) => (None, seq, true),
        None => {
            let live = shared.live.subscribe();
            (Some(live), shared.head.load(Ordering::SeqCst), false)
        }
    };
    let state = State {
        pool: shared.pool.clone(),
        icelog: shared.icelog.clone(),
        feed: shared.live.downgrade(),
        live,
        last,
        catch_up,
        pages: Pages::new(shared.config.replay_page, shared.config.replay_page_bytes),
    };
    Box::pin(futures::stream::unfold(state, next))
}

async fn next(mut s: State) -> Option<(FeedItem, State)> {
    loop {
        if s.catch_up {
            // Once every handle of the store is gone, so is the feed.
            let feed = s.feed.upgrade()?;
            let subscribed = s.live.is_some();
            let query = EventQuery::after(s.last, s.pages.count as u64);
            match crate::icelog::read::events(s.pool.backend(), &s.icelog, &query, Some(s.pages.bytes)).await {
                Ok(events) => {
                    let full = s.pages.full(&events);
                    if full {
                        // Still far behind: the live feed would only lag.
                        s.live = None;
                    } else if subscribed {
                        s.catch_up = false;
                    } else {
                        // At the log's end: listen, then read the seam once more.
                        s.live = Some(feed.subscribe());
                    }
                    if let Some(last) = events.last() {
                        s.last = last.seq;
                        return Some((FeedItem::Page(Arc::from(events)), s));
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, after_seq = s.last, "subscription: reading the log failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            continue;
        }
        let Some(live) = s.live.as_mut() else {
            s.catch_up = true;
            continue;
        };
        match live.recv().await {
            Ok(batch) => {
                let events = batch.events();
                let Some(first) = events.iter().position(|e| e.seq > s.last) else {
                    continue;
                };
                if events[first].seq != s.last + 1 {
                    s.catch_up = true;
                    continue;
                }
                if let Some(last) = events.last() {
                    s.last = last.seq;
                }
                return Some((FeedItem::Live { batch, skip: first }, s));
            }
            Err(RecvError::Lagged(_)) => {
                s.catch_up = true;
                s.live = None;
                let after_seq = s.last;
                return Some((FeedItem::Lagged { after_seq }, s));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// The size of the next page of the log: at most `max` events and about
/// `bytes` bytes, guessed from the last page's events.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pages {
    max: usize,
    bytes: usize,
    /// Events to ask for next.
    count: usize,
}

impl Pages {
    /// How many events a page grows by at most from one read to the next
    /// (slow start: a first read of a log of big events reads few of them).
    const GROWTH: usize = 4;

    fn new(max: usize, bytes: usize) -> Pages {
        let max = max.max(1);
        Pages {
            max,
            bytes: bytes.max(1),
            count: max.min(Self::GROWTH),
        }
    }

    /// Whether `page` (asked for with [`Pages::count`]) ended before the
    /// log did; sizes the next page from its events.
    fn full(&mut self, page: &[StoredEvent]) -> bool {
        let size: usize = page.iter().map(event_bytes).sum();
        let full = page.len() >= self.count || size >= self.bytes;
        if !page.is_empty() {
            let fit = self.bytes / (size / page.len()).max(1);
            self.count = fit.clamp(1, self.max).min(page.len().saturating_mul(Self::GROWTH));
        }
        full
    }
}

/// About the bytes of `event` as JSON text: what a page's budget counts.
pub(crate) fn event_bytes(event: &StoredEvent) -> usize {
    // id, seq, timestamp, error, the keys and punctuation.
    const FIXED: usize = 120;
    FIXED
        + event.event_type.len()
        + json_bytes(&event.payload)
        + event.meta.as_ref().map_or(0, json_bytes)
        + event.hash.as_ref().map_or(0, |hash| hash.len() + 10)
}

/// About the length of `value` as JSON text, without writing it.
fn json_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_bytes(v) + 1).sum::<usize>(),
        Value::Object(fields) => 2 + fields.iter().map(|(k, v)| k.len() + 4 + json_bytes(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;
    use uuid::Uuid;

    use super::*;

    fn event(seq: u64, text: usize) -> StoredEvent {
        StoredEvent {
            id: Uuid::nil(),
            seq,
            timestamp: String::new(),
            hash: None,
            event: Event::new("t", Value::String("x".repeat(text))),
        }
    }

    #[test]
    fn pages_start_small_and_fit_the_byte_budget() {
        let mut pages = Pages::new(500, 1 << 20);
        assert_eq!(pages.count, 4);
        // Four events of 300 KiB: the budget is reached, the next page asks for 3.
        let big: Vec<_> = (1..=4).map(|seq| event(seq, 300 << 10)).collect();
        assert!(pages.full(&big));
        assert_eq!(pages.count, 3);
        // Small events: the page grows at most fourfold a read, up to `max`.
        let small: Vec<_> = (1..=3).map(|seq| event(seq, 10)).collect();
        assert!(pages.full(&small), "it got all it asked for");
        assert_eq!(pages.count, 12);
        let small: Vec<_> = (1..=12).map(|seq| event(seq, 10)).collect();
        pages.full(&small);
        assert_eq!(pages.count, 48);
        for _ in 0..5 {
            let n = pages.count;
            pages.full(&(1..=n as u64).map(|seq| event(seq, 10)).collect::<Vec<_>>());
        }
        assert_eq!(pages.count, 500);
        // A short read of the log is its end.
        assert!(!pages.full(&small));
    }

    #[test]
    fn a_page_holds_one_event_bigger_than_the_budget() {
        let mut pages = Pages::new(500, 1000);
        assert!(pages.full(&[event(1, 5000)]));
        assert_eq!(pages.count, 1);
    }

    #[test]
    fn json_bytes_is_close_to_the_text() {
        let value = serde_json::json!({ "title": "hello", "tags": ["a", "b"], "n": 12345, "ok": true });
        let text = serde_json::to_string(&value).unwrap().len();
        let guess = json_bytes(&value);
        assert!(guess >= text && guess <= text * 2, "{guess} vs {text}");
    }
}
