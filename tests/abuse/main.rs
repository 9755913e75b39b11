//! Abuse, fraud and cost protection (issue 5): every limit answers 429 with
//! `Retry-After` and holds under parallel requests, the client address
//! comes from trusted `X-Forwarded-For` only, the pumping detector blocks
//! a prefix before the budget runs out, and the audit trail records who
//! did what without ever holding a code or a secret.

#[path = "../support/mod.rs"]
mod support;

mod audit_log;
mod bursts;
mod client_ip;
mod held_audit;
mod ipv6;
mod limits;
mod lockout;
mod pumping;

use serde_json::{json, Value};
use support::{Gw, H2};

/// A valid Indian mobile number: prefix block `block`, line `line`.
/// `+91 981ppp nnnn`: the prefix (number minus last 4 digits) is `+91981ppp`.
pub fn phone(block: u32, line: u32) -> String {
    format!("+91981{block:03}{line:04}")
}

/// A limit table for `.set`.
pub fn lim(max: u64, window: &str) -> String {
    format!("{{ max = {max}, window = \"{window}\" }}")
}

/// Every send limit opened wide, so a test can close exactly one.
pub fn wide(b: support::GatewayBuilder) -> support::GatewayBuilder {
    let mut b = b;
    for name in [
        "send_per_ip",
        "send_per_phone",
        "send_per_prefix",
        "send_per_country",
        "sms_per_hour",
        "sms_per_day",
        "verify_per_ip",
        "verify_fail_per_phone",
    ] {
        b = b.set(&format!("limits.{name}"), &lim(100_000, "1h"));
    }
    b.set("server.trusted_proxies", "[\"127.0.0.1\"]")
}

/// One answer of the JSON API.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub json: Value,
    /// `name=value; …` of every cookie set, for the next request.
    pub cookies: String,
}

pub async fn post(
    client: &reqwest::Client,
    gw: &Gw,
    path: &str,
    body: Value,
    xff: Option<&str>,
    cookies: &str,
) -> Answer {
    let mut req = client
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    if !cookies.is_empty() {
        req = req.header("cookie", cookies);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let cookies = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let text = resp.text().await.unwrap();
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    Answer {
        status,
        retry_after,
        json,
        cookies,
    }
}

/// `POST /.otpgate/api/send` for `phone`, from `xff` when given.
pub async fn send(client: &reqwest::Client, gw: &Gw, phone: &str, xff: Option<&str>) -> Answer {
    post(
        client,
        gw,
        "/.otpgate/api/send",
        json!({ "phone": phone, "rd": "/checkout" }),
        xff,
        "",
    )
    .await
}

pub async fn verify(
    client: &reqwest::Client,
    gw: &Gw,
    code: &str,
    pending: &Answer,
    xff: Option<&str>,
) -> Answer {
    post(
        client,
        gw,
        "/.otpgate/api/verify",
        json!({ "code": code }),
        xff,
        &pending.cookies,
    )
    .await
}

/// A 429 as SPEC and the issue describe it: `Retry-After` and the JSON
/// error with the same number of seconds.
pub fn assert_limited(a: &Answer) {
    assert_eq!(a.status, 429, "{a:?}");
    let secs = a
        .retry_after
        .unwrap_or_else(|| panic!("no Retry-After: {a:?}"));
    assert!(secs >= 1, "{a:?}");
    assert_eq!(a.json["error"], "rate_limited", "{a:?}");
    assert_eq!(a.json["retry_after"], secs, "{a:?}");
}

/// The value of one series in the Prometheus text, e.g.
/// `otpgate_rate_limited_total{limit="send_per_ip"}`.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// An address from 100.64.0.0/10 (not trusted), one per `i`.
pub fn ip(i: usize) -> String {
    format!("100.64.{}.{}", i / 250, i % 250 + 1)
}

pub fn h2(gw: &Gw) -> reqwest::Client {
    gw.client(H2)
}
