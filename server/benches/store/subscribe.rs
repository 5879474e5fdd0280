//! Subscribe (issue item 4): dispatch-to-delivery latency over `/events/live` WebSockets
//! on loopback, from the start of the `dispatch` call to the receipt of the
//! text message (one clock, one process), beside a bare axum WebSocket
//! broadcast of an equal message (no store, serialized once) — the loopback
//! ceiling of this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor_server::Dialect;
use flux_capacitor_server::http::{HttpConfig, app};
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use super::dispatch::bench_config;
use super::support::{BenchDb, NoteOp, Table, ms, percentile, ratio, stored, timestamp};

/// Milliseconds between two dispatches.
const INTERVAL: Duration = Duration::from_millis(100);

/// Start times, in nanoseconds after `base`, by note index.
struct Clock {
    base: Instant,
    starts: Vec<AtomicU64>,
    /// Subscribers that received their first message.
    ready: AtomicUsize,
}

impl Clock {
    fn start(&self, index: usize) {
        self.starts[index].store(self.base.elapsed().as_nanos() as u64, Ordering::SeqCst);
    }

    fn since_start(&self, index: usize) -> Duration {
        let now = self.base.elapsed().as_nanos() as u64;
        Duration::from_nanos(now.saturating_sub(self.starts[index].load(Ordering::SeqCst)))
    }
}

/// The note of `index`: an `addNote`, or for a warm-up (which may be sent
/// several times) an `editNoteTitle` of no note.
fn note(index: usize, warm: bool) -> NoteOp {
    if warm {
        return NoteOp::Edit {
            id: format!("x{index}"),
            title: "warm-up".into(),
        };
    }
    NoteOp::Add {
        id: format!("x{index}"),
        title: format!("Note {index}"),
        text: "Some text of a note, as a user would type it.".into(),
    }
}

/// Indices of the notes `x<index>` a message carries.
fn indices(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices("\"id\":\"x").filter_map(|(at, pattern)| {
        let digits: String = text[at + pattern.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// One subscriber: connects, then records the latency of every measured note
/// (index `>= first`) until it has seen `expect` of them.
async fn subscriber(url: String, clock: Arc<Clock>, first: usize, expect: usize) -> Vec<Duration> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect ws");
    let mut ready = false;
    let mut latencies = Vec::with_capacity(expect);
    while latencies.len() < expect {
        let Some(Ok(message)) = socket.next().await else { break };
        let Message::Text(text) = message else { continue };
        for index in indices(&text) {
            if !ready {
                ready = true;
                clock.ready.fetch_add(1, Ordering::SeqCst);
            }
            if index >= first {
                latencies.push(clock.since_start(index));
            }
        }
    }
    latencies
}

async fn bare(State(feed): State<broadcast::Sender<Arc<str>>>, upgrade: WebSocketUpgrade) -> Response {
    let receiver = feed.subscribe();
    upgrade.on_upgrade(move |socket| bare_feed(socket, receiver))
}

async fn bare_feed(mut socket: WebSocket, mut feed: broadcast::Receiver<Arc<str>>) {
    while let Ok(text) = feed.recv().await {
        if socket.send(AxumMessage::Text(text.as_ref().into())).await.is_err() {
            break;
        }
    }
}

struct Outcome {
    latencies: Vec<Duration>,
    commits: Vec<Duration>,
}

/// Connects `subscribers` to `url`, sends `dispatches` notes one every
/// [`INTERVAL`] with `send`, and gathers every delivery latency.
async fn measure<F, Fut>(
    url: &str,
    subscribers: usize,
    dispatches: usize,
    next: &AtomicUsize,
    clock: &Arc<Clock>,
    send: F,
) -> Outcome
where
    F: Fn(usize, bool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let warm = next.fetch_add(dispatches + 1, Ordering::SeqCst);
    let first = warm + 1;
    clock.ready.store(0, Ordering::SeqCst);
    let mut readers = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        readers.push(tokio::spawn(subscriber(
            url.to_string(),
            clock.clone(),
            first,
            dispatches,
        )));
    }
    // Warm up until every subscriber has received a note (all are subscribed).
    let warmed = Instant::now();
    while clock.ready.load(Ordering::SeqCst) < subscribers {
        assert!(
            warmed.elapsed() < Duration::from_secs(60),
            "subscribers did not connect"
        );
        clock.start(warm);
        send(warm, true).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut commits = Vec::with_capacity(dispatches);
    let mut slot = Instant::now();
    for index in first..first + dispatches {
        slot += INTERVAL;
        clock.start(index);
        let t0 = Instant::now();
        send(index, false).await;
        commits.push(t0.elapsed());
        tokio::time::sleep_until(slot.into()).await;
    }
    let mut latencies = Vec::with_capacity(subscribers * dispatches);
    for reader in readers {
        let got = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("subscriber finished")
            .expect("subscriber task");
        latencies.extend(got);
    }
    latencies.sort();
    commits.sort();
    Outcome { latencies, commits }
}

pub async fn run(levels: &[usize], dispatches: usize) {
    println!(
        "\n### 4. WebSocket delivery, dispatch start to receipt (SQLite, one `addNote` every {} ms)\n",
        INTERVAL.as_millis()
    );
    let db = BenchDb::new(Dialect::Sqlite).await;
    let store = db.store(bench_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(store.clone(), HttpConfig::default());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    let (feed, _) = broadcast::channel::<Arc<str>>(1024);
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bare_addr = bare_listener.local_addr().expect("addr");
    let bare_router = axum::Router::new()
        .route("/live", axum::routing::get(bare))
        .with_state(feed.clone());
    let bare_server = tokio::spawn(async move { axum::serve(bare_listener, bare_router).await.expect("serve") });

    let total = levels.len() * 2 * (dispatches + 1) + 16;
    let clock = Arc::new(Clock {
        base: Instant::now(),
        starts: (0..total).map(|_| AtomicU64::new(0)).collect(),
        ready: AtomicUsize::new(0),
    });
    let next = AtomicUsize::new(0);
    let mut table = Table::new(&[
        "subscribers",
        "store p50 / p99 / max ms",
        "of which commit (dispatch call) p50 / p99 ms",
        "bare axum broadcast p50 / p99 / max ms",
        "p99 store / bare",
    ]);
    let seq = AtomicU64::new(1);
    for &subscribers in levels {
        let url = format!("ws://{addr}/events/live");
        let store_run = measure(&url, subscribers, dispatches, &next, &clock, |index, warm| {
            let store = store.clone();
            Box::pin(async move {
                store.dispatch(note(index, warm).event()).await.expect("dispatch");
            })
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let url = format!("ws://{bare_addr}/live");
        let bare_run = measure(&url, subscribers, dispatches, &next, &clock, |index, warm| {
            let time = timestamp(chrono::Utc::now());
            let event = stored(seq.fetch_add(1, Ordering::SeqCst), &note(index, warm), &time);
            let text: Arc<str> = serde_json::to_string(&[event]).expect("json").into();
            let _ = feed.send(text);
            Box::pin(async {})
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let l = &store_run.latencies;
        let b = &bare_run.latencies;
        table.row(vec![
            subscribers.to_string(),
            format!(
                "{} / {} / {}",
                ms(percentile(l, 50.0)),
                ms(percentile(l, 99.0)),
                ms(percentile(l, 100.0))
            ),
            format!(
                "{} / {}",
                ms(percentile(&store_run.commits, 50.0)),
                ms(percentile(&store_run.commits, 99.0))
            ),
            format!(
                "{} / {} / {}",
                ms(percentile(b, 50.0)),
                ms(percentile(b, 99.0)),
                ms(percentile(b, 100.0))
            ),
            ratio(percentile(l, 99.0).as_secs_f64(), percentile(b, 99.0).as_secs_f64()),
        ]);
    }
    server.abort();
    bare_server.abort();
    drop(store);
    db.drop_db().await;
}
