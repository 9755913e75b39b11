//! `GET /.otpgate/auth` for nginx `auth_request` and Traefik/Caddy forward
//! auth. The original request comes from one header family — nginx's
//! `X-Original-URI` / `X-Original-Method` or Traefik/Caddy's
//! `X-Forwarded-Uri` / `X-Forwarded-Method` — and only from
//! `server.trusted_proxies` (oauth2-proxy CVE-2026-40575). Traefik and Caddy
//! copy the client's own headers into the auth request, so the families
//! must agree, each header must appear once, and the method must parse:
//! anything else is 401. Every answer is 200 or 401, never 2xx on error
//! (Authelia CVE-2021-32637).
//!
//! otpgate cannot rewrite what the storefront receives here: the proxy
//! forwards the *raw* target. A target already in canonical form is judged
//! once. Any other (`;params`, dot segments, `%2e`, `%252e`, `//`, trailing
//! dots…) is judged by the strictest rule that any plausible reading of
//! it hits (readings.rs), so `/checkout/..;/order-42` needs the `/checkout`
//! session even though it normalizes to `/order-42`. What cannot be
//! normalized at all (encoded `/` or `\`, `%00`, `..` above the root) is
//! refused, as before.

use http::header::{HeaderValue, LOCATION};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::state::Own;
use crate::body::Body;
use crate::config::RouteRule;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::headers;
use crate::normalize::normalize_path;
use crate::policy::{is_own, Policy};
use crate::redirect::{login_url, safe_rd, LOGIN};

mod readings;

/// What the proxy says the original request was.
enum Original {
    /// No proxy headers (or an untrusted peer): the strictest rule applies.
    Unknown,
    Request {
        target: String,
        method: Option<Method>,
    },
    /// Contradictory, repeated or malformed: refuse.
    Invalid,
}

/// The single value of `name`: `Err` when it is repeated or not text.
fn single(h: &HeaderMap, name: &str) -> Result<Option<String>, ()> {
    let mut it = h.get_all(name).iter();
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| ()),
        (Some(_), Some(_)) => Err(()),
    }
}

fn original(h: &HeaderMap) -> Original {
    let read = || -> Result<Original, ()> {
        let nginx = (
            single(h, "x-original-uri")?,
            single(h, "x-original-method")?,
        );
        let traefik = (
            single(h, "x-forwarded-uri")?,
            single(h, "x-forwarded-method")?,
        );
        let (target, method) = match (nginx, traefik) {
            ((None, None), (None, None)) => return Ok(Original::Unknown),
            ((Some(t), m), (None, None)) | ((None, None), (Some(t), m)) => (t, m),
            // Both families present: they must say the same thing.
            ((Some(t1), m1), (Some(t2), m2)) if t1 == t2 && m1 == m2 => (t1, m1),
            _ => return Err(()),
        };
        let method = match method {
            None => None,
            Some(m) => Some(Method::from_bytes(m.trim().as_bytes()).map_err(|_| ())?),
        };
        Ok(Original::Request { target, method })
    };
    read().unwrap_or(Original::Invalid)
}

/// The protected rule with the shortest `max_age` among those the target
/// could be routed to: its normalized form and, unless the raw form is
/// already canonical, every reading of the raw form.
fn strictest<'p>(
    policy: &'p Policy,
    method: Option<&Method>,
    normalized: &crate::normalize::NormalizedPath,
    raw: &str,
    canonical: bool,
) -> Option<&'p RouteRule> {
    let rule = |key: &str| match method {
        Some(m) => policy.rule_for(m, key),
        None => policy.rule_for_any_method(key),
    };
    let first = rule(normalized.match_key());
    if canonical {
        return first;
    }
    readings::readings(raw)
        .iter()
        .filter_map(|r| rule(r))
        .chain(first)
        .min_by_key(|r| r.strictness())
}

pub async fn check(
    own: &Own,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let session = own.sessions.of(req.headers()).await;
    let fresh = |max_age: std::time::Duration| own.sessions.fresh(session.as_ref(), max_age);
    let found = if conn.peer_trusted {
        original(req.headers())
    } else {
        Original::Unknown
    };
    let (allowed, rd) = match found {
        Original::Invalid => (false, "/".to_string()),
        Original::Unknown => (
            // A transaction route is never opened by a session, and this
            // target could be one (fail closed).
            session.is_some()
                && !own.policy.has_transaction()
                && own.policy.strictest_max_age().is_none_or(fresh),
            "/".to_string(),
        ),
        Original::Request { target, method } => {
            let (path, query) = target
                .split_once('?')
                .map_or((target.as_str(), None), |(p, q)| (p, Some(q)));
            match normalize_path(path) {
                Err(_) => (false, "/".to_string()),
                Ok(_) if path.len() > readings::MAX_RAW_TARGET => (false, "/".to_string()),
                Ok(p) => {
                    // `;` and `%` count as non-canonical even where
                    // normalizing keeps them: a server that cuts the path
                    // at the first `;` reads `/checkout;x/assets/a.css` as
                    // `/checkout`, one that decodes twice reads `%252e` as
                    // `.`, IIS reads `%c0%ae` as `.`.
                    let canonical = p.forward() == path && !path.contains([';', '%']);
                    let ok = match strictest(&own.policy, method.as_ref(), &p, path, canonical) {
                        _ if is_own(p.match_key()) => false,
                        None => true,
                        // Forward auth cannot hold a request, so a
                        // transaction route is never allowed through it.
                        Some(rule) => !rule.is_transaction() && fresh(rule.max_age),
                    };
                    let rd = match query {
                        Some(q) => format!("{}?{q}", p.forward()),
                        None => p.forward().to_string(),
                    };
                    (ok, safe_rd(Some(&rd)))
                }
            }
        }
    };
    let b = headers::own_response(StatusCode::OK);
    if allowed {
        let mut b = b.status(StatusCode::OK);
        if let Some(s) = &session {
            if let Ok(v) = HeaderValue::from_str(&s.phone) {
                b = b.header(&headers::X_OTPGATE_PHONE, v);
            }
            b = b.header(&headers::X_OTPGATE_VERIFIED_AT, s.verified_at);
        }
        return Ok(b.body(Body::empty()).expect("valid response"));
    }
    let location = login_url(&rd);
    Ok(b.status(StatusCode::UNAUTHORIZED)
        .header(
            LOCATION,
            HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static(LOGIN)),
        )
        .body(Body::empty())
        .expect("valid response"))
}
