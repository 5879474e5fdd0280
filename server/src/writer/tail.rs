//! Finding the commits of other instances on the same database, to publish
//! them to this store's subscribers: at once when the database notifies
//! ([`listen`], PostgreSQL), else by an adaptive tail of the log — a check
//! every [`Config::poll_min_interval`] while events flow (an event here or
//! from elsewhere in the last [`FLOWING`]), then doubling up to
//! [`Config::poll_interval`] while nothing comes.
//! With notifications the tail still looks every `poll_interval`, as a
//! safety net, and looks at once whenever the listener reconnects (a lost
//! connection may have lost notifications): nothing is ever skipped, because
//! a check reads every event after the last one published.
//!
//! [`Config::poll_min_interval`]: crate::Config::poll_min_interval
//! [`Config::poll_interval`]: crate::Config::poll_interval

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use crate::DbPool;

/// What the listener has heard so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Heard {
    /// The highest head another instance announced.
    pub head: u64,
    /// Times the listener's connection was lost (and is back).
    pub lost: u64,
    /// Whether the listener is connected now.
    pub up: bool,
}

/// Why the writer should look at the log now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// Time for a check of the tail.
    Poll,
    /// Another instance committed up to this `seq`.
    Heard(u64),
    /// The listener reconnected: notifications may have been missed.
    Reconnected,
}

/// How long after the last event the tail keeps looking every
/// `poll_min_interval` before it backs off.
pub(super) const FLOWING: Duration = Duration::from_millis(500);

/// The writer's schedule for looking at the log.
pub(super) struct Tail {
    min: Duration,
    max: Option<Duration>,
    interval: Duration,
    next: Instant,
    /// When events last flowed (committed here or found from elsewhere).
    flowed: Instant,
    heard: Option<watch::Receiver<Heard>>,
    lost: u64,
}

impl Tail {
    /// A tail between `min` and `max` (`None`: never look), listening on
    /// `pool` when the database notifies.
    pub fn start(pool: &DbPool, min: Duration, max: Option<Duration>) -> Tail {
        let min = max.map_or(min, |max| min.min(max));
        let heard = max.map(|_| {
            let (sender, receiver) = watch::channel(Heard::default());
            tokio::spawn(listen(pool.clone(), sender));
            receiver
        });
        Tail {
            min,
            max,
            interval: min,
            next: Instant::now() + min,
            flowed: Instant::now(),
            heard,
            lost: 0,
        }
    }

    /// Whether notifications arrive now (so the tail only looks as a safety net).
    fn notified(&self) -> bool {
        self.heard.as_ref().is_some_and(|h| h.borrow().up)
    }

    /// Waits until the log should be looked at.
    pub async fn wait(&mut self) -> Wake {
        let Some(_) = self.max else {
            return std::future::pending().await;
        };
        let next = self.next;
        let Some(heard) = self.heard.as_mut() else {
            sleep_until(next).await;
            return Wake::Poll;
        };
        tokio::select! {
            () = sleep_until(next) => Wake::Poll,
            changed = heard.changed() => {
                let Ok(()) = changed else {
                    // No notifications on this database (or the listener stopped).
                    self.heard = None;
                    return Wake::Poll;
                };
                let now = *heard.borrow_and_update();
                if now.lost != self.lost {
                    self.lost = now.lost;
                    Wake::Reconnected
                } else {
                    Wake::Heard(now.head)
                }
            }
        }
    }

    /// After looking at the log: `found` whether other instances' events were there.
    pub fn checked(&mut self, found: bool) {
        let Some(max) = self.max else { return };
        let now = Instant::now();
        if found {
            self.flowed = now;
        }
        self.interval = if self.notified() {
            max
        } else if now.duration_since(self.flowed) < FLOWING {
            self.min
        } else {
            (self.interval * 2).min(max)
        };
        self.next = now + self.interval;
    }

    /// After this instance committed: events flow, so look soon.
    pub fn active(&mut self) {
        let now = Instant::now();
        self.flowed = now;
        if self.max.is_some() && !self.notified() && self.interval > self.min {
            self.interval = self.min;
            self.next = self.next.min(now + self.min);
        }
    }
}

/// Runs the database's listener (if it has one), reconnecting with back-off,
/// until the writer stops.
async fn listen(pool: DbPool, heard: watch::Sender<Heard>) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let connected = tokio::select! {
            connected = pool.backend().listen() => connected,
            () = heard.closed() => return,
        };
        let mut listener = match connected {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for other instances' commits; polling");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = heard.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        tracing::debug!("listening for other instances' commits");
        // Connected again after a failure: what was committed meanwhile was not heard.
        heard.send_modify(|h| {
            h.lost += u64::from(connected_before);
            h.up = true;
        });
        connected_before = true;
        backoff = Duration::from_millis(100);
        loop {
            let next = tokio::select! {
                next = listener.next() => next,
                () = heard.closed() => return,
            };
            match next {
                Ok(Some(head)) => {
                    heard.send_if_modified(|h| {
                        let newer = head > h.head;
                        h.head = h.head.max(head);
                        newer
                    });
                }
                Ok(None) => {
                    tracing::warn!("the listener's connection was lost and is back; catching up from the log");
                    heard.send_modify(|h| h.lost += 1);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the listener's connection is lost; polling until it is back");
                    heard.send_modify(|h| h.up = false);
                    break;
                }
            }
        }
    }
}
