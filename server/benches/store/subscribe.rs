//! Subscribe (issue item 4): dispatch-to-delivery latency over `/events/live` WebSockets
//! on loopback, from the start of the `dispatch` call to the receipt of the
//! text message (the system clock, read by the bench and by a process of its
//! subscribers, as one process cannot hold both ends of 10,000 sockets under
//! the usual open-files limit), beside a bare axum WebSocket
//! broadcast of an equal message (no store, serialized once) — the loopback
//! ceiling of this machine.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor_server::Dialect;
use flux_capacitor_server::http::{HttpConfig, app};
use futures::StreamExt;
use tokio::sync::{Semaphore, broadcast};
use tokio_tungstenite::tungstenite::Message;

use super::dispatch::bench_config;
use super::support::{BenchDb, NoteOp, Table, ms, percentile, ratio, stored, timestamp};

/// Milliseconds between two dispatches.
const INTERVAL: Duration = Duration::from_millis(100);

/// Subscribers connecting at once (the rest wait): the listen queue holds
/// 1,024, and a refused SYN is retried only after a second.
const CONNECTING: usize = 256;

/// Nanoseconds since the Unix epoch: one clock for the bench and its
/// subscribers' process, both on this machine.
fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The note of `index`, whose text carries `sent` (the nanoseconds at the
/// start of its dispatch) for the subscribers to measure from; for a warm-up
/// (which may be sent several times) an `editNoteTitle` of no note, which
/// carries none.
fn note(index: usize, warm: bool, sent: u64) -> NoteOp {
    if warm {
        return NoteOp::Edit {
            id: format!("x{index}"),
            title: "warm-up".into(),
        };
    }
    NoteOp::Add {
        id: format!("x{index}"),
        title: format!("Note {index}"),
        text: format!("Some text of a note, as a user would type it. Sent at {sent}."),
    }
}

/// The start times (`Sent at N`) of the measured notes a message carries.
fn sent_times(text: &str) -> impl Iterator<Item = u64> + '_ {
    const PATTERN: &str = "Sent at ";
    text.match_indices(PATTERN).filter_map(|(at, _)| {
        let digits: String = text[at + PATTERN.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// One subscriber: connects, says so on `ready` at its first message, then
/// records the latency of every measured note until it has seen `expect`.
async fn subscriber(
    url: String,
    gate: Arc<Semaphore>,
    ready: tokio::sync::mpsc::UnboundedSender<()>,
    expect: usize,
) -> Vec<Duration> {
    let mut socket = {
        let _turn = gate.acquire().await.expect("gate");
        let mut tries = 0;
        loop {
            match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok((socket, _)) => break socket,
                Err(err) => {
                    tries += 1;
                    assert!(tries < 20, "connect {url}: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let mut first = true;
    let mut latencies = Vec::with_capacity(expect);
    while latencies.len() < expect {
        let Some(Ok(message)) = socket.next().await else { break };
        let Message::Text(text) = message else { continue };
        let received = now_nanos();
        if first {
            first = false;
            let _ = ready.send(());
        }
        for sent in sent_times(&text) {
            latencies.push(Duration::from_nanos(received.saturating_sub(sent)));
        }
    }
    latencies
}

/// The subscribers' process (`child-subscribers URL N EXPECT`): N WebSocket
/// clients of URL, in a process of their own so that 10,000 of them and the
/// server's 10,000 sockets each fit under an open-files limit. Prints
/// `ready` once every one has received a message, then `latencies` and
/// every latency in nanoseconds, sorted, once each has seen EXPECT notes.
pub async fn child_subscribers(args: &[String]) {
    let [url, count, expect] = args else {
        panic!("child-subscribers URL N EXPECT")
    };
    let count: usize = count.parse().expect("N");
    let expect: usize = expect.parse().expect("EXPECT");
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let (ready, mut readies) = tokio::sync::mpsc::unbounded_channel();
    let readers: Vec<_> = (0..count)
        .map(|_| tokio::spawn(subscriber(url.clone(), gate.clone(), ready.clone(), expect)))
        .collect();
    drop(ready);
    let mut connected = 0;
    while connected < count && readies.recv().await.is_some() {
        connected += 1;
        if connected % 1000 == 0 {
            eprintln!("  {connected} of {count} subscribers receiving");
        }
    }
    println!("ready");
    let mut latencies = Vec::with_capacity(count * expect);
    for reader in readers {
        latencies.extend(reader.await.expect("subscriber task"));
    }
    latencies.sort();
    let mut out = String::with_capacity(latencies.len() * 12);
    out.push_str("latencies");
    for l in &latencies {
        out.push(' ');
        out.push_str(&l.as_nanos().to_string());
    }
    println!("{out}");
}

/// The subscribers' process, seen from the bench: its lines, as they come.
struct Subscribers {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Subscribers {
    fn spawn(url: &str, count: usize, expect: usize) -> Subscribers {
        let mut child = Command::new(std::env::current_exe().expect("bench executable"))
            .args(["child-subscribers", url, &count.to_string(), &expect.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the subscribers' process");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Subscribers { child, lines }
    }

    /// Whether the process said `ready` (without waiting).
    fn ready(&mut self) -> bool {
        match self.lines.try_recv() {
            Ok(line) => line == "ready",
            Err(_) => false,
        }
    }

    /// Every latency measured, sorted.
    async fn latencies(mut self) -> Vec<Duration> {
        let line = tokio::time::timeout(Duration::from_secs(120), self.lines.recv())
            .await
            .expect("subscribers finished")
            .expect("the subscribers' process printed its latencies");
        let _ = self.child.wait();
        let rest = line.strip_prefix("latencies").expect("a `latencies` line");
        rest.split_whitespace()
            .map(|n| Duration::from_nanos(n.parse().expect("nanoseconds")))
            .collect()
    }
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

/// Starts `subscribers` clients of `url` in a process of their own, sends
/// `dispatches` notes one every [`INTERVAL`] with `send`, and gathers every
/// delivery latency.
async fn measure<F, Fut>(url: &str, subscribers: usize, dispatches: usize, next: &AtomicUsize, send: F) -> Outcome
where
    F: Fn(usize, bool, u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let warm = next.fetch_add(dispatches + 1, Ordering::SeqCst);
    let first = warm + 1;
    let mut process = Subscribers::spawn(url, subscribers, dispatches);
    // Warm up until every subscriber has received a note (all are subscribed).
    let warmed = Instant::now();
    while !process.ready() {
        assert!(
            warmed.elapsed() < Duration::from_secs(180),
            "subscribers did not connect"
        );
        send(warm, true, 0).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut commits = Vec::with_capacity(dispatches);
    let mut slot = Instant::now();
    for index in first..first + dispatches {
        slot += INTERVAL;
        let t0 = Instant::now();
        send(index, false, now_nanos()).await;
        commits.push(t0.elapsed());
        tokio::time::sleep_until(slot.into()).await;
    }
    let latencies = process.latencies().await;
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
    // Room for a level's subscribers while the last level's are still leaving.
    let http = HttpConfig {
        max_live: 4 * levels.iter().max().copied().unwrap_or(0),
        ..HttpConfig::default()
    };
    let router = app(store.clone(), http);
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    let (feed, _) = broadcast::channel::<Arc<str>>(1024);
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bare_addr = bare_listener.local_addr().expect("addr");
    let bare_router = axum::Router::new()
        .route("/live", axum::routing::get(bare))
        .with_state(feed.clone());
    let bare_server = tokio::spawn(async move { axum::serve(bare_listener, bare_router).await.expect("serve") });

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
        eprintln!("subscribe: {subscribers} subscribers of the store");
        let store_run = measure(&url, subscribers, dispatches, &next, |index, warm, sent| {
            let store = store.clone();
            Box::pin(async move {
                store.dispatch(note(index, warm, sent).event()).await.expect("dispatch");
            })
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let url = format!("ws://{bare_addr}/live");
        eprintln!("subscribe: {subscribers} subscribers of the bare broadcast");
        let bare_run = measure(&url, subscribers, dispatches, &next, |index, warm, sent| {
            let time = timestamp(chrono::Utc::now());
            let event = stored(seq.fetch_add(1, Ordering::SeqCst), &note(index, warm, sent), &time);
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
