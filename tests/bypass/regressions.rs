//! Bypasses this corpus found in an earlier version, kept as regression
//! tests; each states the request that got through and what it gets now.

use crate::forward_auth::auth;
use crate::support::status_of;
use crate::{h1, h2_verdict, report, shop_and_gateway, verdict, Expect};

/// Was a bypass: a params-only segment (`/;x/`) is kept as an empty segment, so
/// the match key of `/;x/checkout` is `//checkout`, which `/checkout` does
/// not prefix. SPEC: `;params` are ignored and repeated slashes merged, so
/// it is `/checkout`; Tomcat, Jetty and Spring serve it as `/checkout` too.
/// The shop receives `GET /;x/checkout` without a session.
#[tokio::test]
async fn bypass_params_only_segment_reaches_the_shop() {
    let (shop, gw) = shop_and_gateway(false).await;
    let cases = [
        ("GET", "/;x/checkout"),
        ("GET", "/;/checkout"),
        ("GET", "/;jsessionid=1/checkout"),
        ("GET", "/;x/CHECKOUT/"),
        ("GET", "/x/..;/;/checkout"),
        ("GET", "//;x//checkout"),
        ("POST", "/;/admin"),
    ];
    let mut failures = Vec::new();
    for (method, target) in cases {
        let before = shop.count();
        let status = status_of(&gw.raw_h1(&h1(method, target)).await);
        failures.extend(verdict(
            &shop,
            before,
            status,
            Expect::Blocked,
            &format!("H1 {method} {target}"),
        ));
        let before = shop.count();
        let answer = gw.raw_h2(method, target, &[]).await;
        failures.extend(h2_verdict(
            &shop,
            before,
            &answer,
            Expect::Blocked,
            &format!("H2 {method} {target}"),
        ));
    }
    let (_shop, trusted) = shop_and_gateway(true).await;
    let (status, _, _) = auth(&trusted, &[("X-Original-URI", "/;x/checkout")], None).await;
    if status != 401 {
        failures.push(format!(
            "/.otpgate/auth X-Original-URI: /;x/checkout -> {status}"
        ));
    }
    report(failures, cases.len() * 2 + 1);
}

/// Was a bypass: behind Traefik or Caddy (a trusted proxy that sets
/// `X-Forwarded-Uri`/`-Method` but copies every other client header into
/// the forward-auth request), a client adds `X-Original-URI: /public` or
/// `X-Original-Method: GET`; otpgate prefers the `X-Original-*` headers
/// and answers 200 for `GET /checkout` or `POST /admin` (the pattern of
/// oauth2-proxy CVE-2026-40575). Two sources that disagree must be 401.
#[tokio::test]
async fn bypass_forward_auth_mixed_header_families() {
    let (_shop, gw) = shop_and_gateway(true).await;
    let cases: &[&[(&str, &str)]] = &[
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/checkout"),
            ("X-Original-URI", "/public"),
        ],
        &[
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/admin"),
            ("X-Original-Method", "GET"),
        ],
        &[
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/admin"),
            ("X-Original-URI", "/admin"),
            ("X-Original-Method", "GET"),
        ],
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/checkout"),
            ("X-Forwarded-Uri", "/public"),
        ],
    ];
    let mut failures = Vec::new();
    for headers in cases {
        let (status, location, _) = auth(&gw, headers, None).await;
        if status != 401 || location.is_none() {
            failures.push(format!("{headers:?} -> {status} {location:?}; want 401"));
        }
    }
    report(failures, cases.len());
}

/// FAIL-OPEN: a repeated `X-Original-URI`/`X-Original-Method` (a proxy
/// that appends instead of replacing; Envoy CVE-2021-32777) is decided on
/// the first value, and an unparsable method is taken as `GET`. SPEC: any
/// failure to parse or decide fails closed, so these must be 401.
#[tokio::test]
async fn fail_open_forward_auth_duplicate_or_malformed_values() {
    let (_shop, gw) = shop_and_gateway(true).await;
    let cases: &[&[(&str, &str)]] = &[
        &[
            ("X-Original-URI", "/public"),
            ("X-Original-URI", "/checkout"),
        ],
        &[
            ("X-Forwarded-Uri", "/public"),
            ("X-Forwarded-Uri", "/checkout"),
        ],
        &[
            ("X-Original-URI", "/admin"),
            ("X-Original-Method", "GET"),
            ("X-Original-Method", "POST"),
        ],
        &[("X-Original-URI", "/admin"), ("X-Original-Method", "")],
        &[("X-Original-URI", "/admin"), ("X-Original-Method", "PO ST")],
        &[
            ("X-Forwarded-Uri", "/admin"),
            ("X-Forwarded-Method", "POST,GET"),
        ],
    ];
    let mut failures = Vec::new();
    for headers in cases {
        let (status, location, _) = auth(&gw, headers, None).await;
        if status != 401 || location.is_none() {
            failures.push(format!("{headers:?} -> {status} {location:?}; want 401"));
        }
    }
    report(failures, cases.len());
}
