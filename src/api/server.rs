//! The HTTP server loop, the one `warden serve` and the test harness run: hyper's HTTP/1
//! connections with the limits `axum::serve` lacks (it runs hyper without a timer, so a client
//! that connects and sends nothing, or half a request, holds its socket forever).
//!
//! - A connection must finish a request's head within `header_timeout` of connecting (or of its
//!   first byte, once a keep-alive connection starts its next request); else it is closed.
//! - Between requests a keep-alive connection may stay silent for `idle_timeout`.
//! - A request's body must arrive within `body_timeout` of its head (handlers get an error).
//! - At most `max_connections` are open; past that, new ones wait in the kernel's backlog and a
//!   WARN is logged once per burst.
//! - On shutdown, the listener closes, idle connections close at once, requests in progress may
//!   finish, and after `shutdown_grace` whatever is still open is dropped.

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower_service::Service as _;

/// The server's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to send a request's head (from connecting, or from a keep-alive request's first byte).
    pub header_timeout: Duration,
    /// Time to send a request's body, from the end of its head.
    pub body_timeout: Duration,
    /// Time a keep-alive connection may wait silently for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// On shutdown, how long requests in progress may take before their connections are dropped.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits::DEFAULT
    }
}

impl ServerLimits {
    /// The production defaults (the CLI's defaults read them too).
    pub const DEFAULT: ServerLimits = ServerLimits {
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        max_connections: 4096,
        shutdown_grace: Duration::from_secs(10),
    };
}

/// File descriptors kept free of connections: the database, log files, outbound requests.
const RESERVED_FDS: u64 = 256;

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see the module docs).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let max = fit_to_fd_limit(limits.max_connections, open_files_limit());
    let slots = Arc::new(Semaphore::new(max));
    let (close, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut saturation = Saturation::default();
    let mut accept_failing = false;
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if saturation.at_limit(Instant::now()) {
                    tracing::warn!(
                        max_connections = max,
                        "The connection limit is reached: new connections wait until others close."
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => {
                accept_failing = false;
                stream
            }
            Err(error) => {
                // EMFILE and friends: wait for connections to close rather than spin.
                if !std::mem::replace(&mut accept_failing, true) {
                    tracing::warn!(%error, "Cannot accept connections; retrying.");
                }
                drop(slot);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        connections.spawn(connection(
            stream,
            router.clone(),
            limits,
            closing.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = close.send(true);
    let open = connections.len();
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open,
            still_open = connections.len(),
            grace_secs = limits.shutdown_grace.as_secs(),
            "Shutdown deadline passed: closing the connections still open."
        );
        connections.abort_all();
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    limits: ServerLimits,
    mut closing: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let phase = Arc::new(Mutex::new(Phase::first(limits)));
    let io = TokioIo::new(Guarded {
        stream,
        phase: phase.clone(),
        sleep: None,
    });
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        lock(&phase).request_started();
        let deadline = Instant::now() + limits.body_timeout;
        let request: Request =
            request.map(|body| Body::new(TimedBody::new(Body::new(body), deadline)));
        let mut router = router.clone();
        let phase = phase.clone();
        async move {
            let response = router.call(request).await?;
            Ok::<_, Infallible>(response.map(|body| Body::new(EndsRequest { body, phase })))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // No hyper timer: the head and idle deadlines are `Guarded`'s (hyper's would also close a
    // keep-alive connection after the header timeout).
    builder.header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = closing.wait_for(|closing| *closing) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

fn lock(phase: &Mutex<Phase>) -> std::sync::MutexGuard<'_, Phase> {
    phase
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a connection is between requests, and until when it may stay there.
#[derive(Debug)]
struct Phase {
    waiting: Waiting,
    deadline: Option<Instant>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum Waiting {
    /// For a request's first byte (the deadline is the idle one, or the header one on a new
    /// connection).
    ForRequest,
    /// For the rest of a started request head.
    ForHead,
    /// In a request: its body has its own deadline, the handler none.
    InRequest,
}

impl Phase {
    fn first(limits: ServerLimits) -> Phase {
        Phase {
            waiting: Waiting::ForRequest,
            deadline: Some(Instant::now() + limits.header_timeout),
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }

    fn bytes_read(&mut self) {
        if self.waiting == Waiting::ForRequest {
            self.waiting = Waiting::ForHead;
            self.deadline = Some(Instant::now() + self.header_timeout);
        }
    }

    fn request_started(&mut self) {
        self.waiting = Waiting::InRequest;
        self.deadline = None;
    }

    fn request_ended(&mut self) {
        self.waiting = Waiting::ForRequest;
        self.deadline = Some(Instant::now() + self.idle_timeout);
    }
}

/// The connection's socket, failing a read that waits past the phase's deadline.
struct Guarded {
    stream: TcpStream,
    phase: Arc<Mutex<Phase>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    lock(&this.phase).bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = lock(&this.phase).deadline else {
                    return Poll::Pending;
                };
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent no complete request in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request body that fails once its deadline passes (a client trickling its body).
struct TimedBody {
    body: Body,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    fn new(body: Body, deadline: Instant) -> TimedBody {
        TimedBody {
            body,
            deadline,
            sleep: None,
        }
    }
}

/// The body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl http_body::Body for TimedBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(BodyTimedOut.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that, once written (dropped by hyper), starts the connection's idle wait.
struct EndsRequest {
    body: Body,
    phase: Arc<Mutex<Phase>>,
}

impl Drop for EndsRequest {
    fn drop(&mut self) {
        lock(&self.phase).request_ended();
    }
}

impl http_body::Body for EndsRequest {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether reaching the connection limit starts a new burst, and so gets its WARN: a burst is
/// every time the limit is hit with less than [`Saturation::QUIET`] between one and the next
/// (under a flood, slots free up every header timeout and fill again at once).
#[derive(Debug, Default)]
pub(super) struct Saturation {
    last_hit: Option<Instant>,
}

impl Saturation {
    const QUIET: Duration = Duration::from_secs(60);

    /// The limit is reached at `now`; true when this starts a burst.
    pub(super) fn at_limit(&mut self, now: Instant) -> bool {
        let new_burst = self
            .last_hit
            .is_none_or(|last| now.saturating_duration_since(last) >= Saturation::QUIET);
        self.last_hit = Some(now);
        new_burst
    }
}

/// Raises the process's soft limit on open files to its hard limit, so idle sockets cannot run
/// the process out of descriptors at a distribution's default of 1,024; returns the new limit.
/// Past the hard limit only the operator can go (`ulimit -Hn`, systemd's `LimitNOFILE`).
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The process's soft limit on open files.
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// `max_connections`, lowered (with a WARN) so that connections cannot take the file
/// descriptors the rest of the process needs.
fn fit_to_fd_limit(max_connections: usize, fd_limit: Option<u64>) -> usize {
    let wanted = max_connections.max(1);
    let Some(fd_limit) = fd_limit else {
        return wanted;
    };
    let room = fd_limit.saturating_sub(RESERVED_FDS).max(1);
    if wanted as u64 <= room {
        return wanted;
    }
    tracing::warn!(
        max_connections = wanted,
        open_files_limit = fd_limit,
        allowed = room,
        "The open-files limit is too low for the connection limit: lowering it (raise `ulimit -n`)."
    );
    room as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_warning_is_logged_once_per_burst() {
        let mut saturation = Saturation::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert!(saturation.at_limit(at(0)));
        assert!(!saturation.at_limit(at(0)));
        assert!(
            !saturation.at_limit(at(10)),
            "hit again every header timeout"
        );
        assert!(!saturation.at_limit(at(69)), "still the same burst");
        assert!(
            saturation.at_limit(at(129)),
            "a new burst after a quiet minute"
        );
    }

    #[test]
    fn the_connection_limit_leaves_room_for_other_files() {
        assert_eq!(fit_to_fd_limit(4096, Some(1024)), 768);
        assert_eq!(fit_to_fd_limit(4096, Some(65536)), 4096);
        assert_eq!(fit_to_fd_limit(4096, None), 4096);
        assert_eq!(fit_to_fd_limit(0, Some(100)), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let raised = raise_open_files_limit().unwrap();
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!((raised, soft), (hard, hard));
        assert_eq!(open_files_limit(), Some(hard));
    }

    #[test]
    fn a_keep_alive_connection_gets_the_idle_deadline_then_the_header_one() {
        let limits = ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        };
        let mut phase = Phase::first(limits);
        let first = phase.deadline.unwrap();
        assert!(first <= Instant::now() + Duration::from_secs(10));
        phase.bytes_read();
        phase.request_started();
        assert_eq!(phase.deadline, None);
        phase.request_ended();
        assert!(phase.deadline.unwrap() > Instant::now() + Duration::from_secs(50));
        phase.bytes_read();
        assert!(phase.deadline.unwrap() <= Instant::now() + Duration::from_secs(10));
    }
}
