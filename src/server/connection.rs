//! One client connection, every phase bounded: the TLS handshake
//! (`handshake_timeout`), the first request (`header_timeout`), each
//! HTTP/1.1 request head (`header_timeout`), request bodies
//! (`body_timeout` + `body_min_rate`, body.rs), idleness between requests
//! and on HTTP/2 connections without streams (`idle_timeout`), dead HTTP/2
//! peers (keep-alive pings), and shutdown (`shutdown_grace`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::idle::{Activity, Tracked};
use super::live::Live;
use crate::body::BodyPace;
use crate::config::Config;
use crate::fingerprint::FirstFlight;
use crate::ratelog::LogLimit;

/// After an idle close began, how long the peer gets to finish it (answer
/// HTTP/2's GOAWAY ping) before the socket is dropped: a peer that stops
/// reading must not hold the socket past `idle_timeout` by much.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

pub fn builder(cfg: &Config) -> auto::Builder<TokioExecutor> {
    let s = &cfg.server;
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // Runs from the first poll for a head, so it also bounds the wait
        // for the next request on a keep-alive connection.
        .header_read_timeout(s.header_timeout)
        // One buffer per write: with TLS, vectored writes of head and body
        // become separate records (two seals, two frames) for small answers.
        .writev(false)
        .max_buf_size(s.max_header_bytes);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(s.max_header_bytes as u32)
        .max_concurrent_streams(256)
        // Pings find dead peers (a NAT that forgot the flow); idle but live
        // ones are closed by `idle_timeout`.
        .keep_alive_interval(Some(s.http2_keepalive_interval))
        .keep_alive_timeout(s.http2_keepalive_timeout);
    b
}

pub struct Connection {
    /// Read once per request: each request runs under the configuration
    /// in force when it began (live.rs).
    pub live: Arc<Live>,
    pub acceptor: TlsAcceptor,
    pub builder: auto::Builder<TokioExecutor>,
    /// `true` once the gateway is shutting down.
    pub stop: watch::Receiver<bool>,
}

/// Keeps `otpgate_open_connections` right however the task ends.
struct OpenGuard(Arc<crate::metrics::Metrics>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_connections.dec();
    }
}

static IDLE_CLOSED: LogLimit = LogLimit::per_second();

impl Connection {
    pub async fn serve(mut self, tcp: TcpStream, peer: SocketAddr) {
        let _ = tcp.set_nodelay(true);
        // Connection-wide settings (timeouts, trust) from the configuration
        // in force when the connection arrived.
        let first = self.live.gateway();
        first.metrics.open_connections.inc();
        let _open = OpenGuard(first.metrics.clone());
        let cfg = &first.cfg.server;
        let mut tls = match tokio::time::timeout(
            cfg.handshake_timeout,
            self.acceptor.accept(FirstFlight::new(tcp)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                first.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                first.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
        let info = first.trusted().conn(peer, tls.get_mut().0.take_ja4());
        let activity = Activity::new(cfg.header_timeout.min(cfg.idle_timeout), cfg.idle_timeout);
        let pace = BodyPace {
            timeout: cfg.body_timeout,
            min_rate: cfg.body_min_rate,
        };
        drop(first);
        let live = self.live.clone();
        let requests = activity.clone();
        let svc = service_fn(move |mut req: Request<Incoming>| {
            let in_flight = requests.begin();
            // Only requests with a body carry the pace (no allocation for
            // the usual GET).
            if !req.body().is_end_stream() {
                req.extensions_mut().insert(pace);
            }
            let gw = live.gateway();
            async move {
                let resp = gw.handle(req, info).await;
                Ok::<_, Infallible>(resp.map(|body| Tracked::new(body, in_flight)))
            }
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(tls), svc);
        tokio::pin!(conn);
        let mut closing = false;
        let mut idle_closing = false;
        let result = loop {
            tokio::select! {
                r = conn.as_mut() => break r,
                _ = self.stop.wait_for(|stop| *stop), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = activity.idle(), if !closing => {
                    if let Some(suppressed) = IDLE_CLOSED.check() {
                        tracing::debug!(%peer, suppressed, "closing an idle connection");
                    }
                    // HTTP/1.1: closes now; HTTP/2: GOAWAY, then closes
                    // once the streams it let in are done.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                    idle_closing = true;
                }
                _ = activity.idle_for_at_least(IDLE_CLOSE_GRACE), if idle_closing => {
                    break Ok(());
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}
