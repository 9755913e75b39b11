//! Survivor: forward auth ignored the route's `max_age`, answering 200 for
//! a session older than the rule allows (no forward-auth test moved the
//! clock). nginx `auth_request` and Traefik/Caddy forward auth trust that
//! 200 as "let the request through", so this is the same bypass as
//! ignoring `max_age` on a forwarded request.

use otpgate::clock::ManualClock;

use crate::support::{gateway, upstream, Gw, H1, PHONE};
use crate::{auth, secs};

async fn gateway_with_ages(clock: &ManualClock, trusted: bool) -> Gw {
    let shop = upstream().await;
    let mut b = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"5m\"")
        .route_with("/account", "otp", "max_age = \"1h\"")
        .clock(clock.clone());
    if trusted {
        b = b.set("server.trusted_proxies", "[\"127.0.0.1\"]");
    }
    b.run().await
}

async fn session(gw: &Gw) -> String {
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/").await;
    b.cookies["__Host-otpgate"].clone()
}

/// From a trusted proxy that names the target: each route's own age.
#[tokio::test]
async fn forward_auth_refuses_a_session_older_than_the_routes_max_age() {
    let clock = ManualClock::starting_now();
    let gw = gateway_with_ages(&clock, true).await;
    let cookie = session(&gw).await;
    let checkout = [("X-Original-URI", "/checkout")];
    let account = [("X-Original-URI", "/account")];
    let (status, _, phone) = auth(&gw, &checkout, Some(&cookie)).await;
    assert_eq!((status, phone.as_deref()), (200, Some(PHONE)), "fresh");
    clock.advance(secs(5 * 60));
    assert_eq!(
        auth(&gw, &checkout, Some(&cookie)).await.0,
        200,
        "at max_age"
    );
    clock.advance(secs(1));
    let (status, location, phone) = auth(&gw, &checkout, Some(&cookie)).await;
    assert_eq!(
        (status, location.as_deref(), phone),
        (401, Some("/.otpgate/login?rd=%2Fcheckout"), None),
        "a second past /checkout's max_age"
    );
    // The same method-less spellings the normalizer folds count too.
    for target in ["/CHECKOUT", "/x/../checkout", "/checkout/step2?x=1"] {
        let h = [("X-Original-URI", target)];
        assert_eq!(auth(&gw, &h, Some(&cookie)).await.0, 401, "{target}");
    }
    let (status, _, phone) = auth(&gw, &account, Some(&cookie)).await;
    assert_eq!(
        (status, phone.as_deref()),
        (200, Some(PHONE)),
        "still fresh for /account's longer max_age"
    );
    clock.advance(secs(3600 - 5 * 60));
    assert_eq!(auth(&gw, &account, Some(&cookie)).await.0, 401);
}

/// When the target is unknown (an untrusted peer, or a proxy that does not
/// say), the strictest `max_age` of any protected route applies.
#[tokio::test]
async fn forward_auth_without_a_target_applies_the_strictest_max_age() {
    let clock = ManualClock::starting_now();
    let gw = gateway_with_ages(&clock, false).await;
    let cookie = session(&gw).await;
    assert_eq!(auth(&gw, &[], Some(&cookie)).await.0, 200, "fresh");
    // Up to the strictest max_age (5m) the session is good for any target.
    clock.advance(secs(5 * 60));
    assert_eq!(auth(&gw, &[], Some(&cookie)).await.0, 200, "at 5m");
    clock.advance(secs(1));
    let (status, _, phone) = auth(&gw, &[], Some(&cookie)).await;
    assert_eq!(
        (status, phone),
        (401, None),
        "older than the strictest rule"
    );
    // An untrusted peer cannot choose the laxer route.
    let account = [("X-Original-URI", "/account")];
    assert_eq!(auth(&gw, &account, Some(&cookie)).await.0, 401);
}
