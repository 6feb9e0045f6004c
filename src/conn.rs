//! What a connection must do in time, so that stuck or malicious clients cannot hold
//! the provider's connections (and file descriptors) for ever:
//!
//! - complete its TLS handshake within [`TLS_HANDSHAKE_TIMEOUT`] (axum-server's
//!   acceptor);
//! - start a request within [`IDLE_TIMEOUT`] whenever none of its requests is being
//!   answered: after the handshake, or after the previous answer on a keep-alive
//!   connection ([`IdleGuard`]). A request starts once its whole head has arrived, so
//!   this bounds a client that sends nothing, one that trickles a head byte by byte,
//!   an idle keep-alive connection, and an HTTP/2 client that stops inside its preface
//!   or sends only frames that are no requests (hyper waits for all of these without
//!   a deadline of its own). One timer per connection, moved only when it fires: the
//!   earlier hyper `header_read_timeout` armed a new one for every request;
//! - send the rest of a request body within [`BODY_READ_TIMEOUT`] of when the server
//!   first waits for it ([`BodyDeadline`]): a request whose body stops is being
//!   answered, so the idle deadline does not apply to it.
//!
//! Answering is not limited here (the consent page waits up to 25 s for a decision).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Request;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsAcceptor;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::Service;

use crate::idle::Activity;

/// How long a client has to complete its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may go without starting a request (its whole head received)
/// while none of its requests is being answered.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may take to arrive once the server waits for it.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor with the deadlines above: each connection's stream is an
/// [`IdleGuard`] and its service a [`Tracked`] one, sharing what the guard must know.
#[derive(Clone)]
pub struct GuardedAcceptor {
    tls: RustlsAcceptor,
    activity: Activity,
}

impl GuardedAcceptor {
    pub fn new(config: axum_server::tls_rustls::RustlsConfig, activity: Activity) -> Self {
        GuardedAcceptor {
            tls: RustlsAcceptor::new(config).handshake_timeout(TLS_HANDSHAKE_TIMEOUT),
            activity,
        }
    }
}

type TlsStream = <RustlsAcceptor as Accept<TcpStream, ()>>::Stream;

impl<S> Accept<TcpStream, S> for GuardedAcceptor
where
    S: Send + 'static,
{
    type Stream = IdleGuard<TlsStream>;
    type Service = Tracked<S>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // The TLS acceptor is generic over the service; it only passes it through.
        let handshake = Accept::<TcpStream, ()>::accept(&self.tls, stream, ());
        let conn = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            activity: self.activity.clone(),
        });
        Box::pin(async move {
            let (tls, ()) = handshake.await?;
            Ok((
                IdleGuard::new(tls, Arc::clone(&conn)),
                Tracked {
                    inner: service,
                    conn,
                },
            ))
        })
    }
}

/// What a connection's stream and its service share.
#[derive(Debug)]
struct ConnState {
    /// Requests of this connection being answered.
    in_flight: AtomicUsize,
    /// Requests of this connection started so far.
    started: AtomicU64,
    activity: Activity,
}

/// A connection's stream that fails its read (so hyper closes the connection) when no
/// request started for [`IDLE_TIMEOUT`] while none of the connection's requests was
/// being answered.
pub struct IdleGuard<I> {
    io: I,
    conn: Arc<ConnState>,
    /// The timer, made once; it may be set earlier than `deadline` (see
    /// [`IdleGuard::idle_expired`]).
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the present idle period ends; `None` while a request is being answered.
    deadline: Option<tokio::time::Instant>,
    /// [`ConnState::started`] when the present idle period began.
    started: u64,
}

impl<I> IdleGuard<I> {
    fn new(io: I, conn: Arc<ConnState>) -> Self {
        IdleGuard {
            io,
            conn,
            sleep: None,
            deadline: None,
            started: 0,
        }
    }

    /// Starts the idle deadline if no idle period is running (or a request started
    /// since it began); true once it has passed.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let started = self.conn.started.load(Ordering::Acquire);
        let deadline = match self.deadline {
            Some(d) if started == self.started => d,
            _ => {
                let d = tokio::time::Instant::now() + IDLE_TIMEOUT;
                self.deadline = Some(d);
                self.started = started;
                d
            }
        };
        // The timer is left at the deadline it has, even an earlier one: moving it at
        // every request costs the timer wheel an update. When it fires early it is
        // moved to the deadline of now.
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if sleep.deadline() >= deadline {
                return true;
            }
            sleep.as_mut().reset(deadline);
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleGuard<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            // Bytes alone do not end an idle period (a head trickled byte by byte);
            // a request started does.
            Poll::Ready(res) => Poll::Ready(res),
            Poll::Pending => {
                if this.conn.in_flight.load(Ordering::Acquire) > 0 {
                    this.deadline = None;
                    return Poll::Pending;
                }
                if this.idle_expired(cx) {
                    this.deadline = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client started no request within the idle timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleGuard<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A connection's service: counts the requests being answered (for [`IdleGuard`]) and
/// marks each request for the idle memory release.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    conn: Arc<ConnState>,
}

impl<S, R> Service<R> for Tracked<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.conn.activity.touch();
        self.conn.in_flight.fetch_add(1, Ordering::AcqRel);
        self.conn.started.fetch_add(1, Ordering::AcqRel);
        TrackedFuture {
            inner: self.inner.call(req),
            _in_flight: InFlight(Arc::clone(&self.conn)),
        }
    }
}

/// A service whose requests' bodies get a [`BodyDeadline`].
#[derive(Clone)]
pub struct WithBodyDeadline<S>(pub S);

impl<S, B> Service<Request<B>> for WithBodyDeadline<S>
where
    S: Service<Request<BodyDeadline<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.0.call(req.map(BodyDeadline::new))
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails once it has kept the server waiting for
    /// [`BODY_READ_TIMEOUT`] (counted from the first wait; a body already received
    /// never starts the timer). The extractor reading it then refuses the request, and
    /// hyper closes the connection, whose body was not read to its end.
    pub struct BodyDeadline<B> {
        #[pin]
        inner: B,
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<B> BodyDeadline<B> {
    fn new(inner: B) -> Self {
        BodyDeadline {
            inner,
            deadline: None,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> HttpBody for BodyDeadline<B>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(BODY_READ_TIMEOUT)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(format!(
                        "the request body did not arrive within {} s",
                        BODY_READ_TIMEOUT.as_secs()
                    )
                    .into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One request being answered, until its future completes or is dropped.
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        _in_flight: InFlight,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A guarded server side, the client side, and the state a connection's service
    /// would update.
    fn connection() -> (IdleGuard<DuplexStream>, DuplexStream, Arc<ConnState>) {
        let (server, client) = tokio::io::duplex(4096);
        let conn = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            activity: Activity::new(),
        });
        (IdleGuard::new(server, Arc::clone(&conn)), client, conn)
    }

    /// What [`Tracked`] does for one request answered at once.
    fn answer_one_request(conn: &ConnState) {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.started.fetch_add(1, Ordering::AcqRel);
        conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn timed_out(result: io::Result<usize>) -> bool {
        matches!(result, Err(e) if e.kind() == io::ErrorKind::TimedOut)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_starts_no_request_is_closed_after_the_idle_timeout() {
        let (mut server, _client, _conn) = connection();
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 64];
        assert!(timed_out(server.read(&mut buf).await));
        assert_eq!(started.elapsed(), IDLE_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_that_start_no_request_do_not_extend_the_deadline() {
        // A head trickled a byte every second: each read succeeds, but the connection
        // is closed once the idle timeout has passed since the last answer.
        let (mut server, mut client, _conn) = connection();
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 64];
        let closed = loop {
            assert!(
                started.elapsed() <= IDLE_TIMEOUT * 2,
                "bytes kept the connection open"
            );
            let read = tokio::select! {
                r = server.read(&mut buf) => r,
                _ = async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    client.write_all(b"a").await
                } => continue,
            };
            if timed_out(read) {
                break started.elapsed();
            }
        };
        assert_eq!(closed, IDLE_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_started_gives_the_connection_a_new_idle_period() {
        // Requests 6 s apart for 30 s: each within the idle timeout of the previous
        // answer, so the connection stays open though its timer was set only once.
        let (mut server, mut client, conn) = connection();
        let mut buf = [0u8; 64];
        for _ in 0..5 {
            tokio::select! {
                r = server.read(&mut buf) => panic!("the read ended: {r:?}"),
                _ = tokio::time::sleep(Duration::from_secs(6)) => {}
            }
            client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            assert!(server.read(&mut buf).await.is_ok_and(|n| n > 0));
            answer_one_request(&conn);
        }
        // Then silence: closed one idle timeout after the last answer.
        let last = tokio::time::Instant::now();
        assert!(timed_out(server.read(&mut buf).await));
        assert_eq!(last.elapsed(), IDLE_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_answered_is_not_cut_off() {
        let (mut server, _client, conn) = connection();
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        let mut buf = [0u8; 64];
        tokio::select! {
            r = server.read(&mut buf) => panic!("the read ended: {r:?}"),
            _ = tokio::time::sleep(IDLE_TIMEOUT * 3) => {}
        }
    }
}
