//! Caught once only by a unit test: session expiry. The integration tests
//! used to get their 302 from `max_age` (validation keeps `max_age` ≤
//! `ttl`, so the age check always fired first), and nothing covered an
//! unprotected route, where an expired cookie would still tell the
//! storefront who the shopper is (`X-Otpgate-Phone`).

use otpgate::clock::ManualClock;

use crate::support::{gateway, upstream, Gw, Shop, H1, PHONE};
use crate::{auth, secs};

/// Session ttl 1h, `/checkout` max_age 1h: exactly at ttl only expiry can
/// refuse (the age check is `<=`).
async fn setup(clock: &ManualClock) -> (Shop, Gw, String) {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"1h\"")
        .route("/checkout/help", "none")
        .set("session.ttl", "\"1h\"")
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/").await;
    let cookie = b.cookies["__Host-otpgate"].clone();
    (shop, gw, cookie)
}

async fn get(gw: &Gw, path: &str, cookie: &str) -> u16 {
    let mut b = gw.browser(H1);
    b.cookies.insert("__Host-otpgate".into(), cookie.into());
    b.get(path).await.status
}

#[tokio::test]
async fn an_expired_cookie_identifies_no_one_on_unprotected_routes() {
    let clock = ManualClock::starting_now();
    let (shop, gw, cookie) = setup(&clock).await;
    clock.advance(secs(3600 - 1));
    for path in ["/public", "/checkout/help"] {
        assert_eq!(get(&gw, path, &cookie).await, 200);
        assert_eq!(
            shop.last().header("x-otpgate-phone"),
            Some(PHONE),
            "{path}: live"
        );
    }
    clock.advance(secs(1));
    for path in ["/public", "/checkout/help"] {
        assert_eq!(get(&gw, path, &cookie).await, 200, "{path} is public");
        let seen = shop.last();
        assert_eq!(seen.target, path);
        assert_eq!(
            seen.header("x-otpgate-phone"),
            None,
            "{path}: expired: {seen:?}"
        );
        assert_eq!(
            seen.header("x-otpgate-verified-at"),
            None,
            "{path}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_cookie_opens_no_protected_route() {
    let clock = ManualClock::starting_now();
    let (shop, gw, cookie) = setup(&clock).await;
    clock.advance(secs(3600 - 1));
    assert_eq!(get(&gw, "/checkout", &cookie).await, 200, "live");
    clock.advance(secs(1));
    let before = shop.count();
    assert_eq!(get(&gw, "/checkout", &cookie).await, 302, "expired");
    assert_eq!(shop.count(), before);
}

/// Forward auth: the expired cookie gets no 200 for a protected target and
/// no identity for an unprotected one.
#[tokio::test]
async fn forward_auth_treats_an_expired_cookie_as_none() {
    let clock = ManualClock::starting_now();
    let (_shop, gw, cookie) = setup(&clock).await;
    let checkout = [("X-Original-URI", "/checkout")];
    let public = [("X-Original-URI", "/public")];
    clock.advance(secs(3600 - 1));
    assert_eq!(auth(&gw, &checkout, Some(&cookie)).await.0, 200, "live");
    let (_, _, phone) = auth(&gw, &public, Some(&cookie)).await;
    assert_eq!(phone.as_deref(), Some(PHONE), "live");
    clock.advance(secs(1));
    assert_eq!(auth(&gw, &checkout, Some(&cookie)).await.0, 401, "expired");
    let (status, _, phone) = auth(&gw, &public, Some(&cookie)).await;
    assert_eq!((status, phone), (200, None), "public, but nobody's");
}
