//! The bypass corpus (issue 3, REFERENCES "Bypass corpus"): request targets
//! sent byte-exact over raw TLS (HTTP/1.1) and as HTTP/2 frames, spoofed
//! identity headers, and `/.otpgate/auth` from trusted and untrusted peers.
//! Nothing protected may reach the storefront without a session, and what
//! is not protected must reach it with exactly the normalized path.
//!
//! `regressions.rs` holds the bypasses this corpus once found, one test each.
//! Issue 8's trust boundary: `upgrade.rs` (h2c smuggling and siblings,
//! `CONNECT`), `header_spellings.rs` (every owned name in every spelling),
//! `host.rs`, `session_answers.rs` (caching, method overrides), `head_h2.rs`.

#[path = "../support/mod.rs"]
mod support;

mod corpus;
mod forward_auth;
mod forward_auth_raw;
mod head_h2;
mod header_spellings;
mod host;
mod identity;
mod regressions;
mod session_answers;
mod upgrade;

use support::{gateway, upstream, Gw, H2Answer, Shop};

/// What the gateway must do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Protected: `302`/`401`, never forwarded.
    Otp,
    /// Refused with `400`, never forwarded.
    Bad,
    /// Refused one way or another (`400`, `401`, `302`), never forwarded.
    Blocked,
    /// Not protected: forwarded once, with exactly this target.
    Pass(&'static str),
    /// Either refused with `400` or forwarded with exactly this target
    /// (both are safe; never forwarded in any other spelling).
    BadOr(&'static str),
}

/// The shop and a gateway with the corpus routes: `/checkout` and
/// `/account` need a code, `/checkout/assets` does not, `/admin` needs one
/// for `POST` only.
pub async fn shop_and_gateway(trusted: bool) -> (Shop, Gw) {
    let shop = upstream().await;
    let mut b = gateway(&shop)
        .route("/checkout", "otp")
        .route("/checkout/assets", "none")
        .route_with("/admin", "otp", "methods = [\"POST\"]")
        .route("/account", "otp");
    if trusted {
        b = b.set("server.trusted_proxies", "[\"127.0.0.1\"]");
    }
    let gw = b.run().await;
    (shop, gw)
}

/// `None` when the answer and what the shop saw since `before` fit
/// `expect`; otherwise a line for the failure report.
pub fn verdict(
    shop: &Shop,
    before: usize,
    status: u16,
    expect: Expect,
    what: &str,
) -> Option<String> {
    let new: Vec<String> = shop.seen()[before..]
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    let forwarded_as =
        |t: &str| status == 200 && new.len() == 1 && new[0].split_once(' ').map(|x| x.1) == Some(t);
    let ok = match expect {
        Expect::Otp => matches!(status, 302 | 401) && new.is_empty(),
        Expect::Bad => status == 400 && new.is_empty(),
        Expect::Blocked => matches!(status, 302 | 400 | 401) && new.is_empty(),
        Expect::Pass(t) => forwarded_as(t),
        Expect::BadOr(t) => (status == 400 && new.is_empty()) || forwarded_as(t),
    };
    (!ok).then(|| format!("{what}: expected {expect:?}, got {status}, shop saw {new:?}"))
}

/// [`verdict`] for an HTTP/2 request. A stream reset with `PROTOCOL_ERROR`
/// is how h2 refuses a malformed request (RFC 9113 §8.1.1), so it counts as
/// a `400` where a refusal is expected; any other reset, a timeout or a
/// request that could not be sent is a failure, never a status.
pub fn h2_verdict(
    shop: &Shop,
    before: usize,
    answer: &H2Answer,
    expect: Expect,
    what: &str,
) -> Option<String> {
    let refusal_expected = matches!(expect, Expect::Bad | Expect::Blocked | Expect::BadOr(_));
    match answer {
        H2Answer::Status(s) => verdict(shop, before, *s, expect, what),
        H2Answer::Reset(h2::Reason::PROTOCOL_ERROR) if refusal_expected => {
            verdict(shop, before, 400, expect, what)
        }
        other => Some(format!("{what}: expected {expect:?}, got {other:?}")),
    }
}

/// `GET <target>` as HTTP/1.1 bytes, `Connection: close`.
pub fn h1(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

pub use support::header_of;

/// Panics with every failure at once, so one run shows the whole picture.
pub fn report(failures: Vec<String>, of: usize) {
    assert!(
        failures.is_empty(),
        "{} of {of} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
