//! `/.otpgate/auth` judges the *raw* target the storefront will receive
//! (issue 8, defect 3): nginx forwards `/checkout/..;/order-42` unchanged,
//! and a Tomcat-like storefront, a second proxy or a raw-prefix router may
//! route it to `/checkout`. Every raw spelling that some server could route
//! into a protected prefix must be 401 without a session; a fresh session
//! still passes, and plainly public targets stay public.

use crate::forward_auth::{auth, session_cookie};
use crate::{report, shop_and_gateway};

/// Raw targets whose normalized form may be public but which some server
/// reads as protected (or that normalize to protected outright).
const RAW_PROTECTED: &[&str] = &[
    // Tomcat `..;` and params next to the protected prefix.
    "/checkout/..;/order-42",
    "/checkout/..;/",
    "/checkout/..;jsessionid=1/order-42",
    "/checkout;/../order-42",
    "/checkout;x=1/../order-42",
    "/CHECKOUT/..;/order-42",
    "/checkout/%2e%2e;/order-42",
    "/checkout/..%3b/order-42",
    "/checkout%3b/../order-42",
    // `;` cut: `/checkout;x/assets/a.css` is `/checkout` where `;` ends the path.
    "/checkout;x/assets/app.css",
    "/checkout;/assets/app.css",
    // Encoded dot segments: a router matching before decoding sees `/checkout/...`.
    "/checkout/%2e%2e/order-42",
    "/checkout/%2E%2E/order-42",
    "/checkout/.%2e/order-42",
    "/checkout/%2e./order-42",
    "/Checkout/%2e%2e/x",
    "/checkout/%2e/../x",
    // Double encoding: decoded twice, `%252e%252e` climbs out of the public part.
    "/checkout/%252e%252e/x",
    "/x/%252e%252e/checkout",
    "/checkout/assets/%252e%252e/pay",
    "/checkout/assets/%252e%252e%252fpay",
    // Plain dot segments and duplicate slashes next to the prefix.
    "/checkout/../x",
    "/checkout/./../x",
    "/checkout/x/../../y",
    "/checkout//../x",
    "/checkout///..//x",
    "/account//..//x",
    "/account/../",
    "/checkout/assets/../pay",
    "/checkout/assets/..;/pay",
    "/checkout/assets;/../../checkout",
    // Windows/IIS: trailing dots and spaces, overlong UTF-8.
    "/checkout./../x",
    "/checkout../x/..",
    "/checkout%20/../x",
    "/checkou%74/../x",
    "/x/%c0%ae%c0%ae/checkout",
    "/x/%C0%AE%C0%AE/account",
    // With a query, which is never part of the path.
    "/checkout/..;/order-42?x=1",
    "/checkout/%2e%2e/x?rd=/public",
];

/// Public targets, however spelled, stay public (the fix refuses nothing more
/// than the strictest reading requires).
const RAW_PUBLIC: &[&str] = &[
    "/public",
    "/public;jsessionid=1",
    "/x/../public",
    "/x/%2e%2e/public",
    "//public",
    "/checkout/assets/app.css",
    "/checkout/assets/css/../app.css",
    "/public?next=/checkout/..;/x",
];

#[tokio::test]
async fn raw_targets_are_judged_by_their_strictest_reading() {
    let (shop, gw) = shop_and_gateway(true).await;
    let mut failures = Vec::new();
    for header in ["X-Original-URI", "X-Forwarded-Uri"] {
        for raw in RAW_PROTECTED {
            for method in [None, Some("GET"), Some("POST")] {
                let mut h = vec![(header, *raw)];
                let method_h = if header == "X-Original-URI" {
                    "X-Original-Method"
                } else {
                    "X-Forwarded-Method"
                };
                if let Some(m) = method {
                    h.push((method_h, m));
                }
                let (status, location, phone) = auth(&gw, &h, None).await;
                let to_login = location
                    .as_deref()
                    .is_some_and(|l| l.starts_with("/.otpgate/login?rd=%2F"));
                if status != 401 || !to_login || phone.is_some() {
                    failures.push(format!(
                        "{header}: {raw:?} ({method:?}) -> {status} {location:?} {phone:?}; want 401 to the login page"
                    ));
                }
            }
        }
        for raw in RAW_PUBLIC {
            let (status, _, _) = auth(&gw, &[(header, raw)], None).await;
            if status != 200 {
                failures.push(format!("{header}: {raw:?} -> {status}; want 200 (public)"));
            }
        }
    }
    report(failures, 2 * (RAW_PROTECTED.len() * 3 + RAW_PUBLIC.len()));
    assert_eq!(shop.count(), 0, "forward auth never forwards");
}

/// `/admin` is protected for `POST` only: a raw reading into it counts for
/// `POST` (and an unknown method) but `GET` stays public.
#[tokio::test]
async fn method_limited_rules_apply_to_raw_readings() {
    let (_shop, gw) = shop_and_gateway(true).await;
    for (raw, method, want) in [
        ("/admin/..;/x", Some("POST"), 401),
        ("/admin/..;/x", None, 401),
        ("/admin/%2e%2e/x", Some("post"), 401),
        ("/admin/..;/x", Some("GET"), 200),
    ] {
        let mut h = vec![("X-Original-URI", raw)];
        if let Some(m) = method {
            h.push(("X-Original-Method", m));
        }
        let (status, _, _) = auth(&gw, &h, None).await;
        assert_eq!(status, want, "{raw} {method:?}");
    }
}

/// A fresh session passes both the normalized and the raw spellings, with
/// the verified phone; the raw reading does not lock shoppers out.
#[tokio::test]
async fn a_session_passes_every_reading() {
    let (_shop, gw) = shop_and_gateway(true).await;
    let cookie = session_cookie(&gw).await;
    for raw in ["/checkout", "/checkout/order-42", "/account"]
        .iter()
        .chain(RAW_PROTECTED)
    {
        let (status, _, phone) = auth(&gw, &[("X-Original-URI", raw)], Some(&cookie)).await;
        assert_eq!(
            (status, phone.as_deref()),
            (200, Some(crate::support::PHONE)),
            "{raw}"
        );
    }
}

/// Readings that hit rules with different `max_age`s: the shortest one
/// applies. `/x/..;/account` is `/account` (1 min) to Tomcat and
/// `/x/...` to otpgate's own normalization; a 10-minute-old session is
/// fresh for `/checkout` (15 min) but not for it.
#[tokio::test]
async fn the_shortest_max_age_of_any_reading_applies() {
    let shop = crate::support::upstream().await;
    let clock = otpgate::clock::ManualClock::starting_now();
    let gw = crate::support::gateway(&shop)
        .route("/checkout", "otp")
        .route_with("/account", "otp", "max_age = \"1m\"")
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .clock(clock.clone())
        .run()
        .await;
    let cookie = session_cookie(&gw).await;
    clock.advance(std::time::Duration::from_secs(600));
    for (raw, want) in [
        ("/checkout/x", 200),
        ("/account", 401),
        ("/checkout/..;/account", 401),
        ("/checkout/x/%2e%2e/%2e%2e/account", 401),
        ("/account/..;/checkout", 401),
        ("/public/..;/checkout", 200),
    ] {
        let (status, _, _) = auth(&gw, &[("X-Original-URI", raw)], Some(&cookie)).await;
        assert_eq!(status, want, "{raw} with a 10-minute-old session");
    }
}
