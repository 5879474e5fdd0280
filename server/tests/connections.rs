//! `http::serve`'s connection limits over real loopback sockets: a client
//! that never finishes its headers (slowloris) is disconnected after the
//! header-read timeout, an idle keep-alive connection after the idle timeout,
//! connections beyond the cap wait for a place, and a live WebSocket outlives
//! both timeouts while a dead one is found by its pings.

use std::time::{Duration, Instant};

use flux_capacitor::Event;
use flux_capacitor::testing::conformance;
use flux_capacitor_server::Store;
use flux_capacitor_server::http::{HttpConfig, app, serve};
use flux_capacitor_server::testing::{TestDb, test_config};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn store(db: &TestDb) -> Store {
    Store::builder(conformance::reducer())
        .config(test_config())
        .open(db.pool().await)
        .await
        .expect("open store")
}

/// Serves `store` under `config` on a loopback port; answers its address.
async fn listen(store: Store, config: HttpConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { serve(listener, app(store, config.clone()), &config, std::future::pending()).await });
    address
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads one `/health` answer off a keep-alive connection.
async fn health(stream: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&got).contains(r#"{"status":"ok"}"#) {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert!(n > 0, "the connection stays open for the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
}

/// How long until the server closes `stream` (reading and dropping whatever
/// it sends); panics if it is still open after `limit`.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_are_disconnected_after_the_header_read_timeout() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let config = HttpConfig {
            header_read_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_secs(60),
            ..HttpConfig::default()
        };
        let address = listen(store(&db).await, config).await;
        let mut clients = Vec::new();
        for i in 0..20 {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            // Part of a request, a byte at a time at first, then nothing.
            stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
            stream.write_all(format!("X-Slow-{i}: ").as_bytes()).await.unwrap();
            clients.push(stream);
        }
        for stream in &mut clients[..5] {
            for byte in b"ab" {
                tokio::time::sleep(Duration::from_millis(100)).await;
                // Fails once the server closed it: fine.
                let _ = stream.write_all(&[*byte]).await;
            }
        }
        for stream in &mut clients {
            let after = closed_after(stream, Duration::from_secs(5)).await;
            assert!(after < Duration::from_secs(3), "closed after {after:?}");
        }
        // A client that sends its request in time is answered.
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(HEALTH).await.unwrap();
        health(&mut stream).await;
        // Waiting for the next request is waiting for headers too.
        let after = closed_after(&mut stream, Duration::from_secs(5)).await;
        assert!(after >= Duration::from_millis(400), "kept open a while: {after:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let config = HttpConfig {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_millis(700),
            ..HttpConfig::default()
        };
        let address = listen(store(&db).await, config).await;
        let mut stream = TcpStream::connect(&address).await.unwrap();
        // Requests within the idle timeout keep the connection.
        for _ in 0..3 {
            stream.write_all(HEALTH).await.unwrap();
            health(&mut stream).await;
            tokio::time::sleep(Duration::from_millis(350)).await;
        }
        let after = closed_after(&mut stream, Duration::from_secs(5)).await;
        assert!(after >= Duration::from_millis(200), "{after:?}");
        assert!(after < Duration::from_secs(3), "{after:?}");
        // A connection that never says anything is closed too.
        let mut silent = TcpStream::connect(&address).await.unwrap();
        let after = closed_after(&mut silent, Duration::from_secs(5)).await;
        assert!(after >= Duration::from_millis(500), "{after:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_for_a_place() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let config = HttpConfig {
            max_connections: 2,
            ..HttpConfig::default()
        };
        let address = listen(store(&db).await, config).await;
        let mut first = TcpStream::connect(&address).await.unwrap();
        first.write_all(HEALTH).await.unwrap();
        health(&mut first).await;
        let mut second = TcpStream::connect(&address).await.unwrap();
        second.write_all(HEALTH).await.unwrap();
        health(&mut second).await;
        // The third is queued by the system, not served.
        let mut third = TcpStream::connect(&address).await.unwrap();
        third.write_all(HEALTH).await.unwrap();
        let mut buf = [0; 64];
        let waited = tokio::time::timeout(Duration::from_millis(800), third.read(&mut buf)).await;
        assert!(waited.is_err(), "no answer while two connections are open");
        // Once one closes, the third is served.
        drop(first);
        health(&mut third).await;
        // And the second is still served as before.
        second.write_all(HEALTH).await.unwrap();
        health(&mut second).await;
    })
    .await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The next events pushed on `socket` within `limit` (answering pings meanwhile).
async fn next_events(socket: &mut Socket, limit: Duration) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let message = tokio::time::timeout_at(deadline.into(), socket.next())
            .await
            .expect("events in time")
            .expect("socket open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Reads `socket` (answering pings) for `time`: nothing but pings may come.
async fn listen_quietly(socket: &mut Socket, time: Duration) {
    let deadline = Instant::now() + time;
    while let Ok(message) = tokio::time::timeout_at(deadline.into(), socket.next()).await {
        let message = message.expect("socket open").expect("a frame");
        assert!(matches!(message, Message::Ping(_)), "only pings: {message:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_outlive_the_timeouts_and_dead_ones_are_found_by_pings() {
    let db = TestDb::new(flux_capacitor_server::Dialect::Sqlite).await;
    db.run(|db| async move {
        let store = store(&db).await;
        let config = HttpConfig {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(300),
            live_ping_interval: Some(Duration::from_millis(250)),
            ..HttpConfig::default()
        };
        let address = listen(store.clone(), config).await;
        let url = format!("ws://{address}/events/live");
        let (mut live, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (mut dead, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        for round in 0..3 {
            // Quiet for well over both timeouts: the socket stays open.
            listen_quietly(&mut live, Duration::from_millis(1000)).await;
            store
                .dispatch(Event::new("tick", json!({ "round": round })))
                .await
                .unwrap();
            let events = next_events(&mut live, Duration::from_secs(5)).await;
            assert_eq!(events[0]["payload"]["round"], json!(round));
        }
        // `dead` answered no ping for three seconds: the server let it go.
        let start = Instant::now();
        let mut ended = false;
        while start.elapsed() < Duration::from_secs(5) {
            match tokio::time::timeout(Duration::from_secs(5), dead.next()).await {
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                    ended = true;
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Err(_) => break,
            }
        }
        assert!(ended, "a WebSocket that answers no pings is closed");
    })
    .await;
}
