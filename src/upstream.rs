//! The storefront: a pooled hyper client, bodies streamed both ways, and
//! protocol upgrades (WebSocket) tunnelled after the 101.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::{Body as _, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::body::{BodyPace, Paced};
use crate::config::UpstreamConfig;
use crate::errors::GatewayError;
use crate::ratelog::LogLimit;

/// What the storefront is sent: the client's body, paced (body.rs), or
/// one otpgate holds whole (a held request, own/held.rs; or nothing, for
/// a bodiless request sent again).
type UpstreamBody = Either<Paced<Incoming>, Full<Bytes>>;
type HttpClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;
use crate::upgrade::WebSocket;

pub struct Upstream {
    client: HttpClient,
    /// The same client without a pool: a retry must not land on another
    /// idle connection the storefront has just as silently closed.
    fresh: HttpClient,
    scheme: Scheme,
    authority: Authority,
    response_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("upstream.ca_file: {0}")]
    Ca(#[from] crate::tls::TlsError),
    #[error("upstream.ca_file: {0}")]
    Rustls(#[from] rustls::Error),
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, UpstreamSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &cfg.ca_file {
            for cert in crate::tls::load_certs(ca)? {
                roots.add(cert)?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(cfg.pool_idle_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle)
            // A request hyper hands back unsent (the pooled connection was
            // found closed before a byte was written) goes out again on
            // another connection, whatever its method: the storefront
            // cannot have seen it. (The default; said here because the
            // retry below relies on it for requests with bodies.)
            .retry_canceled_requests(true)
            .build(connector.clone());
        let fresh = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Upstream {
            client,
            fresh,
            scheme: cfg.url.scheme().cloned().unwrap_or(Scheme::HTTP),
            authority: cfg
                .url
                .authority()
                .cloned()
                .expect("validated: upstream.url has a host"),
            response_timeout: cfg.response_timeout,
        })
    }

    /// The upstream authority, for `Host` when `preserve_host = false`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Sends `req` (headers already rewritten) to `path`. `upgrade` is the
    /// client's WebSocket handshake, if it made one (upgrade.rs); only a 101
    /// that completes it gets both sides joined. A 101 otherwise is a
    /// storefront switching protocols unasked: refused (502), never spliced.
    pub async fn send(
        &self,
        mut req: Request<Incoming>,
        path: PathAndQuery,
        upgrade: Option<&WebSocket>,
    ) -> Result<(Response<Incoming>, Duration), GatewayError> {
        *req.uri_mut() = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|_| GatewayError::BadTarget)?;
        // HTTP/2 clients reach HTTP/1.1 upstreams.
        *req.version_mut() = Version::HTTP_11;
        let client_upgrade = upgrade.map(|ws| (ws, hyper::upgrade::on(&mut req)));
        let replay = upgrade.is_none().then(|| Replay::of(&req)).flatten();
        let (parts, body) = req.into_parts();
        let pace = BodyPace::of(&parts.extensions);
        let req = Request::from_parts(parts, Either::Left(Paced::new(body, pace)));
        let started = Instant::now();
        let attempts = async {
            match self.client.request(req).await {
                Err(e) if replay.is_some() && is_stale_connection(&e) => {
                    tracing::debug!(error = %e, "pooled upstream connection was closed; sending again on a new one");
                    let again = replay.expect("checked").into_request();
                    self.fresh.request(again).await
                }
                result => result,
            }
        };
        let mut resp = match tokio::time::timeout(self.response_timeout, attempts).await {
            Err(_) => return Err(GatewayError::UpstreamTimeout),
            Ok(Err(e)) => return Err(failure(e)),
            Ok(Ok(resp)) => resp,
        };
        let took = started.elapsed();
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            match client_upgrade {
                Some((ws, client_side)) if ws.accepted_by(resp.headers()) => {
                    let upstream_side = hyper::upgrade::on(&mut resp);
                    tokio::spawn(tunnel(client_side, upstream_side));
                }
                _ => {
                    tracing::warn!("upstream switched protocols without completing a WebSocket handshake we sent; refused");
                    return Err(GatewayError::UpstreamProtocol);
                }
            }
        }
        Ok((resp, took))
    }
}

impl Upstream {
    /// Sends a held request (own/held.rs; headers already rewritten) to
    /// `path`, once: it is not safe, so it is never sent again, not even
    /// on a connection found stale (RFC 9110 §9.2.2).
    pub async fn send_held(
        &self,
        req: Request<Bytes>,
        path: PathAndQuery,
    ) -> Result<(Response<Incoming>, Duration), GatewayError> {
        let (mut parts, body) = req.into_parts();
        parts.uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|_| GatewayError::BadTarget)?;
        parts.version = Version::HTTP_11;
        let req = Request::from_parts(parts, Either::Right(Full::new(body)));
        let started = Instant::now();
        match tokio::time::timeout(self.response_timeout, self.client.request(req)).await {
            Err(_) => Err(GatewayError::UpstreamTimeout),
            Ok(Err(e)) => Err(failure(e)),
            Ok(Ok(resp)) => Ok((resp, started.elapsed())),
        }
    }
}

static CONNECT_FAILED: LogLimit = LogLimit::per_second();
static REQUEST_FAILED: LogLimit = LogLimit::per_second();

/// The answer to a failed upstream request. During an outage every request
/// fails the same way: one WARN per second per kind, with a count.
fn failure(e: hyper_util::client::legacy::Error) -> GatewayError {
    if crate::body::is_too_slow(&e) {
        return GatewayError::BodyTimeout;
    }
    if e.is_connect() {
        if let Some(suppressed) = CONNECT_FAILED.check() {
            tracing::warn!(error = %e, suppressed, "upstream connect failed");
        }
        return if is_timeout(&e) {
            GatewayError::UpstreamTimeout
        } else {
            GatewayError::UpstreamConnect
        };
    }
    if let Some(suppressed) = REQUEST_FAILED.check() {
        tracing::warn!(error = %e, suppressed, "upstream request failed");
    }
    GatewayError::UpstreamProtocol
}

/// A request that may be sent again: safe (RFC 9110 §9.2.1: GET, HEAD,
/// OPTIONS, TRACE, so a second copy changes nothing even if the first was
/// processed) and without a body (nothing of the client's was consumed).
/// Anything else that may have reached the storefront is never repeated;
/// RFC 9110 §9.2.2 forbids a proxy to retry non-idempotent requests.
struct Replay {
    method: Method,
    uri: Uri,
    headers: http::HeaderMap,
}

impl Replay {
    fn of(req: &Request<Incoming>) -> Option<Replay> {
        let safe = matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        (safe && req.body().is_end_stream()).then(|| Replay {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
        })
    }

    fn into_request(self) -> Request<UpstreamBody> {
        let mut req = Request::new(Either::Right(Full::new(Bytes::new())));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = self.headers;
        req
    }
}

/// The storefront closed a kept-alive connection just as the request went
/// out (it closes idle connections without `Connection: close`): the
/// connection ended, or was reset, before a byte of the answer came back.
/// Not a refused connection (the storefront is down: a retry only doubles
/// the wait) and not a timeout.
fn is_stale_connection(e: &hyper_util::client::legacy::Error) -> bool {
    if e.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() {
                return true;
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        source = s.source();
    }
    false
}

fn is_timeout(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.to_string().contains("timed out") {
            return true;
        }
        source = s.source();
    }
    false
}

/// Joins the two upgraded connections until either side closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (Ok(client), Ok(upstream)) = (client.await, upstream.await) else {
        tracing::debug!("upgrade abandoned before both sides switched");
        return;
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "upgraded connection ended");
    }
}

thread_local! {
    /// Which worker thread this is; picks that worker's connection pool.
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as worker `index` (server.rs).
pub fn set_worker(index: usize) {
    WORKER.with(|w| w.set(index));
}

/// One pooled client per worker thread, so pooled connections are always
/// driven by the thread that uses them.
pub struct Upstreams(Vec<Upstream>);

impl Upstreams {
    pub fn new(cfg: &UpstreamConfig, workers: usize) -> Result<Self, UpstreamSetupError> {
        (0..workers.max(1))
            .map(|_| Upstream::new(cfg))
            .collect::<Result<_, _>>()
            .map(Upstreams)
    }

    /// This thread's pool.
    pub fn local(&self) -> &Upstream {
        &self.0[WORKER.with(|w| w.get()) % self.0.len()]
    }

    // Never empty: one pool per worker, at least one worker.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
