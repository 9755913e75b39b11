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

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, REFERER};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

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

/// Sent from a page of this site. A cross-site request is never held:
/// the replay carries the browser's cookies at verify time, so holding a
/// form another site auto-submitted would turn the shopper's code into
/// that site's order (cross-site request forgery past a storefront that
/// relies on `SameSite` cookies). Browsers send `Sec-Fetch-Site` (W3C
/// Fetch Metadata) or at least `Origin` on every POST (RFC 6454 §7,
/// Fetch); a client that sends neither (a script, an old browser) is
/// judged by `Referer`, and without any of them is not held.
fn same_origin(h: &HeaderMap, host: Option<&str>) -> bool {
    let text = |name| {
        h.get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    let Some(host) = host else {
        return false;
    };
    if let Some(origin) = text("origin") {
        return origin
            .strip_prefix("https://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
    }
    came_from(h, Some(host)).is_some()
}

/// The host the client named: `Host`, or HTTP/2's `:authority` (RFC 9113
/// §8.3.1), both checked by host.rs in phase 1.
fn host_of<B>(req: &Request<B>) -> Option<String> {
    match req.headers().get(HOST) {
        Some(h) => h.to_str().ok().map(str::to_string),
        None => req.uri().authority().map(|a| a.as_str().to_string()),
    }
}

/// Phase 3 for a request [`holds`] says to keep. `target` is the path and
/// query as they would be forwarded.
pub async fn hold(
    own: &Own,
    req: Request<Incoming>,
    target: String,
    conn: ConnInfo,
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
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(refused());
    }
    let body = crate::body::Paced::new(body, crate::body::BodyPace::of(&parts.extensions));
    let body: Bytes = match Limited::new(body, max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(refused()),
        Err(e) if crate::body::is_too_slow(&*e) => return Err(GatewayError::BodyTimeout),
        Err(_) => return Err(GatewayError::BadBody),
    };
    let held = HeldRequest {
        method: parts.method.clone(),
        target: target.clone(),
        content_type: parts.headers.get(CONTENT_TYPE).cloned(),
        body,
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
    let (challenge_id, phone) = before.map_or_else(Default::default, |p| (p.challenge_id, p.phone));
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

/// A form submitted by a browser (a navigation), not a script's fetch:
/// `Sec-Fetch-Mode: navigate` where the browser sends fetch metadata,
/// else an HTML `Accept` without `X-Requested-With`.
fn submitted_by_browser(h: &HeaderMap) -> bool {
    if h.contains_key("x-requested-with") {
        return false;
    }
    let has = |name, needle: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(needle))
    };
    match h.get("sec-fetch-mode").and_then(|v| v.to_str().ok()) {
        Some(mode) => mode.eq_ignore_ascii_case("navigate"),
        None => has(http::header::ACCEPT, "text/html"),
    }
}

/// The storefront page the shopper submitted from (same host only): where
/// they go back to if, after the code, nothing is left to send.
fn came_from(h: &HeaderMap, host: Option<&str>) -> Option<String> {
    let referer: http::Uri = h.get(REFERER)?.to_str().ok()?.parse().ok()?;
    let host = host?;
    let same = referer
        .authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host));
    let pq = referer.path_and_query()?.as_str();
    same.then(|| safe_rd(Some(pq)))
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
    let (challenge_id, phone) =
        crate::flow::start(&own.flow, number, lang, conn, client_ip).await?;
    let before = Pending::of(&own.cookies, headers);
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
/// store (once, atomically) and opens it.
pub async fn claim(
    own: &Own,
    pending: &Pending,
    verify: &http::request::Parts,
    session: &Session,
    conn: ConnInfo,
) -> Option<Replay> {
    let at = pending.held.as_deref()?;
    let now = own.flow.clock.now_ms();
    let sealed = own.flow.store.claim_held(at, now).await;
    let Some(request) = sealed.ok().flatten().and_then(|s| own.sealer.open(&s)) else {
        expired(own, conn, Some(&session.phone));
        return None;
    };
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

#[cfg(test)]
mod tests {
    use super::{came_from, same_origin, submitted_by_browser};
    use http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_form_submission_is_told_apart_from_a_script() {
        assert!(submitted_by_browser(&headers(&[(
            "sec-fetch-mode",
            "navigate"
        )])));
        assert!(submitted_by_browser(&headers(&[(
            "accept",
            "text/html,*/*"
        )])));
        for script in [
            &[("sec-fetch-mode", "cors"), ("accept", "text/html")][..],
            &[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ],
            &[("accept", "application/json")],
            &[],
        ] {
            assert!(!submitted_by_browser(&headers(script)), "{script:?}");
        }
    }

    #[test]
    fn only_a_request_from_this_site_is_held() {
        let host = ("host", "shop.example");
        for ok in [
            &[host, ("sec-fetch-site", "same-origin")][..],
            &[host, ("origin", "https://shop.example")],
            &[host, ("referer", "https://shop.example/cart")],
        ] {
            assert!(same_origin(&headers(ok), Some("shop.example")), "{ok:?}");
        }
        for forged in [
            &[
                host,
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://shop.example"),
            ][..],
            &[host, ("sec-fetch-site", "same-site")],
            &[host, ("sec-fetch-site", "none")],
            &[host, ("origin", "https://evil.example")],
            &[host, ("origin", "null")],
            &[host, ("origin", "http://shop.example")],
            &[host, ("origin", "https://shop.example.evil.example")],
            &[host, ("referer", "https://evil.example/shop.example")],
            &[host],
        ] {
            assert!(
                !same_origin(&headers(forged), Some("shop.example")),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn the_page_it_came_from_is_a_local_path_of_this_host() {
        let at = |r: &'static str| came_from(&headers(&[("referer", r)]), Some("shop.example"));
        assert_eq!(
            at("https://shop.example/cart?x=1").as_deref(),
            Some("/cart?x=1")
        );
        assert_eq!(at("https://SHOP.example/cart").as_deref(), Some("/cart"));
        assert_eq!(at("https://evil.example/cart"), None);
        assert_eq!(
            at("https://shop.example//evil.example").as_deref(),
            Some("/")
        );
        assert_eq!(came_from(&HeaderMap::new(), Some("shop.example")), None);
        assert_eq!(
            came_from(&headers(&[("referer", "https://shop.example/")]), None),
            None
        );
    }
}
