//! The held request (SPEC "Checkout integrity"): a protected `POST`, `PUT`
//! or `PATCH` that arrives without a fresh-enough session is kept, not
//! lost, and sent to the storefront exactly once after the right code.
//!
//! Its life, in the store (memory or Redis alike), always sealed
//! (sealed.rs):
//! 1. **held** ([`hold`]): the body is read with a cap (`[hold] max_body`;
//!    larger: 413, nothing forwarded), sealed, and stored under a fresh
//!    random hold id for `otp.ttl`. The challenge does not exist yet, so
//!    the browser's pending cookie (sealed, pending.rs) names the hold id.
//! 2. **attached** ([`attach`]): when the code is sent, the held request
//!    lives `otp.ttl` from then, as the code does; a resend extends both
//!    ([`extend`]). It keeps its hold id (one key, one Redis Cluster slot);
//!    the pending cookie names it beside the challenge. A new challenge
//!    for the same browser (another number) takes it over.
//! 3. **claimed** ([`claim`]): after the right code, one atomic take from
//!    the store (memory: the map entry removed; Redis: one script). The
//!    code itself works once, and the claim is a second, independent
//!    guard: a double submit, a reload, the back button, another instance
//!    or another browser with a copy of the pending cookie finds nothing.
//!    The gateway then sends it as the verified shopper (gateway/replay.rs).
//!
//! Only the sealed pending cookie names where a held request is, so only
//! the browser that made it can have it sent, and only with its own code.

use bytes::{Buf, Bytes};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::confirm::{confirming, transaction_of};
use super::origin::{came_from, host_of, same_origin, submitted_by_browser};
use super::pending::Pending;
use super::reply;
use super::sealed::HeldRequest;
use super::state::Own;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::redirect::{login_url, safe_rd};
use crate::session::{random_id, Session};

/// What the verify answer carries to the gateway (in its extensions): the
/// claimed request, the verify request's headers (the same browser, so
/// its current cookies for the storefront) and the new session.
#[derive(Clone)]
pub struct Replay {
    pub request: HeldRequest,
    pub headers: HeaderMap,
    pub session: Session,
}

/// Whether a protected request without a session is held: `[hold]
/// enabled`, a method that carries what the shopper submitted, and sent
/// from this site's own page ([`same_origin`]).
pub fn holds(own: &Own, method: &Method) -> bool {
    own.hold.enabled && matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The most of a refused body read (and dropped) before the 413.
const DRAIN_MAX: u64 = 1024 * 1024;

/// Reads and drops what is left of a body refused as too large, up to
/// [`DRAIN_MAX`] bytes and within the slow-client bounds (`Paced`), so a
/// browser still uploading reads the 413 page instead of a reset
/// connection (what nginx's lingering close does). A larger body is not
/// read at all: the connection closes after the answer, as before.
async fn drain<B>(body: &mut B, declared: Option<u64>)
where
    B: hyper::body::Body + Unpin,
{
    if declared.is_some_and(|n| n > DRAIN_MAX) {
        return;
    }
    let mut read = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        read += frame.data_ref().map_or(0, |d| d.remaining() as u64);
        if read > DRAIN_MAX {
            return;
        }
    }
}

/// Phase 3 for a request [`holds`] says to keep. `target` is the path and
/// query as they would be forwarded; `rule` is the route that asked for a
/// code (a transaction route reads the amount here: confirm.rs).
pub async fn hold(
    own: &Own,
    req: Request<Incoming>,
    target: String,
    conn: ConnInfo,
    rule: &crate::config::RouteRule,
) -> Result<Response<Body>, GatewayError> {
    let max_body = own.hold.max_body;
    let host = host_of(&req);
    if !same_origin(req.headers(), host.as_deref()) {
        own.flow.metrics.held("refused");
        audit::hold_refused("cross_site", &target, conn);
        return Err(GatewayError::OtpRequired {
            login_url: login_url(&safe_rd(Some(&target))),
        });
    }
    let (parts, body) = req.into_parts();
    let refused = || {
        own.flow.metrics.held("refused");
        audit::hold_refused("too_large", &target, conn);
        GatewayError::HeldTooLarge { max_body }
    };
    // A declared length over the cap is refused before a byte is read.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = crate::body::Paced::new(body, crate::body::BodyPace::of(&parts.extensions));
    if declared.is_some_and(|n| n > max_body as u64) {
        drain(&mut body, declared).await;
        return Err(refused());
    }
    let body: Bytes = match Limited::new(&mut body, max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            drain(&mut body, declared).await;
            return Err(refused());
        }
        Err(e) if crate::body::is_too_slow(&*e) => return Err(GatewayError::BodyTimeout),
        Err(_) => return Err(GatewayError::BadBody),
    };
    // Before anything is kept or texted: a code is never sent for an
    // amount nobody can be shown.
    let content_type = parts.headers.get(CONTENT_TYPE).cloned();
    let transaction =
        transaction_of(rule, content_type.as_ref(), &body, &target).map_err(|problem| {
            own.flow.metrics.held("refused");
            audit::hold_refused(problem.reason(), &target, conn);
            GatewayError::BadAmount(problem)
        })?;
    let held = HeldRequest {
        method: parts.method.clone(),
        target: target.clone(),
        content_type,
        body,
        transaction,
    };
    let hold_id = random_id();
    let now = own.flow.clock.now_ms();
    let ttl = own.flow.cfg.otp.ttl;
    own.flow
        .store
        .hold(&hold_id, own.sealer.seal(&held), ttl, now)
        .await
        .map_err(|_| GatewayError::Internal)?;
    // A browser mid-flow keeps its challenge; its newest submit is the one
    // it means, so an earlier held request is dropped.
    let before = Pending::of(&own.cookies, &parts.headers);
    if let Some(old) = before.as_ref().and_then(|p| p.held.as_deref()) {
        let _ = own.flow.store.claim_held(old, now).await;
    }
    let rd = came_from(&parts.headers, host.as_deref()).unwrap_or_else(|| safe_rd(Some(&target)));
    let (mut challenge_id, phone) =
        before.map_or_else(Default::default, |p| (p.challenge_id, p.phone));
    if held.transaction.is_some() {
        // A transaction needs a code of its own, texted for it with its
        // amount: a code the browser was already sent is for something else.
        challenge_id.clear();
    }
    let pending = Pending {
        challenge_id,
        held: Some(hold_id),
        rd,
        phone,
    };
    own.flow.metrics.held("held");
    audit::hold("held", &target, None, conn);
    let cookie = pending.cookie(&own.cookies, ttl.as_secs());
    let login = login_url(&pending.rd);
    if submitted_by_browser(&parts.headers) {
        // 303: the browser follows with a GET (RFC 9110 §15.4.4), never
        // re-posting the body to the login page.
        return Ok(reply::see_other(&login, &[cookie]));
    }
    let body = json!({
        "error": "otp_required",
        "message": GatewayError::OtpRequired { login_url: String::new() }.to_string(),
        "login_url": login,
        "held": true,
    });
    Ok(reply::json(StatusCode::UNAUTHORIZED, body, &[cookie]))
}

/// When a code is sent: the browser's held request (if any) now lives
/// as long as the code, `otp.ttl` from now. Returns its id, or `None` when
/// it is gone.
pub async fn attach(own: &Own, before: Option<&Pending>, conn: ConnInfo) -> Option<String> {
    let id = before?.held.as_deref()?;
    let now = own.flow.clock.now_ms();
    let ttl = own.flow.cfg.otp.ttl;
    match own.flow.store.extend_held(id, ttl, now).await {
        Ok(true) => Some(id.to_string()),
        Ok(false) | Err(_) => {
            expired(own, conn, None);
            None
        }
    }
}

/// What a send asks for: the number, the SMS language, where to go after,
/// and the browser's proof-of-work (own/pow.rs).
pub struct SendRequest<'a> {
    pub number: &'a str,
    pub lang: &'a str,
    pub rd: String,
    /// The browser's cookie a challenge is bound to.
    pub browser: &'a str,
    pub pow: Option<crate::pow::Solution>,
}

/// Texts a code to `number` (the form and the JSON API alike), once a
/// risky send has paid its proof-of-work, and returns the browser's new
/// pending state: the challenge, the return path, and the held request
/// carried over from the state it had.
pub async fn start(
    own: &Own,
    headers: &HeaderMap,
    send: SendRequest<'_>,
    conn: ConnInfo,
) -> Result<Pending, crate::flow::FlowError> {
    let SendRequest {
        number,
        lang,
        rd,
        browser,
        pow,
    } = send;
    super::pow::gate(own, headers, number, browser, conn, pow.as_ref()).await?;
    let client_ip = own.trusted.client_ip(headers, conn);
    let before = Pending::of(&own.cookies, headers);
    // A transaction's code is bound to it and its SMS shows the amount.
    let confirm = confirming(own, before.as_ref()).await;
    let (challenge_id, phone) =
        crate::flow::start(&own.flow, number, lang, conn, client_ip, confirm.as_ref()).await?;
    let held = attach(own, before.as_ref(), conn).await;
    Ok(Pending {
        challenge_id,
        held,
        rd,
        phone: phone.e164().to_string(),
    })
}

/// A resend gives the code `otp.ttl` more: the held request too.
pub async fn extend(own: &Own, pending: &Pending) {
    if let Some(id) = &pending.held {
        let now = own.flow.clock.now_ms();
        let _ = own
            .flow
            .store
            .extend_held(id, own.flow.cfg.otp.ttl, now)
            .await;
    }
}

/// After the right code: takes the browser's held request out of the
/// store (once, atomically) and opens it. `confirmed` is what the code was
/// checked against (confirm.rs): a transaction is sent only if it is the
/// very request the code was bound to.
pub async fn claim(
    own: &Own,
    pending: &Pending,
    verify: &http::request::Parts,
    session: &Session,
    conn: ConnInfo,
    confirmed: Option<&crate::otp::Confirm>,
) -> Option<Replay> {
    let at = pending.held.as_deref()?;
    let now = own.flow.clock.now_ms();
    let sealed = own.flow.store.claim_held(at, now).await;
    let Some(request) = sealed.ok().flatten().and_then(|s| own.sealer.open(&s)) else {
        expired(own, conn, Some(&session.phone));
        return None;
    };
    let bound = confirmed.map(|c| c.digest);
    if (request.transaction.is_some() || bound.is_some()) && bound != Some(request.digest()) {
        // Only reachable if the store's value changed between the check
        // and the claim: spent, never sent.
        own.flow.metrics.held("refused");
        audit::hold_refused("not_confirmed", &request.target, conn);
        return None;
    }
    let mut headers = verify.headers.clone();
    // HTTP/2 names the host in `:authority`, not `Host` (RFC 9113
    // §8.3.1): the replay is an HTTP/1.1 request built from headers alone.
    if let (false, Some(a)) = (headers.contains_key(HOST), verify.uri.authority()) {
        if let Ok(v) = http::HeaderValue::from_str(a.as_str()) {
            headers.insert(HOST, v);
        }
    }
    Some(Replay {
        request,
        headers,
        session: session.clone(),
    })
}

fn expired(own: &Own, conn: ConnInfo, phone: Option<&str>) {
    own.flow.metrics.held("expired");
    audit::hold("hold_expired", "", phone, conn);
}
