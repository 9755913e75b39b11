//! Regression tests for what a mutation run found (issue 16): three
//! deliberate bugs that passed every test, and four that only one unit
//! test caught. Each test here fails on its bug at the integration level,
//! across the wire, against the real gateway and storefront.
//!
//! - `forward_auth_age`: `/.otpgate/auth` honours the route's `max_age`
//! - `failure_limit`: the failure limit is checked before a guess is evaluated
//! - `rerouting`: `X-Original-URL` and friends never reach the storefront
//! - `expiry`: an expired session identifies no one, protected route or not
//! - `cookie_names`: a value sealed for another otpgate cookie is no session
//! - `resend`: a resent code replaces the old one
//! - `rd`: no way back into `/.otpgate/` after verification
//! - `missed`: mutants a cargo-mutants run missed, killed

#[path = "../support/mod.rs"]
mod support;

mod cookie_names;
mod expiry;
mod failure_limit;
mod forward_auth_age;
mod missed;
mod rd;
mod rerouting;
mod resend;

use support::{status_of, Gw};

/// `GET /.otpgate/auth` over raw HTTP/1.1 with `headers` and, when given,
/// the session cookie: `(status, Location, X-Otpgate-Phone)`.
pub async fn auth(
    gw: &Gw,
    headers: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, Option<String>, Option<String>) {
    let mut req = String::from("GET /.otpgate/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: __Host-otpgate={c}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let raw = gw.raw_h1(req.as_bytes()).await;
    let owned = |n: &str| header_of(&raw, n).map(str::to_string);
    (status_of(&raw), owned("location"), owned("x-otpgate-phone"))
}

/// Seconds as a `Duration`, for `clock.advance`.
pub fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

/// The value of header `name` in a raw HTTP/1.1 answer.
pub fn header_of<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
