//! The response body otpgate sends: either the upstream's, streamed frame by
//! frame, or a small one of its own. It counts bytes as they pass and writes
//! the access line when the body ends (or the client goes away).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::{Either, Full};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Body {
    inner: Either<Incoming, Full<Bytes>>,
    log: Option<AccessLog>,
}

impl Body {
    pub fn upstream(body: Incoming) -> Self {
        Body {
            inner: Either::Left(body),
            log: None,
        }
    }
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body {
            inner: Either::Right(Full::new(bytes.into())),
            log: None,
        }
    }
    pub fn empty() -> Self {
        Body::full(Bytes::new())
    }
    pub fn with_log(mut self, mut log: AccessLog) -> Self {
        // An empty body (a redirect, a 204, a HEAD answer) is never polled:
        // hyper sees it has ended. It is complete, not aborted.
        log.complete = self.inner.is_end_stream();
        self.log = Some(log);
        self
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Some(log) = this.log.as_mut() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(d) = frame.data_ref() {
                        log.bytes += d.len() as u64;
                    }
                }
                Poll::Ready(Some(Err(_))) => log.aborted = true,
                Poll::Ready(None) => log.complete = true,
                Poll::Pending => {}
            }
            if this.inner.is_end_stream() {
                log.complete = true;
            }
            if log.complete || log.aborted {
                this.log = None; // written by Drop, now
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One access line; written when dropped. Holds no cookie, query or secret:
/// only the path that was decided on.
pub struct AccessLog {
    pub request_id: String,
    /// The shopper's address as limits see it (behind a trusted proxy, from
    /// `X-Forwarded-For`), so a line can be tied to a limit or an abuse report.
    pub client: std::net::IpAddr,
    pub method: Method,
    pub path: String,
    pub status: u16,
    pub started: Instant,
    pub upstream: Option<Duration>,
    pub bytes: u64,
    pub complete: bool,
    pub aborted: bool,
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        let ms = |d: Duration| (d.as_micros() as f64 / 1000.0 * 1000.0).round() / 1000.0;
        let upstream_ms = self.upstream.map(ms);
        tracing::info!(
            target: "otpgate::access",
            request_id = %self.request_id,
            client = %self.client,
            method = %self.method,
            path = %self.path,
            status = self.status,
            duration_ms = ms(self.started.elapsed()),
            upstream_ms,
            bytes = self.bytes,
            aborted = self.aborted || !self.complete,
            "request"
        );
    }
}

/// How fast a client must send a request body (`server.body_timeout`,
/// `server.body_min_rate`). server.rs puts it in the extensions of every
/// request that has a body; whoever reads that body wraps it in [`Paced`].
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub timeout: Duration,
    pub min_rate: u64,
}

impl Default for BodyPace {
    fn default() -> Self {
        BodyPace {
            timeout: Duration::from_secs(20),
            min_rate: 500,
        }
    }
}

impl BodyPace {
    /// The pace for a request: its extension, else the default.
    pub fn of(extensions: &http::Extensions) -> BodyPace {
        extensions.get::<BodyPace>().copied().unwrap_or_default()
    }

    /// How long the client may have kept us waiting after `bytes`.
    fn allowance(&self, bytes: u64) -> Duration {
        match self.min_rate {
            0 => self.timeout,
            rate => self.timeout + Duration::from_secs_f64(bytes as f64 / rate as f64),
        }
    }
}

/// The client sent its request body too slowly.
#[derive(Debug, thiserror::Error)]
#[error("request body too slow (server.body_timeout, server.body_min_rate)")]
pub struct BodyTooSlow;

/// A request body that must keep arriving. Only time spent waiting on the
/// client counts (not time the reader spends elsewhere, e.g. an upstream
/// applying backpressure): the client may keep us waiting `timeout` plus
/// one second per `min_rate` bytes it delivered. A slow-POST attack (one
/// byte every few seconds, RUDY) thus ends after about `timeout`, while a
/// slow but honest upload earns more time with every byte.
pub struct Paced<B> {
    inner: B,
    pace: BodyPace,
    bytes: u64,
    /// Time already spent waiting for the client, in finished waits.
    waited: Duration,
    /// The wait in progress, if the last poll found no data.
    pending_since: Option<tokio::time::Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Paced<B> {
    pub fn new(inner: B, pace: BodyPace) -> Self {
        Paced {
            inner,
            pace,
            bytes: 0,
            waited: Duration::ZERO,
            pending_since: None,
            timer: None,
        }
    }
}

impl<B> HttpBody for Paced<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.pending_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(Ok(f)) = &frame {
                    if let Some(d) = f.data_ref() {
                        this.bytes += d.len() as u64;
                    }
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let since = *this
                    .pending_since
                    .get_or_insert_with(tokio::time::Instant::now);
                let left = this.pace.allowance(this.bytes).saturating_sub(this.waited);
                let deadline = since + left;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow)))),
                    Poll::Pending => Poll::Pending,
                }
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

/// Whether a body error (possibly wrapped, e.g. by `Limited` or hyper's
/// client) is the client's slowness.
pub fn is_too_slow(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<BodyTooSlow>() {
            return true;
        }
        cur = e.source();
    }
    false
}
