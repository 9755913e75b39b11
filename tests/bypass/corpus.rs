//! Request targets and methods, byte-exact over HTTP/1.1 and as HTTP/2.

use crate::support::{status_of, H2Answer};
use crate::Expect::{self, Bad, BadOr, Blocked, Otp, Pass};
use crate::{h1, h2_verdict, report, shop_and_gateway, verdict};

/// `(method, target, expected)`; every target is sent exactly as written.
pub const TARGETS: &[(&str, &str, Expect)] = &[
    // Case and unreserved percent-encodings.
    ("GET", "/checkout", Otp),
    ("GET", "/CHECKOUT", Otp),
    ("GET", "/ChecKout", Otp),
    ("GET", "/%63heckout", Otp),
    ("GET", "/%43HECKOUT", Otp),
    ("GET", "/checkou%74", Otp),
    ("GET", "/check%6Fut", Otp),
    ("GET", "/%63%68%65%63%6b%6f%75%74", Otp),
    ("GET", "/%63%68%65%63%6B%6F%75%74", Otp),
    // Slashes and dot segments.
    ("GET", "//checkout", Otp),
    ("GET", "///checkout", Otp),
    ("GET", "/./checkout", Otp),
    ("GET", "/%2e/checkout", Otp),
    ("GET", "/x/../checkout", Otp),
    ("GET", "/x/y/../../checkout", Otp),
    ("GET", "/x/%2e%2e/checkout", Otp),
    ("GET", "/x/%2E%2E/checkout", Otp),
    ("GET", "/x/.%2e/checkout", Otp),
    ("GET", "/x/%2e./checkout", Otp),
    ("GET", "/public/../checkout", Otp),
    ("GET", "/.otpgate/../checkout", Otp),
    ("GET", "/.otpgate/%2e%2e/checkout", Otp),
    ("GET", "/checkout/assets/../../checkout", Otp),
    ("GET", "/checkout/assets/%2e%2e/%2e%2e/checkout", Otp),
    ("GET", "/checkout/assets/..", Otp),
    ("GET", "/checkout/assets/.%2e/secret", Otp),
    ("GET", "/checkout/ASSETS/../secret", Otp),
    ("GET", "/checkout/", Otp),
    ("GET", "/checkout/.", Otp),
    ("GET", "/checkout/x/..", Otp),
    // `;params` (Tomcat `..;/`).
    ("GET", "/checkout;jsessionid=1", Otp),
    ("GET", "/checkout;/", Otp),
    ("GET", "/checkout;a=b/x", Otp),
    ("GET", "/x/..;/checkout", Otp),
    ("GET", "/x/..;a=b/checkout", Otp),
    ("GET", "/checkout/assets/..;/..;/checkout", Otp),
    ("GET", "/checkout/assets;x/../secret", Otp),
    // Trailing dots, prefixes, other protected routes.
    ("GET", "/checkout.", Otp),
    ("GET", "/checkout./", Otp),
    ("GET", "/checkout-success", Otp),
    ("GET", "/checkout.json", Otp),
    ("GET", "/account", Otp),
    ("GET", "/ACCOUNT/settings", Otp),
    // Encoded reserved characters stay encoded: still under /checkout.
    ("GET", "/checkout%23", Otp),
    ("GET", "/checkout%3f", Otp),
    ("GET", "/checkout%3Fx=1", Otp),
    ("GET", "/checkout%3b", Otp),
    ("GET", "/checkout%09", Otp),
    ("GET", "/checkout%20", Otp),
    ("GET", "/public%23/../checkout", Otp),
    ("GET", "/public%3f/../checkout", Otp),
    // Queries and fragments do not change the path.
    ("GET", "/checkout?x=../", Otp),
    ("GET", "/checkout?/../public", Otp),
    ("GET", "/checkout?x=%2e%2e%2fpublic", Otp),
    ("GET", "/checkout#frag", Otp),
    // Cannot be normalized safely: 400, never forwarded.
    ("GET", "/checkout%2f", Bad),
    ("GET", "/checkout%2F", Bad),
    ("GET", "/x%2f..%2fcheckout", Bad),
    ("GET", "/x/..%2fcheckout", Bad),
    ("GET", "/checkout/assets/..%2f..%2fcheckout", Bad),
    ("GET", "/checkout%5c", Bad),
    ("GET", "/x%5c..%5ccheckout", Bad),
    ("GET", "/x\\..\\checkout", Bad),
    ("GET", "/\\checkout", Bad),
    ("GET", "/checkout%00", Bad),
    ("GET", "/%00/../checkout", Bad),
    ("GET", "/checkout%", Bad),
    ("GET", "/checkout%zz", Bad),
    ("GET", "/checkout%4", Bad),
    ("GET", "/..", Bad),
    ("GET", "/../checkout", Bad),
    ("GET", "/%2e%2e/checkout", Bad),
    ("GET", "/%2E%2E/checkout", Bad),
    ("GET", "/x/../../checkout", Bad),
    ("GET", "/checkout/assets/../../../checkout", Bad),
    ("GET", "/checkout\u{e9}", Bad),
    ("OPTIONS", "*", Bad),
    // Absolute-form (RFC 9112 §3.2.2): ours only when it names our Host.
    ("GET", "https://127.0.0.1/checkout", Otp),
    ("GET", "HTTPS://127.0.0.1/CHECKOUT", Otp),
    ("GET", "https://127.0.0.1/x/../checkout", Otp),
    ("GET", "http://127.0.0.1/checkout", Otp),
    ("GET", "https://127.0.0.1/public", Pass("/public")),
    ("GET", "http://evil.example/checkout", Bad),
    ("GET", "http://evil.example/public", Bad),
    ("GET", "https://127.0.0.1:443/public", Bad),
    ("GET", "https://user@127.0.0.1/public", Bad),
    // Not protected after correct normalization: forwarded as normalized.
    ("GET", "/public", Pass("/public")),
    ("GET", "/", Pass("/")),
    ("GET", "/checkou", Pass("/checkou")),
    ("GET", "/check%3Fout", Pass("/check%3Fout")),
    ("GET", "/check%3fout", Pass("/check%3Fout")),
    ("GET", "/check%2Dout", Pass("/check-out")),
    ("GET", "/%7Echeckout", Pass("/~checkout")),
    ("GET", "/x/./y/../public", Pass("/x/public")),
    ("GET", "/checkout/../public", Pass("/public")),
    ("GET", "/checkout/%2e%2e/public", Pass("/public")),
    ("GET", "/checkout;x/../public", Pass("/public")),
    ("GET", "/checkout//../public", Pass("/public")),
    (
        "GET",
        "/public?next=/checkout",
        Pass("/public?next=/checkout"),
    ),
    (
        "GET",
        "/public?%2e%2e/checkout",
        Pass("/public?%2e%2e/checkout"),
    ),
    (
        "GET",
        "/checkout/assets/app.css",
        Pass("/checkout/assets/app.css"),
    ),
    (
        "GET",
        "/CHECKOUT/Assets/App.css",
        Pass("/CHECKOUT/Assets/App.css"),
    ),
    (
        "GET",
        "/checkout/assets/app.css;v=1",
        Pass("/checkout/assets/app.css;v=1"),
    ),
    (
        "GET",
        "/checkout/assets/./x/../app.css",
        Pass("/checkout/assets/app.css"),
    ),
    (
        "GET",
        "/checkout/assets/../assets/app.css",
        Pass("/checkout/assets/app.css"),
    ),
    (
        "GET",
        "/checkout/%61ssets/app.css",
        Pass("/checkout/assets/app.css"),
    ),
    // Double encoding and overlong UTF-8 are never decoded into `..`: either
    // refused or forwarded as sent (only an escape's own hex upper-cased).
    (
        "GET",
        "/x/%252e%252e/checkout",
        BadOr("/x/%252e%252e/checkout"),
    ),
    ("GET", "/%252e%252e/checkout", BadOr("/%252e%252e/checkout")),
    (
        "GET",
        "/x/%c0%ae%c0%ae/checkout",
        BadOr("/x/%C0%AE%C0%AE/checkout"),
    ),
    (
        "GET",
        "/x/%e0%80%ae%e0%80%ae/checkout",
        BadOr("/x/%E0%80%AE%E0%80%AE/checkout"),
    ),
    // Every method on /checkout.
    ("HEAD", "/checkout", Otp),
    ("POST", "/checkout", Otp),
    ("PUT", "/checkout", Otp),
    ("DELETE", "/checkout", Otp),
    ("PATCH", "/checkout", Otp),
    ("OPTIONS", "/checkout", Otp),
    ("TRACE", "/checkout", Otp),
    ("PROPFIND", "/checkout", Otp),
    ("M-SEARCH", "/checkout", Otp),
    ("FOO", "/checkout", Otp),
    ("get", "/checkout", Otp),
    ("post", "/checkout", Otp),
    ("Get", "/CHECKOUT", Otp),
    ("CONNECT", "/checkout", Blocked),
    // /admin needs a code for POST only, in every spelling of POST.
    ("POST", "/admin", Otp),
    ("post", "/admin", Otp),
    ("Post", "/admin", Otp),
    ("pOsT", "/admin", Otp),
    ("POST", "/ADMIN", Otp),
    ("POST", "//admin", Otp),
    ("POST", "/x/../admin", Otp),
    ("POST", "/%61dmin", Otp),
    ("POST", "/admin;x", Otp),
    ("POST", "/admin/users", Otp),
    ("GET", "/admin", Pass("/admin")),
    ("HEAD", "/admin", Pass("/admin")),
    ("PUT", "/admin", Pass("/admin")),
    ("DELETE", "/Admin", Pass("/Admin")),
    ("OPTIONS", "/admin", Pass("/admin")),
    ("POSTX", "/admin", Pass("/admin")),
    // otpgate's own prefix is answered, never forwarded.
    ("GET", "/.otpgate/auth", Otp),
    ("GET", "/.OTPGATE/auth", Otp),
];

/// Full requests whose oddity is not in the target.
fn raw_requests() -> Vec<(&'static str, &'static [u8], Expect)> {
    vec![
        ("HTTP/1.0, no Host", b"GET /checkout HTTP/1.0\r\n\r\n", Otp),
        ("HTTP/1.1, no Host", b"GET /public HTTP/1.1\r\nConnection: close\r\n\r\n", Bad),
        ("two spaces", b"GET  /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Blocked),
        ("tab separator", b"GET\t/checkout\tHTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Blocked),
        ("tab in target", b"GET /public\t/checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Blocked),
        ("space in target", b"GET /public /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Blocked),
        ("bare LF", b"GET /checkout HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n", Blocked),
        ("NUL in target", b"GET /checkout\0/../public HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Blocked),
        ("two Hosts", b"GET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", Blocked),
        ("abs-form, other Host", b"GET https://127.0.0.1/public HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", Bad),
        ("abs-form, no Host", b"GET https://127.0.0.1/public HTTP/1.1\r\nConnection: close\r\n\r\n", Bad),
        ("CONNECT authority", b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\nConnection: close\r\n\r\n", Bad),
        ("rewrite headers", b"GET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URL: /public\r\nX-Rewrite-URL: /public\r\nX-Original-URI: /public\r\nConnection: close\r\n\r\n", Otp),
        ("pipelined", b"GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Pass("/public")),
    ]
}

#[tokio::test]
async fn corpus_over_http1() {
    let (shop, gw) = shop_and_gateway(false).await;
    let mut failures = Vec::new();
    for (method, target, expect) in TARGETS {
        let before = shop.count();
        let status = status_of(&gw.raw_h1(&h1(method, target)).await);
        failures.extend(verdict(
            &shop,
            before,
            status,
            *expect,
            &format!("H1 {method} {target:?}"),
        ));
    }
    let raw = raw_requests();
    for (what, bytes, expect) in &raw {
        let before = shop.count();
        let answer = gw.raw_h1(bytes).await;
        failures.extend(verdict(
            &shop,
            before,
            status_of(&answer),
            *expect,
            &format!("H1 raw {what}"),
        ));
    }
    // The pipelined /checkout behind /public was answered, not forwarded.
    let pipelined = gw.raw_h1(raw.last().unwrap().1).await;
    assert_eq!(pipelined.matches("HTTP/1.1 ").count(), 2, "{pipelined}");
    assert!(pipelined.contains("HTTP/1.1 401"), "{pipelined}");
    assert!(TARGETS.len() + raw.len() >= 60);
    report(failures, TARGETS.len() + raw.len());
}

/// Smuggling attempts: whatever hyper makes of them, the shop sees at most
/// the request to /public.
#[tokio::test]
async fn smuggled_requests_never_reach_the_shop() {
    let (shop, gw) = shop_and_gateway(false).await;
    let cases: [&[u8]; 3] = [
        b"POST /public HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /public HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n0\r\n\r\nGET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /public HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nContent-Length: 44\r\nConnection: close\r\n\r\nGET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ];
    for bytes in cases {
        gw.raw_h1(bytes).await;
    }
    for seen in shop.seen() {
        assert_eq!(seen.target, "/public", "{seen:?}");
    }
}

/// Targets the http crate will not put in an HTTP/2 `:path` at all (it
/// refuses them before a frame is sent), with the reason; they cannot
/// reach otpgate over HTTP/2 from any client built on it. Every other
/// target must be carried and judged.
const H2_UNSENDABLE: &[(&str, &str)] = &[];

#[tokio::test]
async fn corpus_over_http2() {
    let (shop, gw) = shop_and_gateway(false).await;
    let mut failures = Vec::new();
    let mut carried = 0;
    for (method, target, expect) in TARGETS {
        if !target.starts_with('/') {
            continue; // HTTP/2 has no absolute-form or `*` for GET
        }
        let before = shop.count();
        let answer = gw.raw_h2(method, target, &[]).await;
        let listed = H2_UNSENDABLE.iter().any(|(t, _)| t == target);
        match (&answer, listed) {
            (H2Answer::Unsendable, true) => continue,
            (H2Answer::Unsendable, false) => {
                failures.push(format!("H2 {method} {target:?}: unsendable but not listed"));
                continue;
            }
            (_, true) => failures.push(format!(
                "H2 {method} {target:?}: listed as unsendable but sent"
            )),
            (_, false) => {}
        }
        carried += 1;
        failures.extend(h2_verdict(
            &shop,
            before,
            &answer,
            *expect,
            &format!("H2 {method} {target:?}"),
        ));
    }
    let path_targets = TARGETS.iter().filter(|t| t.1.starts_with('/')).count();
    assert_eq!(carried + H2_UNSENDABLE.len(), path_targets);
    report(failures, carried);
}
