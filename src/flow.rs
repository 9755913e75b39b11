//! The step-up flow behind `/.otpgate/*`: phone page, send, code page,
//! verify, resend, logout, each post answered with a `303` to a page
//! (post/redirect/get, flash.rs). The same core steps (`start`, `check`,
//! `resend`) serve the HTML forms here and the JSON API (api.rs).

pub mod core;
pub mod flash;
pub mod forms;
mod logout;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

pub use self::core::{FlowError, Pending};
use crate::body::Body;
use crate::errors::GatewayError;
use crate::gateway::{ConnInfo, Gateway};
use crate::normalize::{normalize_path, NormalizedPath};

/// The largest form or JSON body otpgate reads itself.
const MAX_FORM_BYTES: usize = 8 * 1024;

pub async fn handle(
    gw: &Gateway,
    req: Request<Incoming>,
    conn: ConnInfo,
    path: &NormalizedPath,
) -> Result<Response<Body>, GatewayError> {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = req.method() == Method::POST;
    match path.match_key() {
        "/.otpgate/login" if get => forms::login_page(gw, &req, conn).await,
        "/.otpgate/send" if post => forms::send(gw, req, conn).await,
        "/.otpgate/verify" if get => forms::verify_page(gw, &req).await,
        "/.otpgate/verify" if post => forms::verify(gw, req, conn).await,
        "/.otpgate/resend" if post => forms::resend(gw, req, conn).await,
        "/.otpgate/logout" if post => logout::logout(gw, req, conn).await,
        "/.otpgate/logout" if get => logout::page(gw, &req).await,
        "/.otpgate/api/send" if post => crate::api::send(gw, req, conn).await,
        "/.otpgate/api/verify" if post => crate::api::verify(gw, req, conn).await,
        "/.otpgate/api/session" if get => crate::api::session(gw, &req).await,
        "/.otpgate/auth" => crate::forward_auth::check(gw, &req, conn).await,
        "/.otpgate/sms/twilio/status" if post => crate::receipts::twilio_status(gw, req).await,
        "/.otpgate/login"
        | "/.otpgate/send"
        | "/.otpgate/verify"
        | "/.otpgate/resend"
        | "/.otpgate/logout"
        | "/.otpgate/api/send"
        | "/.otpgate/api/verify"
        | "/.otpgate/api/session" => Err(GatewayError::MethodNotAllowed),
        _ => Err(GatewayError::NotFound),
    }
}

/// `rd` is only ever a local path: it goes through the same normalization
/// as requests, so `//evil`, `/\evil`, `/%09/evil`, `/%2f%2fevil`, schemes
/// and control characters all become `/` (oauth2-proxy's open-redirect
/// corpus; Vouch, Authelia advisories).
pub fn safe_rd(rd: Option<&str>) -> String {
    let Some(rd) = rd else { return "/".into() };
    if rd.len() > 2048
        || !rd.starts_with('/')
        || rd.starts_with("//")
        || rd.bytes().any(|b| b <= 0x20 || b >= 0x7f || b == b'\\')
    {
        return "/".into();
    }
    let (p, q) = match rd.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rd, None),
    };
    if p.contains('#') || q.is_some_and(|q| q.contains('#')) || has_encoded_control(rd) {
        return "/".into();
    }
    match normalize_path(p) {
        Ok(n) if !crate::policy::is_own(n.match_key()) && !n.forward().starts_with("//") => match q
        {
            Some(q) => format!("{}?{q}", n.forward()),
            None => n.forward().to_string(),
        },
        _ => "/".into(),
    }
}

/// `%09`, `%0a`, `%7f`…: harmless while encoded, but some clients decode
/// a `Location` before use; nothing legitimate needs them in `rd`.
fn has_encoded_control(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && (matches!(w[1], b'0' | b'1') && w[2].is_ascii_hexdigit()
                || w[1] == b'7' && matches!(w[2], b'f' | b'F'))
    })
}

/// Reads a small body, refusing anything over [`MAX_FORM_BYTES`].
async fn read_small(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, bytes::Bytes), GatewayError> {
    let (parts, body) = req.into_parts();
    let body = crate::body::Paced::new(body, crate::body::BodyPace::of(&parts.extensions));
    let bytes = Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(crate::body::read_error)?
        .to_bytes();
    Ok((parts, bytes))
}

/// A form post's fields (first value of each name).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub async fn read(
        req: Request<Incoming>,
    ) -> Result<(http::request::Parts, Form), GatewayError> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(GatewayError::BadBody);
        }
        let (parts, bytes) = read_small(req).await?;
        Ok((
            parts,
            Form(form_urlencoded::parse(&bytes).into_owned().collect()),
        ))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub async fn read_json(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, serde_json::Value), GatewayError> {
    let (parts, bytes) = read_small(req).await?;
    let v = serde_json::from_slice(&bytes).map_err(|_| GatewayError::BadBody)?;
    Ok((parts, v))
}

/// Answer builder for otpgate's own responses: never cached, never framed.
pub fn own_response(status: StatusCode) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header(CACHE_CONTROL, HeaderValue::from_static("no-store"))
        .header("referrer-policy", HeaderValue::from_static("no-referrer"))
        .header(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        )
        .header("x-frame-options", HeaderValue::from_static("DENY"))
}

pub fn see_other(location: &str, cookies: &[String]) -> Response<Body> {
    let mut b = own_response(StatusCode::SEE_OTHER).header(
        LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    for c in cookies {
        b = b.header(SET_COOKIE, c);
    }
    b.body(Body::empty()).expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::safe_rd;

    #[test]
    fn rd_is_always_local() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/%2f%2fevil.example",
            "/%5cevil.example",
            "//%5cevil.example",
            "/\n/evil.example",
            "evil.example",
            "/%0a/evil.example",
            "/.otpgate/logout",
            "/a/../../x",
            " /x",
            "/x#frag",
        ] {
            assert_eq!(safe_rd(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(
            safe_rd(Some("/checkout?step=2&x=%2F")),
            "/checkout?step=2&x=%2F"
        );
        assert_eq!(safe_rd(Some("/a/./b")), "/a/b");
        assert_eq!(safe_rd(None), "/");
    }
}
