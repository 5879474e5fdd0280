//! Fan-out over `/events/live`: a committed batch is serialized once for all
//! subscribers (the store's `flux_events_serialized_total` counts events,
//! not events × subscribers), with or without a per-subscriber access
//! filter, and every subscriber gets exactly the events it may see, in
//! messages byte for byte what serializing each event and cutting the
//! messages at `live_frame_bytes` gives — on SQLite, PostgreSQL and MariaDB.

use std::time::{Duration, Instant};

use axum::Router;
use flux_capacitor::{Event, StoredEvent};
use flux_capacitor_server::http::{Access, BearerTokens, HttpConfig, app};
use flux_capacitor_server::testing::{TestDb, conformance_store, for_each_backend};
use flux_capacitor_server::{Context, Store};
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIBERS: u64 = 50;
/// Small, so that batches are cut into several messages.
const FRAME_BYTES: usize = 700;

/// User `uK` may receive the events whose `n` is a multiple of K (`u1`:
/// all of them).
struct MultiplesOf;

fn divisor(ctx: &Context) -> u64 {
    ctx.user
        .as_deref()
        .and_then(|user| user.strip_prefix('u'))
        .and_then(|k| k.parse().ok())
        .unwrap_or(1)
}

impl Access for MultiplesOf {
    fn may_receive(&self, ctx: &Context, event: &StoredEvent) -> bool {
        event.payload["n"].as_u64().is_some_and(|n| n % divisor(ctx) == 0)
    }
}

/// One subscriber: its user's divisor (1 without a filter) and its `type`
/// filter, if any.
#[derive(Debug, Clone)]
struct Subscriber {
    k: u64,
    only: Option<&'static str>,
}

impl Subscriber {
    fn sees(&self, event: &StoredEvent, filtered: bool) -> bool {
        let n = event.payload["n"].as_u64().unwrap();
        self.only.is_none_or(|only| event.event_type == only) && (!filtered || n.is_multiple_of(self.k))
    }
}

/// The messages a subscriber must get: per batch, the events it sees, each
/// serialized on its own, in arrays cut before an event that would take
/// one past `FRAME_BYTES` (an event alone may be longer).
fn expected(batches: &[Vec<StoredEvent>], sees: impl Fn(&StoredEvent) -> bool) -> Vec<String> {
    let mut messages = Vec::new();
    for batch in batches {
        let mut frame = String::new();
        for event in batch.iter().filter(|e| sees(e)) {
            let one = serde_json::to_string(event).unwrap();
            if !frame.is_empty() && frame.len() + one.len() + 2 > FRAME_BYTES {
                messages.push(std::mem::take(&mut frame) + "]");
            }
            frame.push(if frame.is_empty() { '[' } else { ',' });
            frame.push_str(&one);
        }
        if !frame.is_empty() {
            messages.push(frame + "]");
        }
    }
    messages
}

/// A metric's value from the store's Prometheus text.
async fn metric(store: &Store, name: &str) -> f64 {
    let text = store.metrics().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

async fn listen(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("ws://{address}")
}

/// Batches of 1 to 8 events of two types, of 0 to 400 bytes of text (a
/// fixed pseudo-random sequence), then one event every subscriber sees.
fn batches() -> Vec<Vec<Event>> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut n = 0;
    let mut batches = Vec::new();
    for _ in 0..30 {
        let size = 1 + random(8);
        let batch = (0..size)
            .map(|_| {
                n += 1;
                let kind = if random(3) == 0 { "memo" } else { "blob" };
                let text = "é\"x".repeat(random(134) as usize);
                Event::new(kind, json!({ "n": n, "text": text }))
            })
            .collect();
        batches.push(batch);
    }
    batches.push(vec![Event::new("blob", json!({ "n": 0, "text": "the end" }))]);
    batches
}

/// `SUBSCRIBERS` subscribers (user `uK` for K = 1..=50, every seventh with
/// `type=blob`), then the batches: checks every subscriber's messages and
/// that each event was serialized once.
async fn fan_out(db: TestDb, filtered: bool) {
    let store = conformance_store(&db).await;
    let tokens: Vec<(String, String)> = (1..=SUBSCRIBERS).map(|k| (format!("t{k}"), format!("u{k}"))).collect();
    let mut config = HttpConfig {
        live_frame_bytes: FRAME_BYTES,
        ..HttpConfig::default()
    }
    .authenticator(BearerTokens::new(tokens));
    if filtered {
        config = config.access(MultiplesOf);
    }
    let base = listen(app(store.clone(), config)).await;
    let subscribers: Vec<Subscriber> = (1..=SUBSCRIBERS)
        .map(|k| Subscriber {
            k,
            only: (k % 7 == 0).then_some("blob"),
        })
        .collect();
    let mut sockets = Vec::new();
    for s in &subscribers {
        let types = s.only.map_or(String::new(), |t| format!("&type={t}"));
        let url = format!("{base}/events/live?token=t{}{types}", s.k);
        sockets.push(tokio_tungstenite::connect_async(url).await.unwrap().0);
    }
    // Every feed is listening before the first dispatch.
    let started = Instant::now();
    while metric(&store, "flux_subscribers").await < SUBSCRIBERS as f64 {
        assert!(started.elapsed() < Duration::from_secs(10), "subscribers did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metric(&store, "flux_events_serialized_total").await, 0.0);
    // One dispatch at a time: each is one published batch.
    let mut committed = Vec::new();
    for batch in batches() {
        committed.push(store.dispatch_all(batch).await.unwrap());
    }
    let events: usize = committed.iter().map(Vec::len).sum();
    let readers = subscribers.into_iter().zip(sockets).map(|(s, mut socket)| {
        let want = expected(&committed, |e| s.sees(e, filtered));
        async move {
            let mut got = Vec::new();
            while got.len() < want.len() {
                let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                    .await
                    .unwrap_or_else(|_| panic!("{s:?}: {} of {} messages", got.len(), want.len()))
                    .expect("socket open")
                    .expect("valid frame");
                if let Message::Text(text) = message {
                    got.push(text.to_string());
                }
            }
            (s, got, want)
        }
    });
    let mut split = false;
    for (s, got, want) in futures::future::join_all(readers).await {
        assert_eq!(got, want, "{s:?}: its events, in these messages");
        let seen = want.iter().map(|m| m.matches("\"seq\":").count()).sum::<usize>();
        if filtered && s.k > 1 {
            assert!(seen < events, "{s:?} sees fewer events");
        }
        split |= got.len() > committed.len();
    }
    assert!(split, "some batches were cut into several messages");
    assert_eq!(
        metric(&store, "flux_events_serialized_total").await,
        events as f64,
        "each of the {events} events serialized once for {SUBSCRIBERS} subscribers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_is_serialized_once_for_every_subscriber() {
    for_each_backend(|db| fan_out(db, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_filter_chooses_shared_json_and_serializes_nothing_again() {
    for_each_backend(|db| fan_out(db, true)).await;
}

/// The feed reads a client's socket 4 KiB at a time (tungstenite zeroes its
/// read buffer on every read attempt): a client message longer than that
/// but within the 16 KiB allowed is read whole and the feed goes on; a
/// longer one ends the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_messages_longer_than_the_read_buffer_are_read_whole() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    let store = conformance_store(&db).await;
    let base = listen(app(store.clone(), HttpConfig::default())).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{base}/events/live"))
        .await
        .unwrap();
    let started = Instant::now();
    while metric(&store, "flux_subscribers").await < 1.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "subscriber did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    futures::SinkExt::send(&mut socket, Message::text("x".repeat(12 * 1024)))
        .await
        .unwrap();
    let sent = store
        .dispatch(Event::new("blob", json!({ "n": 1, "text": "after a long message" })))
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("the feed goes on")
        .expect("socket open")
        .expect("valid frame");
    assert_eq!(
        message.into_text().unwrap().as_str(),
        serde_json::to_string(&[sent]).unwrap()
    );

    futures::SinkExt::send(&mut socket, Message::text("x".repeat(20 * 1024)))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a message over 16 KiB ends the feed");
    db.drop_db().await;
}
