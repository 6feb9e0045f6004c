//! What a connection must do in time, so that stuck or malicious clients cannot hold
//! the provider's connections (and file descriptors) for ever:
//!
//! - complete its TLS handshake within [`TLS_HANDSHAKE_TIMEOUT`] (axum-server's
//!   acceptor);
//! - send a complete HTTP/1 request head within [`HEADER_READ_TIMEOUT`] from when the
//!   server starts reading it: after the handshake, or after the previous answer on a
//!   keep-alive connection, so an idle keep-alive connection is closed after that long
//!   too (hyper's `header_read_timeout`, which needs a timer);
//! - send something within [`IDLE_TIMEOUT`] whenever none of its requests is being
//!   answered ([`IdleGuard`]). hyper waits without a deadline for the first bytes after
//!   the handshake (they tell HTTP/1 from HTTP/2) and for an HTTP/2 client's frames;
//!   this bounds both;
//! - send the rest of a request body within [`BODY_READ_TIMEOUT`] of when the server
//!   first waits for it ([`BodyDeadline`]): a request whose body stops is being
//!   answered, so the idle deadline does not apply to it.
//!
//! Answering is not limited here (the consent page waits up to 25 s for a decision).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
/// How long a client has to send a whole HTTP/1 request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent while none of its requests is being answered.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may take to arrive once the server waits for it.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures hyper's HTTP/1 side: the header-read deadline and the timer it needs.
pub fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
}

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
    activity: Activity,
}

/// A connection's stream that fails its read (so hyper closes the connection) when
/// nothing arrived for [`IDLE_TIMEOUT`] while none of the connection's requests was
/// being answered.
pub struct IdleGuard<I> {
    io: I,
    conn: Arc<ConnState>,
    /// Reused across idle periods (reset rather than reallocated).
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl<I> IdleGuard<I> {
    fn new(io: I, conn: Arc<ConnState>) -> Self {
        IdleGuard {
            io,
            conn,
            sleep: None,
            armed: false,
        }
    }

    /// Starts the idle deadline if it is not running; true once it has passed.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
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
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(res) => {
                if buf.filled().len() > before {
                    this.armed = false;
                }
                Poll::Ready(res)
            }
            Poll::Pending => {
                if this.conn.in_flight.load(Ordering::Acquire) > 0 {
                    this.armed = false;
                    return Poll::Pending;
                }
                if this.idle_expired(cx) {
                    this.armed = false;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing for the idle timeout",
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
