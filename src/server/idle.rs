//! Which connections are idle. hyper bounds the HTTP/1.1 header read, but
//! nothing bounds a connection that sends nothing at all: a TLS handshake
//! followed by silence (hyper-util's auto builder waits forever for the
//! bytes that tell HTTP/1.1 from HTTP/2), or an HTTP/2 connection that
//! answers pings and never opens a stream. Each held socket counts against
//! `max_connections`, so a handful of them locked every shopper out
//! (issue 8). [`Activity`] counts the requests in progress on one
//! connection; when there has been none for long enough, server.rs closes
//! it.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Requests in progress on one connection, and since when there were none.
pub struct Activity {
    in_flight: AtomicUsize,
    /// Requests begun on this connection (0: still waiting for the first).
    begun: AtomicU64,
    /// When `in_flight` last dropped to zero (or the connection started).
    /// Locked only to read or write the instant.
    idle_since: Mutex<Instant>,
    changed: Notify,
    /// Bound before the first request: a new connection must start one
    /// promptly (`server.header_timeout`).
    first: Duration,
    /// Bound between requests (`server.idle_timeout`).
    between: Duration,
}

impl Activity {
    pub fn new(first: Duration, between: Duration) -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            idle_since: Mutex::new(Instant::now()),
            changed: Notify::new(),
            first,
            between,
        })
    }

    /// A request has begun; it is in progress until the guard is dropped
    /// (with its response body, or when the client goes away).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn idle_deadline(&self, limit: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = *self.idle_since.lock().unwrap_or_else(|e| e.into_inner());
        Some(since + limit)
    }

    /// Resolves once no request has been in progress for the idle bound
    /// (the first-request bound until one has begun).
    pub async fn idle(&self) {
        loop {
            let limit = if self.begun.load(Ordering::Relaxed) == 0 {
                self.first
            } else {
                self.between
            };
            if self.idle_for(limit).await {
                return;
            }
        }
    }

    /// Resolves once no request has been in progress for `limit`.
    pub async fn idle_for_at_least(&self, limit: Duration) {
        while !self.idle_for(limit).await {}
    }

    /// One wait: `true` when idle for `limit`, `false` when something
    /// changed and the caller should look again.
    async fn idle_for(&self, limit: Duration) -> bool {
        match self.idle_deadline(limit) {
            Some(deadline) => tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    self.idle_deadline(limit).is_some_and(|d| d <= Instant::now())
                }
                _ = self.changed.notified() => false,
            },
            None => {
                self.changed.notified().await;
                false
            }
        }
    }
}

/// One request in progress.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *a.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        a.changed.notify_one();
    }
}

/// A response body that keeps its request counted as in progress until
/// hyper has sent (or abandoned) it.
pub struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_while_no_request_is_in_progress() {
        let a = Activity::new(Duration::from_secs(1), Duration::from_secs(5));
        let start = Instant::now();
        a.idle().await;
        // Before any request: the first-request bound.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        let req = a.begin();
        let waiting = tokio::time::timeout(Duration::from_secs(60), a.idle()).await;
        assert!(waiting.is_err(), "a request in progress is not idle");
        drop(req);
        let start = Instant::now();
        a.idle().await;
        // After a request: the between-requests bound, from its end.
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }
}
