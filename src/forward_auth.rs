//! `GET /.otpgate/auth` for nginx `auth_request` and Traefik/Caddy forward
//! auth. The original request comes from one header family — nginx's
//! `X-Original-URI` / `X-Original-Method` or Traefik/Caddy's
//! `X-Forwarded-Uri` / `X-Forwarded-Method` — and only from
//! `server.trusted_proxies` (oauth2-proxy CVE-2026-40575). Traefik and Caddy
//! copy the client's own headers into the auth request, so the families
//! must agree, each header must appear once, and the method must parse:
//! anything else is 401. Every answer is 200 or 401, never 2xx on error
//! (Authelia CVE-2021-32637).

use http::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::Body;
use crate::errors::GatewayError;
use crate::gateway::{ConnInfo, Gateway};
use crate::headers;
use crate::normalize::normalize_path;
use crate::policy::is_own;

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

pub async fn check(
    gw: &Gateway,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let session = gw.session_of(req.headers()).await;
    let now = gw.clock.now_secs();
    let fresh = |max_age: std::time::Duration| {
        session
            .as_ref()
            .is_some_and(|s| now.saturating_sub(s.verified_at) <= max_age.as_secs())
    };
    let found = if conn.peer_trusted {
        original(req.headers())
    } else {
        Original::Unknown
    };
    let (allowed, rd) = match found {
        Original::Invalid => (false, "/".to_string()),
        Original::Unknown => (
            session.is_some() && gw.policy().strictest_max_age().is_none_or(fresh),
            "/".to_string(),
        ),
        Original::Request { target, method } => {
            let (path, query) = target
                .split_once('?')
                .map_or((target.as_str(), None), |(p, q)| (p, Some(q)));
            match normalize_path(path) {
                Err(_) => (false, "/".to_string()),
                Ok(p) => {
                    let rule = match &method {
                        Some(m) => gw.policy().rule_for(m, p.match_key()),
                        None => gw.policy().rule_for_any_method(p.match_key()),
                    };
                    let ok = match rule {
                        None => !is_own(p.match_key()),
                        Some(rule) => fresh(rule.max_age),
                    };
                    let rd = match query {
                        Some(q) => format!("{}?{q}", p.forward()),
                        None => p.forward().to_string(),
                    };
                    (ok, crate::flow::safe_rd(Some(&rd)))
                }
            }
        }
    };
    let b = Response::builder().header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
    let enc: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    let location = format!("/.otpgate/login?rd={enc}");
    Ok(b.status(StatusCode::UNAUTHORIZED)
        .header(
            LOCATION,
            HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/.otpgate/login")),
        )
        .body(Body::empty())
        .expect("valid response"))
}
