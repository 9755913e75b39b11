//! `GET /.otpgate/auth` for nginx `auth_request` and Traefik/Caddy forward
//! auth. The original request is read from `X-Original-URI` /
//! `X-Original-Method` (nginx) or `X-Forwarded-Uri` / `X-Forwarded-Method`
//! (Traefik, Caddy), and only from `server.trusted_proxies` (oauth2-proxy
//! CVE-2026-40575). Every answer is 200 or 401: a malformed target or any
//! error is 401, never 2xx (Authelia CVE-2021-32637).

use http::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::Body;
use crate::errors::GatewayError;
use crate::gateway::{ConnInfo, Gateway};
use crate::headers;
use crate::normalize::normalize_path;

fn header<'a>(req: &'a Request<Incoming>, names: [&str; 2]) -> Option<&'a str> {
    names.iter().find_map(|n| req.headers().get(*n)).and_then(|v| v.to_str().ok())
}

pub async fn check(gw: &Gateway, req: &Request<Incoming>, conn: ConnInfo) -> Result<Response<Body>, GatewayError> {
    let session = gw.session_of(req.headers()).await;
    let now = gw.clock.now_secs();
    let fresh = |max_age: std::time::Duration| session.as_ref().is_some_and(|s| now.saturating_sub(s.verified_at) <= max_age.as_secs());
    let (uri, method) = if conn.peer_trusted {
        (header(req, ["x-original-uri", "x-forwarded-uri"]), header(req, ["x-original-method", "x-forwarded-method"]))
    } else {
        (None, None)
    };
    let (allowed, rd) = match uri {
        // Unknown target: the strictest rule must hold.
        None => (gw.policy().strictest_max_age().is_none_or(fresh) && session.is_some(), "/".to_string()),
        Some(target) => {
            let method = method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()).unwrap_or(Method::GET);
            let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
            match normalize_path(path) {
                Err(_) => (false, "/".to_string()),
                Ok(p) => {
                    let rd = match query {
                        Some(q) => format!("{}?{q}", p.forward()),
                        None => p.forward().to_string(),
                    };
                    let ok = match gw.policy().rule_for(&method, p.match_key()) {
                        None => !crate::policy::is_own(p.match_key()),
                        Some(rule) => fresh(rule.max_age),
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
        .header(LOCATION, HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/.otpgate/login")))
        .body(Body::empty())
        .expect("valid response"))
}
