//! `/events/live` in bounded memory: fifty subscribers that never read, on a
//! log of about 100 MB of big events, keep the server's resident memory under
//! a bound derived from its settings, while a subscriber that reads gets every
//! event in order; subscribers that fall behind are closed with
//! `CLOSE_BEHIND`. The server runs as a process of its own (this test binary,
//! run again as `live_server_process`), so that its memory is measured alone.
//!
//! On every backend, smaller: messages never exceed `live_frame_bytes`,
//! the catch-up pages by bytes, and the resumed feed misses nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use flux_capacitor::Event;
use flux_capacitor::testing::conformance;
use flux_capacitor_server::http::{CLOSE_BEHIND, HttpConfig, app, serve};
use flux_capacitor_server::testing::{TestDb, conformance_store, for_each_backend, test_config};
use flux_capacitor_server::{Config, Dialect, Store};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

const MIB: usize = 1024 * 1024;
/// The server process's settings (also the bound's inputs).
const PAGE_BYTES: usize = MIB;
const FRAME_BYTES: usize = 256 * 1024;
const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// The log: events of up to this many bytes, about 100 MB in all.
const MAX_EVENT: usize = 1000 * 1024;
const LOG_BYTES: usize = 100 * MIB;
const STALLED: usize = 50;
/// The send timeout of the smaller tests.
const SEND_TIMEOUT_SMALL: Duration = Duration::from_secs(2);
/// What the server logs when it drops a subscriber for falling behind.
const DROPPED_BEHIND: &str = "live: subscriber dropped: its socket took nothing";

/// Event `i`'s payload text: mostly big (up to [`MAX_EVENT`]), some small.
fn payload_len(i: usize) -> usize {
    if i % 10 == 9 {
        100
    } else {
        200 * 1024 + (i * 7919) % (MAX_EVENT - 200 * 1024 - 200)
    }
}

/// Writes about `bytes` of events (`{"i": i, "text": "aaa…"}`) straight into
/// the SQLite log of a store opened on `url` before (the store's own path
/// serializes every event several times: too slow for 100 MB in a debug
/// build); answers their count.
async fn fill(url: &str, bytes: usize) -> u64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let (mut total, mut i) = (0, 0);
    while total < bytes {
        i += 1;
        let text = char::from(b'a' + (i % 26) as u8).to_string().repeat(payload_len(i));
        total += text.len();
        sqlx::query(
            "INSERT INTO flux_events (seq, id, type, payload, error, timestamp) \
             VALUES (?, ?, 'blob', ?, 0, '2026-01-01T00:00:00.000Z')",
        )
        .bind(i as i64)
        .bind(format!("00000000-0000-7000-8000-{i:012}"))
        .bind(format!(r#"{{"i":{i},"text":"{text}"}}"#))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    i as u64
}

/// The process under test: serves the database `FLUX_LIVE_CHILD_DB` until
/// its standard input closes; prints `listening <address>` once bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by live_memory_is_bounded_with_fifty_stalled_subscribers as its server"]
async fn live_server_process() {
    let Ok(url) = std::env::var("FLUX_LIVE_CHILD_DB") else {
        return;
    };
    flux_capacitor_server::cli::init_tracing();
    let config = Config {
        replay_page_bytes: PAGE_BYTES,
        ..Config::default()
    };
    let store = Store::builder(conformance::reducer())
        .config(config)
        .connect(&url)
        .await
        .expect("open");
    let http = HttpConfig {
        live_frame_bytes: FRAME_BYTES,
        live_send_timeout: SEND_TIMEOUT,
        max_live: 1000,
        ..HttpConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening {}", listener.local_addr().unwrap());
    let stdin_closed = async {
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()))
            .await
            .ok();
    };
    serve(listener, app(store, http.clone()), &http, stdin_closed)
        .await
        .unwrap();
}

/// The server process; killed when dropped.
struct Server {
    child: Child,
    address: String,
    /// Subscribers it logged as dropped for falling behind.
    dropped: Arc<AtomicUsize>,
}

impl Server {
    fn start(url: &str) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "live_server_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FLUX_LIVE_CHILD_DB", url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let dropped = Arc::new(AtomicUsize::new(0));
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let count = dropped.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains(DROPPED_BEHIND) {
                    count.fetch_add(1, Ordering::SeqCst);
                } else {
                    eprintln!("server: {line}");
                }
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let address = stdout
            .lines()
            .map_while(Result::ok)
            // After libtest's `test live_server_process ... ` on the same line.
            .find_map(|line| {
                line.split_once("listening ")
                    .map(|(_, address)| address.trim().to_owned())
            })
            .expect("the server says where it listens");
        Server {
            child,
            address,
            dropped,
        }
    }

    /// A line of `/proc/<pid>/status` in bytes, e.g. `VmRSS` or `VmHWM` (the peak).
    fn memory(&self, field: &str) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).expect("field in status");
        let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to `/events/live?after=0` whose socket buffers little, so
/// that the server finds out soon when it is not read.
async fn subscriber(address: &str) -> Socket {
    subscriber_after(address, 0).await
}

async fn subscriber_after(address: &str, after: u64) -> Socket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let url = format!("ws://{address}/events/live?after={after}");
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("upgrade");
    ws
}

/// What a subscriber read: the `seq`s, the largest message, the close
/// frame's code and reason, and whether the connection ended.
#[derive(Debug)]
struct Read {
    seqs: Vec<u64>,
    largest: usize,
    close: Option<(u16, String)>,
    ended: bool,
}

/// Reads `socket` until it ends, event `until` arrived, or `limit` passed.
async fn read_all(mut socket: Socket, limit: Duration, until: u64) -> Read {
    let (mut seqs, mut largest, mut close, mut ended) = (Vec::new(), 0, None, false);
    let deadline = Instant::now() + limit;
    while seqs.last().is_none_or(|&last| last < until) {
        let Ok(message) = tokio::time::timeout_at(deadline.into(), socket.next()).await else {
            break;
        };
        let Some(message) = message else {
            ended = true;
            break;
        };
        match message {
            Ok(Message::Text(text)) => {
                largest = largest.max(text.len());
                let batch: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
                seqs.extend(batch.iter().map(|e| e["seq"].as_u64().unwrap()));
            }
            Ok(Message::Close(frame)) => {
                close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                ended = true;
                break;
            }
            Ok(_) => {}
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    Read {
        seqs,
        largest,
        close,
        ended,
    }
}

/// How many subscribers the servers of this process dropped for falling
/// behind, counted from their logs (a `tracing` subscriber installed on
/// first use).
fn dropped_behind() -> usize {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static INSTALL: Once = Once::new();
    /// A log writer that counts the drops it is given.
    struct Scan;
    impl std::io::Write for Scan {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if String::from_utf8_lossy(buf).contains(DROPPED_BEHIND) {
                COUNT.fetch_add(1, Ordering::SeqCst);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    INSTALL.call_once(|| {
        let logs = tracing_subscriber::fmt().with_ansi(false).with_writer(|| Scan).finish();
        tracing::subscriber::set_global_default(logs).expect("the first subscriber");
    });
    COUNT.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_memory_is_bounded_with_fifty_stalled_subscribers() {
    let db = TestDb::new(Dialect::Sqlite).await;
    db.run(|db| async move {
        let started = Instant::now();
        // The store's tables, then the log.
        drop(conformance_store(&db).await);
        let events = fill(&db.url, LOG_BYTES).await;
        eprintln!("log of {events} events written in {:?}", started.elapsed());

        let server = Server::start(&db.url);
        let baseline = server.memory("VmRSS");
        let mut stalled = Vec::new();
        for _ in 0..STALLED {
            stalled.push(subscriber(&server.address).await);
        }
        let reader = read_all(subscriber(&server.address).await, Duration::from_secs(600), events).await;
        // Each stalled one is dropped a send timeout after its socket filled
        // (the server logs it), and given as long again to take the close frame.
        let waited = Instant::now();
        while server.dropped.load(Ordering::SeqCst) < STALLED {
            assert!(
                waited.elapsed() < Duration::from_secs(300),
                "every stalled subscriber dropped in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(SEND_TIMEOUT + Duration::from_secs(1)).await;

        let peak = server.memory("VmHWM");
        let subscribers = STALLED + 1;
        // Per subscriber: a page of the log (and the event that crosses its
        // budget) as parsed JSON, and a message being sent (held twice for a
        // moment; one event alone may exceed the frame size).
        let per_subscriber = PAGE_BYTES + MAX_EVENT + 2 * MAX_EVENT.max(FRAME_BYTES);
        let bound = baseline + subscribers * per_subscriber + 64 * MIB;
        eprintln!(
            "baseline {} MiB, peak {} MiB, bound {} MiB, {:?} in all",
            baseline / MIB,
            peak / MIB,
            bound / MIB,
            started.elapsed()
        );
        assert!(peak <= bound, "peak RSS {peak} over the bound {bound}");

        assert_eq!(
            reader.seqs,
            (1..=events).collect::<Vec<_>>(),
            "the reader got every event once, in order"
        );
        assert!(
            reader.largest <= MAX_EVENT + 300,
            "one message holds at most one big event: {}",
            reader.largest
        );
        assert_eq!(reader.close, None, "the reader was not dropped");
        // The server let go of every stalled one: read now, each ends.
        let mut closed_behind = 0;
        for socket in stalled {
            let read = read_all(socket, Duration::from_secs(60), u64::MAX).await;
            assert!(read.ended, "a stalled subscriber was dropped");
            assert!(
                read.seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "in order, nothing skipped"
            );
            assert!(read.seqs.len() < events as usize, "dropped before the end");
            closed_behind += usize::from(read.close.is_some_and(|(code, _)| code == CLOSE_BEHIND));
        }
        eprintln!("{closed_behind} of {STALLED} stalled subscribers still took the close frame");
    })
    .await;
}

/// Serves `store` on a loopback port with small live limits.
async fn listen(store: Store, config: HttpConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { serve(listener, app(store, config.clone()), &config, std::future::pending()).await });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_stay_within_the_frame_size_and_a_dropped_reader_resumes() {
    dropped_behind();
    for_each_backend(|db| async move {
        let config = Config {
            replay_page_bytes: 256 * 1024,
            ..test_config()
        };
        let store = Store::builder(conformance::reducer())
            .config(config)
            .open(db.pool().await)
            .await
            .unwrap();
        // Batches of events of 10 KiB, 60 KiB and 100 bytes, one of 200 KiB,
        // then 7 MiB of big ones (more than loopback sockets buffer).
        let event = |i: usize, len: usize| Event::new("blob", json!({ "i": i, "text": "x".repeat(len) }));
        for round in 0..10 {
            let len = |j: usize| [10 << 10, 60 << 10, 100][j % 3];
            let batch = (0..6).map(|j| event(round * 6 + j, len(j))).collect();
            store.dispatch_all(batch).await.unwrap();
        }
        store.dispatch(event(60, 200 << 10)).await.unwrap();
        for i in 0..4 {
            store
                .dispatch_all(vec![event(61 + i, 900 << 10), event(62 + i, 900 << 10)])
                .await
                .unwrap();
        }
        let head = store.head();
        let http = HttpConfig {
            live_frame_bytes: 64 * 1024,
            live_send_timeout: SEND_TIMEOUT_SMALL,
            ..HttpConfig::default()
        };
        let address = listen(store.clone(), http).await;

        // Replayed and live batches are split into messages of at most 64 KiB.
        let reader = subscriber(&address).await;
        let live = event(999, 30 << 10);
        store
            .dispatch_all(vec![live.clone(), live.clone(), live.clone()])
            .await
            .unwrap();
        let read = read_all(reader, Duration::from_secs(60), head + 3).await;
        assert_eq!(read.seqs, (1..=head + 3).collect::<Vec<_>>());
        assert!(read.largest > 64 * 1024, "the 200 KiB event went alone");
        let mut socket = subscriber(&address).await;
        let mut sizes = Vec::new();
        while sizes.len() < 30 {
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                let batch: Vec<Value> = serde_json::from_str(&text).unwrap();
                sizes.push((text.len(), batch.len()));
            }
        }
        assert!(
            sizes.iter().all(|&(len, n)| len <= 64 * 1024 || n == 1),
            "every message within the limit, or one event alone: {sizes:?}"
        );
        assert!(sizes.iter().any(|&(_, n)| n > 1), "small events share messages");
        drop(socket);

        // A reader that stalls is closed with CLOSE_BEHIND (it reads once the
        // server logged the drop, within the send timeout it is given to take
        // the close frame); resuming from its last seq gives the rest,
        // nothing twice.
        let before = dropped_behind();
        let stalled = subscriber(&address).await;
        let waited = Instant::now();
        while dropped_behind() == before {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the stalled reader is dropped in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = read_all(stalled, Duration::from_secs(60), u64::MAX).await;
        eprintln!(
            "stalled: {} events, last {:?}, ended {}, close {:?}",
            first.seqs.len(),
            first.seqs.last(),
            first.ended,
            first.close
        );
        let (code, reason) = first.close.expect("a close frame");
        assert_eq!(code, CLOSE_BEHIND);
        let last = *first.seqs.last().expect("some events before the close");
        assert!(
            reason.contains(&format!("after={last}")),
            "{reason} names the last seq sent, {last}"
        );
        assert!(last < head, "closed before the end ({last} of {head})");
        let resumed = subscriber_after(&address, last).await;
        let rest = read_all(resumed, Duration::from_secs(60), head + 3).await;
        let all: Vec<u64> = first.seqs.into_iter().chain(rest.seqs).collect();
        assert_eq!(all, (1..=head + 3).collect::<Vec<_>>());
    })
    .await;
}
