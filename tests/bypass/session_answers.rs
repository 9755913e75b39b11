//! What a session changes about a forwarded request: its answer is private
//! to the shopper (no shared cache may keep it), and a method-limited rule
//! cannot be dodged by a `POST` that the framework turns into the method
//! (`_method=DELETE` in Rails, Laravel, Symfony, Express).

use crate::forward_auth::session_cookie;
use crate::support::{gateway, status_of, upstream};
use crate::{header_of, report, verdict, Expect};

fn request(
    method: &str,
    target: &str,
    cookie: Option<&str>,
    body: Option<(&str, &str)>,
) -> Vec<u8> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: __Host-otpgate={c}\r\n"));
    }
    match body {
        Some((ct, b)) => req.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => req.push_str("\r\n"),
    }
    req.into_bytes()
}

#[tokio::test]
async fn answers_to_a_session_are_private_unless_the_shop_decides() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let cookie = session_cookie(&gw).await;
    let cases = [
        ("/checkout/cart", Some(cookie.as_str()), Some("private")),
        ("/public", Some(cookie.as_str()), Some("private")),
        ("/cached", Some(cookie.as_str()), Some("public, max-age=60")),
        ("/public", None, None),
        ("/cached", None, Some("public, max-age=60")),
    ];
    for (target, cookie, want) in cases {
        let raw = gw.raw_h1(&request("GET", target, cookie, None)).await;
        assert_eq!(status_of(&raw), 200, "{target}: {raw}");
        assert_eq!(
            header_of(&raw, "cache-control"),
            want,
            "{target} {cookie:?}"
        );
    }
}

#[tokio::test]
async fn a_post_cannot_override_its_way_past_a_method_limited_rule() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route_with("/cart", "otp", "methods = [\"DELETE\"]")
        .route_with("/orders", "otp", "methods = [\"PUT\", \"PATCH\"]")
        .run()
        .await;
    let form = Some(("application/x-www-form-urlencoded", "_method=DELETE"));
    let json = Some(("application/json", r#"{"_method":"DELETE"}"#));
    let multipart = Some((
        "multipart/form-data; boundary=b",
        "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n",
    ));
    let text = Some(("text/plain", "_method=DELETE"));
    let cases = [
        ("POST", "/cart", form, Expect::Otp),
        ("POST", "/cart/42", json, Expect::Otp),
        ("POST", "/cart", multipart, Expect::Otp),
        ("POST", "/cart", text, Expect::Otp),
        ("POST", "/cart?_method=DELETE", None, Expect::Otp),
        ("post", "/CART", form, Expect::Otp),
        (
            "POST",
            "/orders/1",
            Some(("application/x-www-form-urlencoded", "_method=PUT")),
            Expect::Otp,
        ),
        ("DELETE", "/cart", None, Expect::Otp),
        ("GET", "/cart", None, Expect::Pass("/cart")),
        ("POST", "/elsewhere", form, Expect::Pass("/elsewhere")),
    ];
    let mut failures = Vec::new();
    for (method, target, body, expect) in cases {
        let before = shop.count();
        let raw = gw.raw_h1(&request(method, target, None, body)).await;
        failures.extend(verdict(
            &shop,
            before,
            status_of(&raw),
            expect,
            &format!("{method} {target} {body:?}"),
        ));
    }
    // With a session the same POST goes through.
    let cookie = session_cookie(&gw).await;
    let before = shop.count();
    let raw = gw
        .raw_h1(&request("POST", "/cart", Some(&cookie), form))
        .await;
    failures.extend(verdict(
        &shop,
        before,
        status_of(&raw),
        Expect::Pass("/cart"),
        "with a session",
    ));
    report(failures, cases.len() + 1);
}
