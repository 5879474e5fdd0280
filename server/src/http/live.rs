//! `GET /events/live`: committed events over a WebSocket, in bounded memory.
//!
//! What one subscriber holds is bounded whatever the events' sizes and the
//! client's speed: the subscription catches up from the log a page at a time
//! ([`Config::replay_page_bytes`](crate::Config::replay_page_bytes)), each
//! page is written as messages of at most [`HttpConfig::live_frame_bytes`]
//! (serialized one at a time), and the next page is read only when the
//! client's socket took the last message. A client whose socket takes no
//! message for [`HttpConfig::live_send_timeout`] is closed with
//! [`CLOSE_BEHIND`]: it reconnects with its last `seq` and misses nothing.
//!
//! A live batch is serialized once for all subscribers ([`crate::live_feed`]):
//! a subscriber that may see all of it, when it fits one message, sends the
//! shared text itself; otherwise its messages join the shared JSON of the
//! events it may see (the type filter and [`Access::may_receive`](super::Access::may_receive)
//! choose them), serializing nothing again.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor::StoredEvent;
use futures::StreamExt;
use tokio::time::{Instant, Interval, MissedTickBehavior, timeout};

use super::extract::{EventParams, LiveParams, QueryCaller};
use super::{ApiError, AppState, HttpConfig};
use crate::live_feed::BatchJson;
use crate::subscribe::FeedItem;
use crate::{Context, EventQuery};

/// The WebSocket close code of a subscriber dropped for falling behind: its
/// socket took no message for [`HttpConfig::live_send_timeout`]. Nothing is
/// lost: reconnect with `after` = the last `seq` received (the reason says
/// the last `seq` the server sent, for the record). In the 4000–4999 range
/// applications own.
pub const CLOSE_BEHIND: u16 = 4001;

/// Largest message a client may send: it has nothing to say but pongs and
/// close frames, and axum would otherwise buffer 64 MiB for each.
const MAX_INCOMING: usize = 16 * 1024;

/// Bytes read from a client's socket at a time. tungstenite zeroes this
/// much of its read buffer on every read attempt — each time a feed's task
/// wakes, for a batch as much as for the client — and its default, 128 KiB,
/// made that memset a third of the server's CPU time with 1,000
/// subscribers (BENCHMARKS.md, WebSocket delivery). Clients send pongs and
/// close frames; a bigger message takes a few reads.
const READ_BUFFER: usize = 4 * 1024;

/// Upgrades to a WebSocket fed by [`Store::subscribe_from`](crate::Store::subscribe_from)
/// (`after` given) or [`Store::subscribe`](crate::Store::subscribe). Parameters
/// and credentials are checked before the upgrade, so a refused client gets a
/// plain 400 or 401.
///
/// An `after` past the log's head is a 400 (`invalid_point`): the feed would
/// otherwise skip every event up to that number when they arrive, silently
/// (a client holding another database's `seq`, or a log that was reset).
pub(crate) async fn live(
    upgrade: WebSocketUpgrade,
    State(app): State<AppState>,
    LiveParams(params): LiveParams,
    QueryCaller(ctx): QueryCaller,
) -> Result<Response, ApiError> {
    if params.after_given {
        check_after(&app, params.after).await?;
    }
    let slot = app
        .live
        .take(ctx.user.as_deref(), app.config.max_live, app.config.max_live_per_user)?;
    let upgrade = upgrade
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .read_buffer_size(READ_BUFFER);
    Ok(upgrade.on_upgrade(move |socket| async move {
        feed(app, ctx, params, socket).await;
        drop(slot);
    }))
}

/// 400 unless event `after` exists (or is 0). The store's head answers at no
/// cost; only an `after` beyond it asks the log, as another instance may have
/// committed it a moment ago.
async fn check_after(app: &AppState, after: u64) -> Result<(), ApiError> {
    if after <= app.store.head() {
        return Ok(());
    }
    let found = app.store.events(EventQuery::after(after - 1, 1)).await?;
    if found.first().is_some_and(|e| e.seq == after) {
        return Ok(());
    }
    let head = app.store.head();
    Err(ApiError::bad_request(
        "invalid_point",
        format!("`after` {after} is past the log's head ({head}): resume from a `seq` this log gave you, or 0"),
    ))
}

/// Why a feed ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The client closed, or the connection broke.
    Gone,
    /// The client's socket took nothing for the send timeout.
    Behind,
    /// No answer to pings.
    Silent,
    /// The store is gone, or a batch cannot be written.
    Over,
}

async fn feed(app: AppState, ctx: Context, params: EventParams, mut socket: WebSocket) {
    // `after=0` replays the whole log; no `after` starts at the head.
    let shared = app.store.shared();
    let mut subscription = crate::subscribe::feed(shared, params.after_given.then_some(params.after));
    let user = ctx.user.as_deref();
    tracing::info!(user, after = params.after, "live: subscriber connected");
    let config = &app.config;
    let wanted = |event: &StoredEvent| {
        params
            .types
            .as_ref()
            .is_none_or(|types| types.contains(&event.event_type))
            && config.access.may_receive(&ctx, event)
    };
    let mut sent = if params.after_given {
        params.after
    } else {
        app.store.head()
    };
    let mut ping = config.live_ping_interval.map(|every| {
        // A year is never, and keeps `Instant` arithmetic from overflowing.
        let every = every.clamp(Duration::from_millis(1), Duration::from_secs(365 * 86_400));
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        (ping, every)
    });
    let mut heard = Instant::now();
    let end = loop {
        tokio::select! {
            item = subscription.next() => {
                let Some(item) = item else { break End::Over };
                let sending = match item {
                    // A batch no one here sees needs no JSON.
                    FeedItem::Live { batch, skip } if !batch.events()[skip..].iter().any(&wanted) => Ok(()),
                    FeedItem::Live { batch, skip } => match batch.json(&shared.metrics) {
                        Ok(json) => {
                            let events = Events { all: batch.events(), skip, json: Some(json) };
                            send_events(&mut socket, config, events, &wanted, &mut sent).await
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "live: cannot serialize a batch");
                            Err(End::Over)
                        }
                    },
                    FeedItem::Page(page) => {
                        shared.metrics.serialized(page.iter().filter(|e| wanted(e)).count());
                        let events = Events { all: &page, skip: 0, json: None };
                        send_events(&mut socket, config, events, &wanted, &mut sent).await
                    }
                    FeedItem::Lagged { .. } => continue,
                };
                if let Err(end) = sending {
                    break end;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Gone,
                Some(Ok(_)) => heard = Instant::now(),
            },
            every = tick(&mut ping) => {
                if heard.elapsed() > every * 2 {
                    break End::Silent;
                }
                if !matches!(timeout(config.live_send_timeout, socket.send(Message::Ping(Default::default()))).await, Ok(Ok(()))) {
                    break End::Behind;
                }
            }
        }
    };
    match end {
        End::Behind => {
            tracing::warn!(
                user,
                last_seq = sent,
                timeout_ms = config.live_send_timeout.as_millis() as u64,
                "live: subscriber dropped: its socket took nothing within the send timeout"
            );
            let close = CloseFrame {
                code: CLOSE_BEHIND,
                reason: format!("behind: reconnect with after={sent}").into(),
            };
            // Delivered once the client reads what is queued before it.
            let _ = timeout(config.live_send_timeout, socket.send(Message::Close(Some(close)))).await;
        }
        End::Silent => tracing::info!(user, "live: subscriber dropped: no answer to pings"),
        End::Gone | End::Over => {}
    }
    tracing::info!(user, last_seq = sent, "live: subscriber left");
}

/// The next ping, or never.
async fn tick(ping: &mut Option<(Interval, Duration)>) -> Duration {
    match ping {
        Some((interval, every)) => {
            interval.tick().await;
            *every
        }
        None => std::future::pending().await,
    }
}

/// Events to send: `all[skip..]`, with the batch's shared JSON when there
/// is one (a live batch), else serialized here (a page of the log, this
/// subscriber's alone).
struct Events<'a> {
    all: &'a [StoredEvent],
    skip: usize,
    json: Option<&'a BatchJson>,
}

/// Writes the `events` that are `wanted` as JSON arrays of whole events,
/// each message at most [`HttpConfig::live_frame_bytes`] long (an event
/// longer than that alone), built one message at a time; `sent` follows the
/// last `seq` written. A batch's shared JSON is sent as it is when every
/// event of it is wanted and it is one message.
async fn send_events(
    socket: &mut WebSocket,
    config: &HttpConfig,
    events: Events<'_>,
    wanted: &impl Fn(&StoredEvent) -> bool,
    sent: &mut u64,
) -> Result<(), End> {
    let Events { all, skip, json } = events;
    let fresh = &all[skip..];
    let Some(last) = fresh.last() else { return Ok(()) };
    if let Some(json) = json {
        let whole = json.whole();
        let one_message = fresh.len() == 1 || whole.len() <= config.live_frame_bytes;
        if skip == 0 && one_message && fresh.iter().all(wanted) {
            return send(socket, config, (Message::Text(whole.clone()), last.seq), sent).await;
        }
    }
    let mut frame = Frame::default();
    let mut own = Vec::new();
    for (i, event) in fresh.iter().enumerate() {
        if !wanted(event) {
            continue;
        }
        let one: &[u8] = match json {
            Some(json) => json.event(skip + i),
            None => {
                own.clear();
                if let Err(err) = serde_json::to_writer(&mut own, event) {
                    tracing::error!(error = %err, seq = event.seq, "live: cannot serialize an event");
                    return Err(End::Over);
                }
                &own
            }
        };
        if !frame.fits(one.len(), config.live_frame_bytes) {
            send(socket, config, frame.take(), sent).await?;
        }
        frame.push(one, event.seq);
    }
    if !frame.is_empty() {
        send(socket, config, frame.take(), sent).await?;
    }
    Ok(())
}

/// Sends one message. Once written into the socket's buffer it is delivered
/// before anything sent later, also when its sending timed out: so `sent`
/// is its last `seq` either way, what the client has when it reads the close.
async fn send(
    socket: &mut WebSocket,
    config: &HttpConfig,
    (message, last): (Message, u64),
    sent: &mut u64,
) -> Result<(), End> {
    *sent = last;
    match timeout(config.live_send_timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Behind),
    }
}

/// One message being written: `[event,event,...]`.
#[derive(Debug, Default)]
struct Frame {
    text: Vec<u8>,
    last: u64,
}

impl Frame {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether an event of `len` bytes keeps the message within `max` (an
    /// empty message takes any event).
    fn fits(&self, len: usize, max: usize) -> bool {
        self.is_empty() || self.text.len() + len + 2 <= max
    }

    fn push(&mut self, event: &[u8], seq: u64) {
        self.text.push(if self.text.is_empty() { b'[' } else { b',' });
        self.text.extend_from_slice(event);
        self.last = seq;
    }

    /// The message and its last `seq`; empties the frame.
    fn take(&mut self) -> (Message, u64) {
        let mut text = std::mem::take(&mut self.text);
        text.push(b']');
        // serde_json writes UTF-8 only, and events are cut whole.
        (
            Message::Text(String::from_utf8(text).unwrap_or_default().into()),
            self.last,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hold_whole_events_within_the_limit() {
        let mut frame = Frame::default();
        assert!(frame.fits(100, 10), "an empty frame takes any event");
        frame.push(b"{\"a\":1}", 1);
        assert!(frame.fits(7, 17));
        assert!(!frame.fits(8, 17));
        frame.push(b"{\"b\":2}", 2);
        let (Message::Text(text), last) = frame.take() else {
            panic!("a text message")
        };
        assert_eq!(text, "[{\"a\":1},{\"b\":2}]");
        assert_eq!(text.len(), 17, "the limit, brackets included");
        assert_eq!(last, 2);
        assert!(frame.is_empty());
    }
}
