//! Subscriptions: committed events as an async stream.
//!
//! A subscription listens to the store's live feed (a bounded
//! `tokio::sync::broadcast` channel of committed batches) and keeps the `seq`
//! of the last event it delivered. It never delivers an event twice (it skips
//! `seq <= last`) and never skips one: whenever it falls behind — it starts
//! from an older `seq`, its buffer overflowed ([`SubscriptionItem::Lagged`]),
//! or the next live batch does not follow its last `seq` (another process
//! committed in between) — it reads the missing events from the log, then goes
//! back to the live feed. It subscribes to the live feed *before* reading the
//! log, so nothing committed at the seam is lost.
//!
//! The feed never waits for subscribers: a slow subscriber only lags.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use flux_capacitor::StoredEvent;
use futures::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

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

struct State {
    pool: DbPool,
    page: usize,
    live: broadcast::Receiver<Arc<[StoredEvent]>>,
    last: u64,
    catch_up: bool,
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
    let live = shared.live.subscribe();
    let (last, catch_up) = match after {
        Some(seq) => (seq, true),
        None => (shared.head.load(Ordering::SeqCst), false),
    };
    let state = State {
        pool: shared.pool.clone(),
        page: shared.config.replay_page.max(1),
        live,
        last,
        catch_up,
    };
    Subscription {
        inner: Box::pin(futures::stream::unfold(state, next)),
    }
}

async fn next(mut s: State) -> Option<(SubscriptionItem, State)> {
    loop {
        if s.catch_up {
            let page = s.page;
            match s
                .pool
                .backend()
                .fetch_events(&EventQuery::after(s.last, page as u64))
                .await
            {
                Ok(events) if !events.is_empty() => {
                    if let Some(last) = events.last() {
                        s.last = last.seq;
                    }
                    s.catch_up = events.len() >= page;
                    return Some((SubscriptionItem::Events(Arc::from(events)), s));
                }
                Ok(_) => s.catch_up = false,
                Err(err) => {
                    tracing::warn!(error = %err, after_seq = s.last, "subscription: reading the log failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            continue;
        }
        match s.live.recv().await {
            Ok(batch) => {
                let Some(first) = batch.iter().position(|e| e.seq > s.last) else {
                    continue;
                };
                if batch[first].seq != s.last + 1 {
                    s.catch_up = true;
                    continue;
                }
                let fresh: Arc<[StoredEvent]> = if first == 0 { batch } else { Arc::from(&batch[first..]) };
                if let Some(last) = fresh.last() {
                    s.last = last.seq;
                }
                return Some((SubscriptionItem::Events(fresh), s));
            }
            Err(RecvError::Lagged(_)) => {
                s.catch_up = true;
                let after_seq = s.last;
                return Some((SubscriptionItem::Lagged { after_seq }, s));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}
