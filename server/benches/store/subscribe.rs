//! Subscribe (issue 6 item 4, issue 15 item 4): delivery latency over
//! `/events/live` WebSockets on loopback, to the receipt of the text message
//! by a client, beside a bare axum WebSocket broadcast of an equal message
//! (no store, serialized once, one task per socket) to the same clients.
//!
//! Two latencies per delivery, both on the system clock (read by the bench
//! and by a process of its subscribers, as one process cannot hold both ends
//! of 10,000 sockets under the usual open-files limit):
//!
//! * **commit to receipt**: from the moment the store published the
//!   committed batch — taken by a probe subscriber whose waker notes the
//!   time when the live feed wakes it, which the feed does right after the
//!   commit, on the writer's thread — to the receipt; for the bare broadcast,
//!   from its `send`;
//! * **dispatch to receipt**: from the start of the `dispatch` call (so the
//!   commit's own time, an fsync on SQLite, included).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor_server::http::{HttpConfig, app};
use flux_capacitor_server::{Dialect, Store};
use futures::{Stream, StreamExt};
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

/// The clients' WebSocket settings: 4 KiB reads. tungstenite zeroes its
/// whole read buffer (128 KiB by default) before every read, which on this
/// bench's shared cores would charge every delivery, to the store and to
/// the baselines alike, a memset a browser does not do.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// One subscriber: connects, says so on `ready` at its first message, then
/// records `(sent, received)` of every measured note until it has seen `expect`.
async fn subscriber(
    url: String,
    gate: Arc<Semaphore>,
    ready: tokio::sync::mpsc::UnboundedSender<()>,
    expect: usize,
) -> Vec<(u64, u64)> {
    let mut socket = {
        let _turn = gate.acquire().await.expect("gate");
        let mut tries = 0;
        loop {
            match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(client_config()), false).await {
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
            latencies.push((sent, received));
        }
    }
    latencies
}

/// The subscribers' process (`child-subscribers URL N EXPECT`): N WebSocket
/// clients of URL, in a process of their own so that 10,000 of them and the
/// server's 10,000 sockets each fit under an open-files limit. Prints
/// `ready` once every one has received a message, then `received` and
/// every `sent:received` pair (nanoseconds since the epoch), once each has
/// seen EXPECT notes.
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
    let mut out = String::with_capacity(latencies.len() * 40);
    out.push_str("received");
    for (sent, received) in &latencies {
        out.push_str(&format!(" {sent}:{received}"));
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

    /// Every `(sent, received)` pair.
    async fn receipts(mut self) -> Vec<(u64, u64)> {
        let line = tokio::time::timeout(Duration::from_secs(300), self.lines.recv())
            .await
            .expect("subscribers finished")
            .expect("the subscribers' process printed its receipts");
        let _ = self.child.wait();
        let rest = line.strip_prefix("received").expect("a `received` line");
        rest.split_whitespace()
            .map(|pair| {
                let (sent, received) = pair.split_once(':').expect("sent:received");
                (
                    sent.parse().expect("nanoseconds"),
                    received.parse().expect("nanoseconds"),
                )
            })
            .collect()
    }
}

/// The baseline's route: axum's defaults, one task per socket.
async fn bare(State(feed): State<broadcast::Sender<Arc<str>>>, upgrade: WebSocketUpgrade) -> Response {
    let receiver = feed.subscribe();
    upgrade.on_upgrade(move |socket| bare_feed(socket, receiver))
}

/// The same with the store's read buffer (4 KiB instead of axum's 128 KiB,
/// which tungstenite zeroes on every read attempt).
async fn bare_small_reads(State(feed): State<broadcast::Sender<Arc<str>>>, upgrade: WebSocketUpgrade) -> Response {
    let receiver = feed.subscribe();
    upgrade
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| bare_feed(socket, receiver))
}

async fn bare_feed(mut socket: WebSocket, mut feed: broadcast::Receiver<Arc<str>>) {
    while let Ok(text) = feed.recv().await {
        if socket.send(AxumMessage::Text(text.as_ref().into())).await.is_err() {
            break;
        }
    }
}

/// The probe's waker: notes when the live feed woke it (nanoseconds since
/// the epoch; 0 once read) and unparks the probe's thread.
struct ProbeWaker {
    woken: AtomicU64,
    thread: std::thread::Thread,
}

impl Wake for ProbeWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = self
            .woken
            .compare_exchange(0, now_nanos(), Ordering::SeqCst, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A subscriber of the store polled by hand on a thread of its own: the
/// live feed calls its waker on the writer's thread right after a commit,
/// so the time its waker notes is the batch's publication — the start of
/// "commit to receipt" — whatever the runtime's workers are busy with.
struct Probe {
    /// `Sent at` of a measured note → when its batch was published.
    published: Arc<Mutex<HashMap<u64, u64>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Probe {
    fn start(store: &Store) -> Probe {
        let runtime = tokio::runtime::Handle::current();
        let mut subscription = store.subscribe();
        let published = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (published, stop) = (published.clone(), stop.clone());
            move || {
                // A catch-up read of the log (after a lag) needs the runtime.
                let _runtime = runtime.enter();
                let state = Arc::new(ProbeWaker {
                    woken: AtomicU64::new(0),
                    thread: std::thread::current(),
                });
                let waker = Waker::from(state.clone());
                let mut cx = Context::from_waker(&waker);
                let mut last_item = 0;
                while !stop.load(Ordering::SeqCst) {
                    match std::pin::Pin::new(&mut subscription).poll_next(&mut cx) {
                        Poll::Ready(Some(item)) => {
                            let now = now_nanos();
                            // The wake of this batch; or, when the probe was
                            // polling anyway (woken by the batch before) and
                            // saw this one before its wake, now: microseconds
                            // after the publication. A wake older than the
                            // last batch is not this one's.
                            let woken = state.woken.swap(0, Ordering::SeqCst);
                            let at = if woken > last_item { woken } else { now };
                            last_item = now;
                            let mut published = published.lock().expect("probe map");
                            for event in item.events() {
                                let text = event.payload.get("text").and_then(|t| t.as_str()).unwrap_or("");
                                for sent in sent_times(text) {
                                    published.insert(sent, at);
                                }
                            }
                        }
                        Poll::Ready(None) => break,
                        // Only a wake (or `stop`) unparks it: a timeout
                        // would poll, in step with the dispatches, just
                        // before a batch's wake and take the wake for the
                        // next batch's.
                        Poll::Pending => std::thread::park(),
                    }
                }
            }
        });
        Probe {
            published,
            stop,
            thread,
        }
    }

    fn stop(self) -> HashMap<u64, u64> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.thread().unpark();
        self.thread.join().expect("probe thread");
        Arc::try_unwrap(self.published)
            .map(|m| m.into_inner().expect("probe map"))
            .unwrap_or_default()
    }
}

/// Raises this process's soft open-files limit to its hard limit (the
/// subscribers' process inherits it): 10,000 subscribers take 10,000 files
/// on each side. Says so when it cannot.
pub fn raise_open_files(needed: usize) {
    let pid = std::process::id().to_string();
    let hard = Command::new("prlimit")
        .args(["--pid", &pid, "--nofile", "--output", "HARD", "--noheadings"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().ok());
    let Some(hard) = hard else {
        eprintln!("subscribe: cannot read the open-files limit (prlimit); keeping it");
        return;
    };
    let raised = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .status()
        .is_ok_and(|s| s.success());
    if !raised || (hard as usize) < needed {
        eprintln!("subscribe: open-files limit {hard} (raised: {raised}); {needed} wanted");
    }
}

struct Outcome {
    /// `(sent, received)` of every delivery.
    receipts: Vec<(u64, u64)>,
    commits: Vec<Duration>,
}

/// Starts `subscribers` clients of `url` in a process of their own, sends
/// `dispatches` notes one every [`INTERVAL`] with `send`, and gathers every
/// delivery.
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
    for (n, index) in (first..first + dispatches).enumerate() {
        slot += INTERVAL;
        let t0 = Instant::now();
        send(index, false, now_nanos()).await;
        commits.push(t0.elapsed());
        if (n + 1) % 25 == 0 {
            eprintln!("  {} of {dispatches} notes sent", n + 1);
        }
        tokio::time::sleep_until(slot.into()).await;
    }
    let receipts = process.receipts().await;
    commits.sort();
    Outcome { receipts, commits }
}

/// Sorted latencies of `receipts`, each from its start (`start(sent)`).
fn latencies(receipts: &[(u64, u64)], start: impl Fn(u64) -> u64) -> Vec<Duration> {
    let mut out: Vec<Duration> = receipts
        .iter()
        .map(|&(sent, received)| Duration::from_nanos(received.saturating_sub(start(sent))))
        .collect();
    out.sort();
    out
}

fn p50_p99_max(sorted: &[Duration]) -> String {
    format!(
        "{} / {} / {}",
        ms(percentile(sorted, 50.0)),
        ms(percentile(sorted, 99.0)),
        ms(percentile(sorted, 100.0))
    )
}

pub async fn run(levels: &[usize], dispatches: usize) {
    println!(
        "\n### 4. WebSocket delivery (SQLite, one `addNote` every {} ms, {dispatches} measured)\n",
        INTERVAL.as_millis()
    );
    let most = levels.iter().max().copied().unwrap_or(0);
    raise_open_files(most + 1000);
    let db = BenchDb::new(Dialect::Sqlite).await;
    let store = db.store(bench_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Room for a level's subscribers while the last level's are still leaving.
    let http = HttpConfig {
        max_live: 4 * most,
        ..HttpConfig::default()
    };
    let router = app(store.clone(), http);
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    let (feed, _) = broadcast::channel::<Arc<str>>(1024);
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bare_addr = bare_listener.local_addr().expect("addr");
    let bare_router = axum::Router::new()
        .route("/live", axum::routing::get(bare))
        .route("/live-small-reads", axum::routing::get(bare_small_reads))
        .with_state(feed.clone());
    let bare_server = tokio::spawn(async move { axum::serve(bare_listener, bare_router).await.expect("serve") });

    let next = AtomicUsize::new(0);
    let mut table = Table::new(&[
        "subscribers",
        "store: commit to receipt p50 / p99 / max ms",
        "bare axum broadcast (baseline): send to receipt p50 / p99 / max ms",
        "p99 store / bare",
        "bare, 4 KiB reads as the store: p50 / p99 / max ms",
        "store: dispatch call to receipt p50 / p99 / max ms",
        "the dispatch call (commit) p50 / p99 ms",
    ]);
    let seq = AtomicU64::new(1);
    for &subscribers in levels {
        let url = format!("ws://{addr}/events/live");
        eprintln!("subscribe: {subscribers} subscribers of the store");
        let probe = Probe::start(&store);
        let store_run = measure(&url, subscribers, dispatches, &next, |index, warm, sent| {
            let store = store.clone();
            Box::pin(async move {
                store.dispatch(note(index, warm, sent).event()).await.expect("dispatch");
            })
        })
        .await;
        let published = probe.stop();
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
        let url = format!("ws://{bare_addr}/live-small-reads");
        eprintln!("subscribe: {subscribers} subscribers of the bare broadcast with 4 KiB reads");
        let small_run = measure(&url, subscribers, dispatches, &next, |index, warm, sent| {
            let time = timestamp(chrono::Utc::now());
            let event = stored(seq.fetch_add(1, Ordering::SeqCst), &note(index, warm, sent), &time);
            let text: Arc<str> = serde_json::to_string(&[event]).expect("json").into();
            let _ = feed.send(text);
            Box::pin(async {})
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let missing = store_run
            .receipts
            .iter()
            .filter(|(sent, _)| !published.contains_key(sent))
            .count();
        assert_eq!(missing, 0, "the probe saw every measured note");
        let committed = latencies(&store_run.receipts, |sent| published[&sent]);
        let dispatched = latencies(&store_run.receipts, |sent| sent);
        let bare = latencies(&bare_run.receipts, |sent| sent);
        let small = latencies(&small_run.receipts, |sent| sent);
        table.row(vec![
            subscribers.to_string(),
            p50_p99_max(&committed),
            p50_p99_max(&bare),
            ratio(
                percentile(&committed, 99.0).as_secs_f64(),
                percentile(&bare, 99.0).as_secs_f64(),
            ),
            p50_p99_max(&small),
            p50_p99_max(&dispatched),
            format!(
                "{} / {}",
                ms(percentile(&store_run.commits, 50.0)),
                ms(percentile(&store_run.commits, 99.0))
            ),
        ]);
        eprintln!("subscribe: {subscribers} done");
    }
    server.abort();
    bare_server.abort();
    drop(store);
    db.drop_db().await;
}
