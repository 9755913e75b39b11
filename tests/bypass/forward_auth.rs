//! `GET /.otpgate/auth` (nginx `auth_request`, Traefik/Caddy forward auth):
//! 200 only for an unprotected target or a fresh session, 401 with a
//! `Location` to the login page otherwise, never 2xx on error, and the
//! original-request headers are read only from `server.trusted_proxies`.

use crate::support::{Gw, H2Answer, H1, PHONE};
use crate::{report, shop_and_gateway};

pub use crate::support::forward_auth as auth;

/// A session cookie for `PHONE` on this gateway.
pub async fn session_cookie(gw: &Gw) -> String {
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/").await;
    b.cookies.get("__Host-otpgate").expect("logged in").clone()
}

const LOGIN: &str = "/.otpgate/login?rd=";

/// From a trusted proxy, without a session: `(header, value, status, rd)`.
const TRUSTED_NO_SESSION: &[(&str, &str, u16, &str)] = &[
    ("X-Original-URI", "/checkout", 401, "%2Fcheckout"),
    ("X-Original-URI", "/CHECKOUT", 401, "%2FCHECKOUT"),
    ("X-Original-URI", "/%63heckout", 401, "%2Fcheckout"),
    ("X-Original-URI", "/x/../checkout", 401, "%2Fcheckout"),
    ("X-Original-URI", "/x/%2e%2e/checkout", 401, "%2Fcheckout"),
    ("X-Original-URI", "//checkout", 401, "%2Fcheckout"),
    (
        "X-Original-URI",
        "/checkout;jsessionid=1",
        401,
        "%2Fcheckout%3Bjsessionid%3D1",
    ),
    ("X-Original-URI", "/public/..;/checkout", 401, "%2Fcheckout"),
    (
        "X-Original-URI",
        "/public%23/../checkout",
        401,
        "%2Fcheckout",
    ),
    ("X-Original-URI", "/public#/../checkout", 401, "%2Fcheckout"),
    (
        "X-Original-URI",
        "/checkout?step=2",
        401,
        "%2Fcheckout%3Fstep%3D2",
    ),
    ("X-Original-URI", "/checkout.json", 401, "%2Fcheckout.json"),
    ("X-Original-URI", "/account", 401, "%2Faccount"),
    (
        "X-Original-URI",
        "/checkout/assets/../secret",
        401,
        "%2Fcheckout%2Fsecret",
    ),
    ("X-Original-URI", "/.otpgate/login", 401, "%2F"),
    ("X-Forwarded-Uri", "/checkout", 401, "%2Fcheckout"),
    (
        "X-Forwarded-Uri",
        "/CheckOut?x=1",
        401,
        "%2FCheckOut%3Fx%3D1",
    ),
    // Malformed targets: 401 to the login page, never 2xx.
    ("X-Original-URI", "checkout", 401, "%2F"),
    ("X-Original-URI", "", 401, "%2F"),
    ("X-Original-URI", "/%zz", 401, "%2F"),
    ("X-Original-URI", "/%2e%2e/x", 401, "%2F"),
    ("X-Original-URI", "/..", 401, "%2F"),
    ("X-Original-URI", "/checkout%00", 401, "%2F"),
    ("X-Original-URI", "/x%2f..%2fcheckout", 401, "%2F"),
    ("X-Original-URI", "/x%5c..%5ccheckout", 401, "%2F"),
    ("X-Original-URI", "/x\\..\\checkout", 401, "%2F"),
    ("X-Original-URI", "/checkout\u{e9}", 401, "%2F"),
    ("X-Original-URI", "https://127.0.0.1/public", 401, "%2F"),
    ("X-Original-URI", "*", 401, "%2F"),
    ("X-Forwarded-Uri", "public", 401, "%2F"),
    // Unprotected targets: 200.
    ("X-Original-URI", "/public", 200, ""),
    ("X-Original-URI", "/", 200, ""),
    // `//` is `/` once repeated slashes are merged (SPEC), and `/` is public.
    ("X-Original-URI", "//", 200, ""),
    ("X-Original-URI", "/public?next=/checkout", 200, ""),
    ("X-Original-URI", "/checkout/assets/app.css", 200, ""),
    ("X-Original-URI", "/check%3Fout", 200, ""),
    ("X-Forwarded-Uri", "/public", 200, ""),
    // `/admin` is protected for POST only; without X-Original-Method the
    // method is unknown, so the rule applies (fail closed).
    ("X-Original-URI", "/admin", 401, "%2Fadmin"),
];

#[tokio::test]
async fn trusted_proxy_targets_without_a_session() {
    let (shop, gw) = shop_and_gateway(true).await;
    let mut failures = Vec::new();
    for (name, value, want, rd) in TRUSTED_NO_SESSION {
        let (status, location, phone) = auth(&gw, &[(name, value)], None).await;
        let want_location = (*want == 401).then(|| format!("{LOGIN}{rd}"));
        if status != *want || location != want_location || phone.is_some() {
            failures.push(format!("{name}: {value:?} -> {status} {location:?} {phone:?}; want {want} {want_location:?}"));
        }
    }
    // The method of the original request counts: /admin needs a code for POST.
    for (uri_h, method_h, method, want) in [
        ("X-Original-URI", "X-Original-Method", "POST", 401),
        ("X-Original-URI", "X-Original-Method", "post", 401),
        ("X-Original-URI", "X-Original-Method", "Post", 401),
        ("X-Forwarded-Uri", "X-Forwarded-Method", "POST", 401),
        ("X-Forwarded-Uri", "X-Forwarded-Method", "pOST", 401),
        ("X-Original-URI", "X-Original-Method", "GET", 200),
        ("X-Forwarded-Uri", "X-Forwarded-Method", "DELETE", 200),
    ] {
        let (status, _, _) = auth(&gw, &[(uri_h, "/ADMIN"), (method_h, method)], None).await;
        if status != want {
            failures.push(format!(
                "{uri_h}: /ADMIN, {method_h}: {method} -> {status}; want {want}"
            ));
        }
    }
    // Both header families (nginx's and Traefik's): judged only when they
    // name the same request; any disagreement is refused, whichever of
    // the two names the public page (a proxy that sets one family while
    // the client smuggles the other).
    let both = |t1, m1, t2, m2| {
        let mut h = vec![("X-Original-URI", t1), ("X-Forwarded-Uri", t2)];
        if let Some(m) = m1 {
            h.push(("X-Original-Method", m));
        }
        if let Some(m) = m2 {
            h.push(("X-Forwarded-Method", m));
        }
        h
    };
    for (headers, want, rd) in [
        (both("/public", None, "/public", None), 200, ""),
        (
            both("/checkout", None, "/checkout", None),
            401,
            "%2Fcheckout",
        ),
        (both("/admin", Some("GET"), "/admin", Some("GET")), 200, ""),
        (both("/public", None, "/checkout", None), 401, "%2F"),
        (both("/checkout", None, "/public", None), 401, "%2F"),
        (
            both("/admin", Some("GET"), "/admin", Some("POST")),
            401,
            "%2F",
        ),
        (both("/admin", Some("GET"), "/admin", None), 401, "%2F"),
    ] {
        let (status, location, _) = auth(&gw, &headers, None).await;
        let want_location = (want == 401).then(|| format!("{LOGIN}{rd}"));
        if (status, &location) != (want, &want_location) {
            failures.push(format!(
                "{headers:?} -> {status} {location:?}; want {want} {want_location:?}"
            ));
        }
    }
    // The raw target's cap (8 KiB, readings::MAX_RAW_TARGET): a public
    // path of exactly 8 KiB is judged as any other; one byte more is
    // refused, not read every way a server might.
    let at_cap = format!("/public/{}", "a".repeat(8 * 1024 - 8));
    for (target, want, rd) in [
        (at_cap.clone(), 200, ""),
        (format!("{at_cap}a"), 401, "%2F"),
    ] {
        let (status, location, _) = auth(&gw, &[("X-Original-URI", &target)], None).await;
        let want_location = (want == 401).then(|| format!("{LOGIN}{rd}"));
        if (status, &location) != (want, &want_location) {
            failures.push(format!(
                "{} bytes -> {status} {location:?}; want {want}",
                target.len()
            ));
        }
    }
    // No original target at all: the strictest rule holds.
    let (status, location, _) = auth(&gw, &[], None).await;
    if (status, location.as_deref()) != (401, Some("/.otpgate/login?rd=%2F")) {
        failures.push(format!("no target -> {status} {location:?}"));
    }
    report(failures, TRUSTED_NO_SESSION.len() + 17);
    assert_eq!(shop.count(), 0, "forward auth never forwards");
}

#[tokio::test]
async fn untrusted_peers_cannot_name_the_target() {
    let (shop, gw) = shop_and_gateway(false).await;
    let mut failures = Vec::new();
    let spoofs: &[&[(&str, &str)]] = &[
        &[],
        &[("X-Original-URI", "/public")],
        &[("X-Forwarded-Uri", "/public")],
        &[("x-original-uri", "/")],
        &[("X-Original-URI", "/public"), ("X-Original-Method", "GET")],
        &[
            ("X-Forwarded-Uri", "/public"),
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Host", "127.0.0.1"),
        ],
        &[("X-Original-URI", "/checkout/assets/app.css")],
        &[
            ("X_Original_URI", "/public"),
            ("X_Forwarded_Uri", "/public"),
        ],
        &[
            ("Forwarded", "for=127.0.0.1"),
            ("X-Forwarded-For", "127.0.0.1"),
            ("X-Original-URI", "/public"),
        ],
        &[("X-Original-URI", "/checkout")],
        &[("User-Agent", ""), ("X-Original-URI", "/public")],
        &[("User-Agent", "kube-probe/1.29")],
    ];
    for headers in spoofs {
        let (status, location, _) = auth(&gw, headers, None).await;
        if status != 401 || location.as_deref() != Some("/.otpgate/login?rd=%2F") {
            failures.push(format!(
                "{headers:?} -> {status} {location:?}; want 401 to the login page"
            ));
        }
    }
    // Over HTTP/2 as well.
    for headers in spoofs {
        let status = gw.raw_h2("GET", "/.otpgate/auth", headers).await;
        if status != H2Answer::Status(401) {
            failures.push(format!("H2 {headers:?} -> {status:?}; want 401"));
        }
    }
    report(failures, spoofs.len() * 2);
    assert_eq!(shop.count(), 0);
}

#[tokio::test]
async fn with_a_session_only_well_formed_targets_pass() {
    for trusted in [true, false] {
        let (_shop, gw) = shop_and_gateway(trusted).await;
        let cookie = session_cookie(&gw).await;
        let (status, _, phone) = auth(&gw, &[("X-Original-URI", "/checkout")], Some(&cookie)).await;
        assert_eq!(
            (status, phone.as_deref()),
            (200, Some(PHONE)),
            "trusted={trusted}"
        );
        let (status, _, phone) = auth(&gw, &[], Some(&cookie)).await;
        assert_eq!(
            (status, phone.as_deref()),
            (200, Some(PHONE)),
            "trusted={trusted}"
        );
        if trusted {
            for bad in ["/%zz", "checkout", "", "/..", "/x%2fy", "/.otpgate/login"] {
                let (status, location, _) =
                    auth(&gw, &[("X-Original-URI", bad)], Some(&cookie)).await;
                assert_eq!(status, 401, "a session does not make {bad:?} acceptable");
                assert_eq!(
                    location.as_deref(),
                    Some("/.otpgate/login?rd=%2F"),
                    "{bad:?}"
                );
            }
        }
        // A tampered cookie is no session.
        let mut forged = cookie.clone().into_bytes();
        let mid = forged.len() / 2;
        forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let (status, _, phone) = auth(&gw, &[("X-Original-URI", "/checkout")], Some(&forged)).await;
        assert_eq!((status, phone), (401, None), "trusted={trusted}");
    }
}
