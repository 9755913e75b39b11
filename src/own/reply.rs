//! Answers from otpgate's own endpoints: every one starts from the one
//! header recipe (`headers::own_response`: never cached, never framed).

use http::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use http::{Response, StatusCode};

use crate::body::Body;
pub use crate::headers::own_response;

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

/// An HTML page with its Content-Security-Policy, cookies to set and, for
/// a refusal, how long to wait (RFC 9110 §10.2.3).
pub fn html(
    status: StatusCode,
    csp: HeaderValue,
    body: String,
    cookies: &[String],
    retry_after: Option<u64>,
) -> Response<Body> {
    let mut b = own_response(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", csp);
    for c in cookies {
        b = b.header(SET_COOKIE, c);
    }
    if let Some(s) = retry_after {
        b = b.header(RETRY_AFTER, s.max(1));
    }
    b.body(Body::full(body)).expect("valid response")
}

/// A JSON answer with cookies to set.
pub fn json(status: StatusCode, body: serde_json::Value, cookies: &[String]) -> Response<Body> {
    let mut b = own_response(status).header(CONTENT_TYPE, "application/json");
    for c in cookies {
        b = b.header(SET_COOKIE, c);
    }
    b.body(Body::full(body.to_string()))
        .expect("valid response")
}

/// An empty answer (a provider callback's 204 or 403).
pub fn empty(status: StatusCode) -> Response<Body> {
    own_response(status)
        .body(Body::empty())
        .expect("valid response")
}
