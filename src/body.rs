//! The response body otpgate sends: either the upstream's, streamed frame by
//! frame, or a small one of its own. It counts bytes as they pass and writes
//! the access line when the body ends (or the client goes away).

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
    pub fn with_log(mut self, log: AccessLog) -> Self {
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
