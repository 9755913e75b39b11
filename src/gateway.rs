//! The request path. Every request goes through [`Gateway::handle`], whose
//! phases read top-down:
//!
//! 1. **target**: check the host (host.rs), parse and normalize the path
//!    once; refuse what cannot be normalized safely (400). Everything below
//!    sees only this view.
//! 2. **own**: `/.otpgate/*` is answered by own.rs, never forwarded.
//! 3. **decide**: the longest matching `[[route]]`; for `require = "otp"`
//!    a fresh-enough session or a 302/401 to the login page; a POST, PUT
//!    or PATCH is held instead (own/held.rs) and, after the code, sent by
//!    gateway/replay.rs. A `confirm = "transaction"` route takes no
//!    session at all: every request is held, its code bound to it
//!    (own/confirm.rs).
//! 4. **forward** (gateway/forward.rs): rewrite headers at the trust
//!    boundary, upgrade only a WebSocket handshake, and stream the request
//!    to the storefront, and its answer back (upstream.rs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, ACCEPT, HOST};
use http::{Request, Response, Version};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::body::{AccessLog, Body};
use crate::clock::Clock;
use crate::config::Config;
pub use crate::conn::ConnInfo;
use crate::conn::TrustedProxies;
use crate::errors::{Answer, GatewayError};
use crate::flow::{FlowConfig, FlowCtx};
use crate::headers;
use crate::metrics::{Metrics, RouteKind};
use crate::normalize::{normalize_path, NormalizedPath};
use crate::own::Own;
use crate::pages::LangHint;
use crate::policy::{self, Policy};
use crate::session::CookieSealer;
use crate::sessions::Sessions;
use crate::sms::Delivery;
use crate::store::Store;
use crate::upstream::Upstreams;

mod base;
mod forward;
mod replay;

/// Everything a request may need, built from one configuration (at
/// start-up and at each reload, server/live.rs).
pub struct Gateway {
    pub cfg: Config,
    policy: Arc<Policy>,
    upstream: Upstreams,
    sessions: Sessions,
    trusted: TrustedProxies,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The `/.otpgate/*` endpoints' state (own/state.rs).
    own: Own,
}

/// What the access line and metrics learn while routing.
struct Facts {
    kind: RouteKind,
    path: String,
    upstream: Option<Duration>,
    /// The access log is on: only then is the path copied for it.
    logging: bool,
}

pub struct Parts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sms: Arc<Delivery>,
    pub channels: Arc<crate::sms::ChannelSet>,
    pub metrics: Arc<Metrics>,
    /// The store epoch this instance saw last: one per instance, shared by
    /// every configuration a reload swaps in.
    pub epoch: Arc<crate::store::EpochWatch>,
}

impl Gateway {
    pub fn new(cfg: Config, parts: Parts) -> Result<Self, crate::upstream::UpstreamSetupError> {
        let secret = cfg.session.secrets[0].expose().as_bytes().to_vec();
        let policy = Arc::new(Policy::new(cfg.routes.clone()));
        let cookies = Arc::new(CookieSealer::new(&cfg.session));
        let sessions = Sessions::new(
            cookies.clone(),
            parts.store.clone(),
            parts.clock.clone(),
            parts.metrics.clone(),
            parts.epoch,
        );
        let flow = FlowCtx {
            cfg: FlowConfig::of(&cfg),
            store: parts.store.clone(),
            clock: parts.clock.clone(),
            sms: parts.sms,
            channels: parts.channels,
            metrics: parts.metrics.clone(),
            otp_key: crate::otp::derive_key(&secret, "otp-hash"),
            code_key: crate::otp::derive_key(&secret, "otp-code-seal"),
            sessions: sessions.clone(),
            phone_tags: crate::audit::PhoneTags::new(crate::otp::derive_key(
                &secret,
                "audit-phone-key",
            )),
        };
        let own = Own::new(
            &cfg,
            flow,
            sessions.clone(),
            cookies,
            policy.clone(),
            crate::otp::derive_key(&secret, "csrf"),
        );
        Ok(Gateway {
            policy,
            upstream: Upstreams::new(&cfg.upstream, cfg.server.workers)?,
            sessions,
            trusted: TrustedProxies::new(&cfg.server.trusted_proxies),
            store: parts.store,
            clock: parts.clock,
            metrics: parts.metrics,
            own,
            cfg,
        })
    }

    /// Whether `peer` is one of `server.trusted_proxies` (conn.rs).
    pub fn trusted(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// Looks at the store's epoch every second until shutdown, so a loss
    /// is noticed without traffic (sessions.rs).
    pub fn spawn_epoch_check(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        crate::sessions::spawn_epoch_check(self.sessions.clone(), shutdown)
    }

    /// Counts `expired` for sends whose challenge ended while no request
    /// ran the flow, and lets idle providers' p95 gauges age (flow/measure.rs).
    pub async fn sweep_deliveries(&self) {
        crate::flow::sweep_deliveries(&self.own.flow).await;
    }

    /// The readiness and start-up look at the store's epoch (sessions.rs).
    pub async fn check_store_epoch(&self) -> Result<(), crate::store::StoreError> {
        self.sessions.check_store_epoch().await
    }

    /// Worker threads serving connections (one per upstream pool).
    pub fn workers(&self) -> usize {
        self.upstream.len()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub async fn handle(self: Arc<Self>, req: Request<Incoming>, conn: ConnInfo) -> Response<Body> {
        let logging = tracing::enabled!(target: "otpgate::access", tracing::Level::INFO);
        let started = logging.then(Instant::now);
        let client = logging.then(|| self.trusted.client_ip(req.headers(), conn));
        let request_id = request_id(&req);
        let method = req.method().clone();
        let json = wants_json(&req);
        let navigation = is_navigation(&req);
        let hint = LangHint::of(req.headers());
        let mut facts = Facts {
            kind: RouteKind::Refused,
            path: String::new(),
            upstream: None,
            logging,
        };
        let mut resp = match self.route(req, conn, request_id.clone(), &mut facts).await {
            Ok(resp) => resp,
            Err(e @ GatewayError::OtpRequired { .. }) => {
                e.into_response(Answer::new(!navigation, &self.own.pages, &hint))
            }
            Err(e) => {
                tracing::debug!(error = %e, "answered by otpgate");
                e.into_response(Answer::new(json, &self.own.pages, &hint))
            }
        };
        if method == http::Method::HEAD {
            resp = without_body(resp);
        }
        let status = resp.status();
        self.metrics.request(facts.kind, status.as_u16());
        resp.headers_mut()
            .entry(&headers::X_REQUEST_ID)
            .or_insert_with(|| request_id.clone());
        if !logging {
            return resp;
        }
        let log = AccessLog {
            request_id: request_id.to_str().unwrap_or_default().to_string(),
            client: client.unwrap_or(conn.peer.ip()),
            method,
            path: facts.path,
            status: status.as_u16(),
            started: started.unwrap_or_else(Instant::now),
            upstream: facts.upstream,
            bytes: 0,
            complete: false,
            aborted: false,
        };
        let (parts, body) = resp.into_parts();
        Response::from_parts(parts, body.with_log(log))
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: HeaderValue,
        facts: &mut Facts,
    ) -> Result<Response<Body>, GatewayError> {
        // 1. target
        let path = self.target(&req)?;
        if facts.logging {
            facts.path.push_str(path.forward());
        }
        // 2. own
        if policy::is_own(path.match_key()) {
            facts.kind = RouteKind::Own;
            let (span, facts) = audit_scope(&req, &request_id, &path);
            // Boxed: the flow's future is large and rare; inline, it would
            // make every forwarded request's future (and its moves) larger.
            let json = wants_json(&req);
            let own = crate::own::handle(&self.own, req, conn, &path).instrument(span.clone());
            let resp = Box::pin(crate::audit::REQUEST.scope(facts.clone(), own)).await?;
            let (mut parts, body) = resp.into_parts();
            // A verify that claimed a held request: the storefront answers.
            let Some(replay) = parts.extensions.remove::<crate::own::Replay>() else {
                return Ok(Response::from_parts(parts, body));
            };
            let fallback = Response::from_parts(parts, ());
            let replayed = self.replay(fallback, replay, conn, request_id, json);
            return Ok(
                Box::pin(crate::audit::REQUEST.scope(facts, replayed.instrument(span))).await,
            );
        }
        // 3. decide
        let session = self.sessions.of(req.headers()).await;
        match self.policy.rule_for(req.method(), path.match_key()) {
            Some(rule) => {
                // A transaction route never accepts a session, however
                // fresh: each request is held and needs its own code.
                if rule.is_transaction() || !self.sessions.fresh(session.as_ref(), rule.max_age) {
                    facts.kind = RouteKind::Challenged;
                    if crate::own::holds(&self.own, req.method()) {
                        let target = target_of(&path, req.uri().query());
                        // Its audit events (held, hold_refused) name the
                        // request, as the flow's do.
                        let (span, audit) = audit_scope(&req, &request_id, &path);
                        let held = crate::own::hold(&self.own, req, target, conn, rule);
                        let held = crate::audit::REQUEST.scope(audit, held.instrument(span));
                        return Box::pin(held).await;
                    }
                    return Err(GatewayError::OtpRequired {
                        login_url: login_url(&path, req.uri().query()),
                    });
                }
                facts.kind = RouteKind::Protected;
            }
            None => facts.kind = RouteKind::Pass,
        }
        // 4. forward
        let (resp, took) = self
            .forward(req, conn, request_id, &path, session.as_ref())
            .await?;
        facts.upstream = Some(took);
        self.metrics.upstream_seconds.observe(took.as_secs_f64());
        Ok(resp)
    }

    /// The normalized path of the request target (phase 1).
    fn target<B>(&self, req: &Request<B>) -> Result<NormalizedPath, GatewayError> {
        crate::host::check(req)?;
        // otpgate is not a forward proxy: a `CONNECT` tunnel (RFC 9110
        // §9.3.6) would bypass every per-request check, like an upgrade.
        if req.method() == http::Method::CONNECT {
            return Err(GatewayError::BadTarget);
        }
        let uri = req.uri();
        if req.version() <= Version::HTTP_11 {
            if let Some(authority) = uri.authority() {
                // Absolute-form (RFC 9112 §3.2.2): only for this site.
                let host_header = req.headers().get(HOST).and_then(|h| h.to_str().ok());
                let same_as_host =
                    host_header.is_some_and(|h| h.eq_ignore_ascii_case(authority.as_str()));
                let ours = self.cfg.server.public_host.as_deref().is_none_or(|p| {
                    let public = http::uri::Authority::try_from(p)
                        .map_or(p.to_string(), |a| a.host().to_string());
                    authority
                        .host()
                        .trim_end_matches('.')
                        .eq_ignore_ascii_case(&public)
                });
                if !same_as_host || !ours {
                    return Err(GatewayError::ForeignAuthority);
                }
            } else if req.version() == Version::HTTP_11 && !req.headers().contains_key(HOST) {
                return Err(GatewayError::BadTarget);
            }
        }
        if uri.path() == "*" {
            return Err(GatewayError::BadTarget);
        }
        Ok(normalize_path(uri.path())?)
    }
}

/// A `HEAD` answer keeps its headers and length but sends no body (RFC 9110
/// §9.3.2). hyper drops the body of a `HEAD` answer over HTTP/1.1 but sends
/// it over HTTP/2, where DATA on a `HEAD` stream is a protocol error.
fn without_body(resp: Response<Body>) -> Response<Body> {
    use hyper::body::Body as _;
    let (mut parts, body) = resp.into_parts();
    // An upstream's HEAD body is already empty: its own length is kept.
    if let Some(len) = body.size_hint().exact().filter(|n| *n > 0) {
        parts
            .headers
            .entry(http::header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    Response::from_parts(parts, Body::empty())
}

/// The span and task facts audit events inherit (audit.rs): the
/// request's id, route and user agent.
fn audit_scope<B>(
    req: &Request<B>,
    request_id: &HeaderValue,
    path: &NormalizedPath,
) -> (tracing::Span, crate::audit::RequestFacts) {
    let ua = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let rid = request_id.to_str().unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %rid, user_agent = %ua, route = %path.forward());
    let facts = crate::audit::RequestFacts {
        request_id: rid.to_string(),
        route: path.forward().to_string(),
        user_agent: ua,
    };
    (span, facts)
}

/// The path that was decided on, with the query: what is forwarded.
fn target_of(path: &NormalizedPath, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{}?{q}", path.forward()),
        None => path.forward().to_string(),
    }
}

/// `/.otpgate/login?rd=…` for the path that was decided on.
fn login_url(path: &NormalizedPath, query: Option<&str>) -> String {
    crate::redirect::login_url(&target_of(path, query))
}

fn request_id<B>(req: &Request<B>) -> HeaderValue {
    match req.headers().get(&headers::X_REQUEST_ID) {
        Some(v) if headers::sane_request_id(v) => v.clone(),
        _ => {
            let id = format!("{:032x}", rand::random::<u128>());
            HeaderValue::from_maybe_shared(bytes::Bytes::from(id))
                .expect("hex is a valid header value")
        }
    }
}

fn header_has(
    req: &Request<impl Sized>,
    name: impl http::header::AsHeaderName,
    needle: &str,
) -> bool {
    // Case-insensitive search without lower-casing a copy: this runs for
    // every request.
    let needle = needle.as_bytes();
    req.headers().get(name).is_some_and(|v| {
        v.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    })
}

static SEC_FETCH_MODE: http::HeaderName = http::HeaderName::from_static("sec-fetch-mode");
static X_REQUESTED_WITH: http::HeaderName = http::HeaderName::from_static("x-requested-with");

/// A top-level browser navigation (gets a 302 to the login page).
pub fn is_navigation<B>(req: &Request<B>) -> bool {
    let safe = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
    let fetch_mode = req
        .headers()
        .get(&SEC_FETCH_MODE)
        .and_then(|v| v.to_str().ok());
    let xhr = req.headers().contains_key(&X_REQUESTED_WITH);
    safe && !xhr
        && match fetch_mode {
            Some(mode) => mode.eq_ignore_ascii_case("navigate"),
            None => header_has(req, ACCEPT, "text/html"),
        }
}

/// Whether error answers should be JSON rather than a page.
pub fn wants_json<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(&X_REQUESTED_WITH)
        || (header_has(req, ACCEPT, "json") && !header_has(req, ACCEPT, "text/html"))
}
