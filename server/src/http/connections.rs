//! [`serve`]: the service on a TCP listener, with the connection limits
//! `axum::serve` lacks — a header-read timeout (slowloris), an idle timeout
//! and a cap on open connections ([`HttpConfig`]'s `header_read_timeout`,
//! `idle_timeout`, `max_connections`).
//!
//! Each connection is served by hyper's HTTP/1 connection (the protocol
//! `axum::serve` speaks with axum's default features), with upgrades for the
//! WebSocket. Its socket counts its last byte read or written; a watchdog
//! closes it when silent for the idle timeout. A WebSocket is no longer the
//! watchdog's: it is long-lived by design, and its own pings find dead peers
//! ([`HttpConfig::live_ping_interval`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use super::HttpConfig;

/// Serves `router` (usually [`app`](super::app), perhaps nested in your own)
/// on `listener` until `shutdown` completes, under `config`'s connection
/// limits; then stops accepting, lets requests in progress finish, and
/// returns once their connections are closed (WebSockets are not waited for).
///
/// * A client has [`HttpConfig::header_read_timeout`] to send a request's
///   headers, from its connection's start or the previous response; then its
///   connection is closed. So it is also how long an idle keep-alive
///   connection waits for its next request.
/// * A connection silent both ways for [`HttpConfig::idle_timeout`] is
///   closed once its request in progress, if any, is answered; silent for as
///   long again, it is dropped.
/// * At most [`HttpConfig::max_connections`] are open at once (WebSockets
///   included); more wait in the operating system's listen queue until one
///   closes (beyond that queue the system refuses them).
///
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>` (anonymous
/// callers' [dispatch rate](HttpConfig::dispatch_rate) is counted by it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let limits = Limits {
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
    };
    let max = config.max_connections.max(1);
    let places = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let place = match places.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                tracing::warn!(
                    max,
                    "serve: at the connection cap; new connections wait until one closes"
                );
                tokio::select! {
                    place = places.clone().acquire_owned() => place.map_err(io::Error::other)?,
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        connections.spawn(connection(stream, peer, router, limits, stopping.clone(), place));
    }
    tracing::info!(
        open = connections.len(),
        "serve: stopped accepting; closing connections"
    );
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// What [`connection`] needs of the config.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

/// Connection errors are the client's; others (too many open files) wait a
/// moment, as `axum::serve` does, rather than spin.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "serve: accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    place: OwnedSemaphorePermit,
) {
    stream.set_nodelay(true).ok();
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
        _place: place,
    };
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A year is never, and keeps hyper's `Instant` arithmetic from overflowing.
        .header_read_timeout(limits.header_read_timeout.min(Duration::from_secs(365 * 86_400)));
    let conn = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(err) = done {
                    if err.is_timeout() {
                        tracing::info!(%peer, timeout_ms = limits.header_read_timeout.as_millis() as u64, "serve: connection closed: no request headers within the header-read timeout");
                    } else {
                        tracing::debug!(%peer, error = %err, "serve: connection ended with an error");
                    }
                }
                break;
            }
            () = activity.silent_for(limits.idle_timeout) => {
                if closing {
                    tracing::info!(%peer, "serve: connection dropped: still silent after the idle timeout");
                    break;
                }
                tracing::debug!(%peer, "serve: connection idle; closing it");
                conn.as_mut().graceful_shutdown();
                activity.touch();
                closing = true;
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// When a connection last read or wrote a byte.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds since `start`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Completes once nothing was read or written for `idle`.
    async fn silent_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let quiet = last.elapsed();
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

/// A connection's socket that notes each byte read or written and holds its
/// place under the connection cap until dropped — also after an upgrade to
/// a WebSocket, which keeps the socket.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
