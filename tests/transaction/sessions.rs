//! No session opens a transaction route: not one from an ordinary
//! sign-in a moment ago, not the one the transaction's own verify just
//! issued, over HTTP/1.1 and HTTP/2, from a form or a script, nor through
//! forward auth. Each request is held and needs its own code.

use crate::support::{Gw, Shop, H1, H2, PHONE};
use crate::{hold_and_send, placed, shop_and_gateway, FORM, JSON, PLACE};

async fn held_not_forwarded(
    shop: &Shop,
    gw: &Gw,
    h2: bool,
    cookies: &std::collections::BTreeMap<String, String>,
    what: &str,
) {
    let before = shop.orders().len();
    let mut b = gw.browser(h2);
    b.cookies = cookies.clone();
    let r = b.submit(PLACE, FORM, b"sku=1&amount=1.00".to_vec()).await;
    assert_eq!(r.status, 303, "{what}: {r:?}");
    assert!(r.location().starts_with("/.otpgate/login"), "{what}: {r:?}");
    let mut s = gw.browser(h2);
    s.cookies = cookies.clone();
    let r = s
        .fetch("POST", PLACE, JSON, br#"{"amount":"1.00"}"#.to_vec())
        .await;
    assert_eq!(r.status, 401, "{what}: {r:?}");
    assert_eq!(r.json()["held"], true, "{what}");
    assert_eq!(shop.orders().len(), before, "{what}: nothing forwarded");
}

#[tokio::test]
async fn a_session_never_opens_a_transaction_route() {
    let (shop, gw) = shop_and_gateway().await;
    for h2 in [H1, H2] {
        // A fresh session from an ordinary sign-in: it opens /checkout...
        let mut b = gw.browser(h2);
        b.log_in(PHONE, "/checkout").await;
        assert!(b.cookies.contains_key("__Host-otpgate"));
        let page = b.get("/checkout/cart").await;
        assert_eq!(page.status, 200, "an ordinary route opens");
        // ...and never the transaction route.
        held_not_forwarded(&shop, &gw, h2, &b.cookies, "ordinary session").await;

        // The session the transaction's own verify issued.
        let mut t = gw.browser(h2);
        let (code, _) = hold_and_send(&gw, &mut t, FORM, b"sku=2&amount=5.00").await;
        let done = t.enter_code(&code).await;
        assert!(placed(&done), "{done:?}");
        assert!(
            t.cookies.contains_key("__Host-otpgate"),
            "a session for ordinary routes"
        );
        held_not_forwarded(&shop, &gw, h2, &t.cookies, "the verify's own session").await;
        // Forward auth cannot hold a request: it never says yes to one,
        // named or not (the peer here is not a trusted proxy, so the
        // target is unknown: fail closed), though it opens /checkout.
        let session = t.cookies["__Host-otpgate"].clone();
        let fa = |uri: &'static str| {
            let gw = &gw;
            let session = session.clone();
            async move {
                let h = [("X-Original-URI", uri), ("X-Original-Method", "POST")];
                crate::support::forward_auth(gw, &h, Some(&session)).await.0
            }
        };
        assert_eq!(fa(PLACE).await, 401, "forward auth with a session");
    }
}

/// Behind nginx `auth_request` (a trusted proxy names the target): a
/// session passes an ordinary route and never a transaction route, nor
/// a POST that could be overridden into one.
#[tokio::test]
async fn forward_auth_never_allows_a_transaction_route() {
    let shop = crate::support::upstream().await;
    let gw = crate::support::gateway(&shop)
        .route("/checkout", "otp")
        .route_with(
            "/checkout/pay",
            "otp",
            "confirm = \"transaction\"\nmethods = [\"PUT\"]",
        )
        .set("server.trusted_proxies", "[\"127.0.0.1/32\"]")
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let session = b.cookies["__Host-otpgate"].clone();
    for (method, uri, want) in [
        ("GET", "/checkout/cart", 200),
        ("PUT", "/checkout/pay", 401),
        ("POST", "/checkout/pay", 401),
        ("PUT", "/checkout/pay/%2e", 401),
    ] {
        let h = [("X-Original-URI", uri), ("X-Original-Method", method)];
        let got = crate::support::forward_auth(&gw, &h, Some(&session))
            .await
            .0;
        assert_eq!(got, want, "{method} {uri}");
    }
}
