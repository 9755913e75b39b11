//! Survivor: `X-Original-URL`, `X-Rewrite-URL` and `X-HTTP-Method-Override`
//! reached the storefront (the corpus case checked only the status). IIS,
//! Symfony and Zend route on the first two instead of the request line;
//! Rails, Laravel and Express take the method from the override. otpgate
//! decided on the request line, so whatever the storefront would route on
//! instead lets a request for a public page run a protected one.

use crate::support::{gateway, upstream, Gw, H2Answer, Shop, H1, PHONE};

const REROUTING: &[(&str, &str)] = &[
    ("X-Original-URL", "/checkout"),
    ("X-Rewrite-URL", "/checkout"),
    ("X-Original-URI", "/checkout"),
    ("X-Original-Method", "DELETE"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("X-HTTP-Method", "DELETE"),
    ("X-Method-Override", "DELETE"),
];

fn h1(method: &str, target: &str, cookie: Option<&str>) -> Vec<u8> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in REROUTING {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: __Host-otpgate={c}\r\n"));
    }
    req.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    req.into_bytes()
}

/// The storefront saw exactly the request line, and none of the headers.
fn assert_rerouting_stripped(shop: &Shop, method: &str, target: &str, what: &str) {
    let seen = shop.last();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        (method, target),
        "{what}"
    );
    for (name, _) in REROUTING {
        assert_eq!(
            seen.header(name),
            None,
            "{what}: {name} reached the shop: {seen:?}"
        );
    }
}

async fn setup() -> (Shop, Gw, String) {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/").await;
    let cookie = b.cookies["__Host-otpgate"].clone();
    (shop, gw, cookie)
}

#[tokio::test]
async fn rerouting_headers_never_reach_the_storefront_over_http1() {
    let (shop, gw, cookie) = setup().await;
    let before = shop.count();
    for (method, target, cookie) in [
        ("GET", "/public", None),
        ("POST", "/public", None),
        ("GET", "/checkout", Some(cookie.as_str())),
        ("POST", "/checkout", Some(cookie.as_str())),
    ] {
        let raw = gw.raw_h1(&h1(method, target, cookie)).await;
        assert!(raw.starts_with("HTTP/1.1 200"), "{method} {target}: {raw}");
        assert_rerouting_stripped(&shop, method, target, &format!("H1 {method} {target}"));
    }
    assert_eq!(shop.count(), before + 4);
}

#[tokio::test]
async fn rerouting_headers_never_reach_the_storefront_over_http2() {
    let (shop, gw, cookie) = setup().await;
    let c = format!("__Host-otpgate={cookie}");
    let mut with_cookie = REROUTING.to_vec();
    with_cookie.push(("cookie", &c));
    for (method, target, headers) in [
        ("GET", "/public", REROUTING),
        ("POST", "/public", REROUTING),
        ("GET", "/checkout", with_cookie.as_slice()),
        ("POST", "/checkout", with_cookie.as_slice()),
    ] {
        assert_eq!(
            gw.raw_h2(method, target, headers).await,
            H2Answer::Status(200),
            "{method} {target}"
        );
        assert_rerouting_stripped(&shop, method, target, &format!("H2 {method} {target}"));
    }
}

/// Without a session the protected route is still refused, whatever the
/// headers claim the request "really" was.
#[tokio::test]
async fn rerouting_headers_do_not_open_a_protected_route() {
    let (shop, gw, _) = setup().await;
    let before = shop.count();
    let raw = gw.raw_h1(&h1("GET", "/checkout", None)).await;
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert_eq!(
        gw.raw_h2("GET", "/checkout", REROUTING).await,
        H2Answer::Status(401)
    );
    assert_eq!(shop.count(), before);
}
