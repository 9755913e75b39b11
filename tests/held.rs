//! The held request (SPEC "Checkout integrity"): a protected POST without a
//! session is kept across the code step and reaches the storefront exactly
//! once, byte for byte, as the verified shopper — never before the code,
//! never twice (double verify, reload, another browser, a race), never
//! when it is too large, and not at all with `[hold] enabled = false`.

mod support;

use std::time::Duration;

use otpgate::clock::ManualClock;
use support::{gateway, upstream, Browser, Gw, Shop, H1, H2, PHONE};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json; charset=utf-8";
const MULTIPART: &str = "multipart/form-data; boundary=----otpgateXYZ";

/// Three checkouts as the storefront's page would submit them.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let form = b"item=42&qty=2&note=caf%C3%A9+%26+more&csrf_shop=s3cr3t".to_vec();
    let json =
        br#"{"items":[{"sku":"A-1","qty":2}],"total":"1299.00","note":"caf\u00e9"}"#.to_vec();
    let mut multipart = b"------otpgateXYZ\r\nContent-Disposition: form-data; name=\"item\"\r\n\r\n42\r\n------otpgateXYZ\r\nContent-Disposition: form-data; name=\"gift\"; filename=\"card.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    multipart.extend_from_slice(&[0, 1, 2, 0xff, 0xfe, b'\r', b'\n', b'-', b'-']);
    multipart.extend_from_slice(b"\r\n------otpgateXYZ--\r\n");
    vec![(FORM, form), (JSON, json), (MULTIPART, multipart)]
}

const MANY: &str = "{ max = 1000, window = \"1h\" }";

async fn shop_and_gateway() -> (Shop, Gw) {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("limits.send_per_phone", MANY)
        .set("limits.send_per_ip", MANY)
        .set("limits.send_per_prefix", MANY)
        .set("limits.verify_per_ip", MANY)
        .run()
        .await;
    (shop, gw)
}

/// Submits the order, then asks for a code from the page it lands on.
/// Returns the code.
async fn hold_and_send(b: &mut Browser, ct: &str, body: Vec<u8>) -> String {
    let held = b.submit("/checkout/place-order?from=cart", ct, body).await;
    assert_eq!(
        held.status, 303,
        "a browser is sent to the login page: {held:?}"
    );
    let login = held.location().to_string();
    assert!(login.starts_with("/.otpgate/login?rd="), "{login}");
    let page = b.get(&login).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let sent = b
        .post_form(
            "/.otpgate/send",
            &[("phone", PHONE), ("csrf", &csrf), ("rd", "/cart")],
        )
        .await;
    assert_eq!(sent.status, 303, "send: {}", sent.body);
    b.code_for(PHONE)
}

#[tokio::test]
async fn form_json_and_multipart_reach_the_storefront_once_after_the_code() {
    for (i, (ct, body)) in bodies().into_iter().enumerate() {
        let (shop, gw) = shop_and_gateway().await;
        // The multipart one over HTTP/2, where the host is `:authority`.
        let mut b = gw.browser(i == 2);
        b.cookies.insert("shop_cart".into(), "c-77".into());
        let code = hold_and_send(&mut b, ct, body.clone()).await;
        assert!(shop.orders().is_empty(), "{ct}: nothing before the code");
        let done = b.enter_code(&code).await;
        // The storefront's own answer: its 303 to the order page.
        assert_eq!(done.status, 303, "{ct}: {done:?}");
        assert_eq!(done.location(), "/orders/1", "{ct}");
        assert!(
            b.cookies.contains_key("__Host-otpgate"),
            "{ct}: the session is set too"
        );
        assert_eq!(
            b.cookies.get("shop_last_order").map(String::as_str),
            Some("1")
        );
        let orders = shop.orders();
        assert_eq!(orders.len(), 1, "{ct}: exactly one");
        let o = &orders[0];
        assert_eq!(o.method, "POST");
        assert_eq!(o.target, "/checkout/place-order?from=cart", "{ct}");
        assert_eq!(o.header("content-type"), Some(ct), "{ct}");
        assert_eq!(o.body, body, "{ct}: byte for byte");
        assert_eq!(
            o.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(o.header("x-otpgate-phone"), Some(PHONE), "{ct}");
        assert!(o.header("x-forwarded-for").is_some() && o.header("x-request-id").is_some());
        let host = format!("127.0.0.1:{}", gw.addr.port());
        assert_eq!(o.header("x-forwarded-host"), Some(host.as_str()), "{ct}");
        // The browser's storefront cookies go along; otpgate's never do.
        let cookie = o.header("cookie").unwrap_or("");
        assert!(cookie.contains("shop_cart=c-77"), "{cookie}");
        assert!(!cookie.contains("otpgate"), "{cookie}");
        // The shopper lands on the confirmation.
        let page = b.get("/orders/1").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Order 1 confirmed"));
        assert_eq!(shop.orders().len(), 1, "{ct}");
    }
}

#[tokio::test]
async fn double_verify_reload_back_and_another_browser_never_send_it_again() {
    let (shop, gw) = shop_and_gateway().await;
    let mut b = gw.browser(H1);
    let code = hold_and_send(&mut b, FORM, b"item=1".to_vec()).await;
    let page = b.get("/.otpgate/verify").await;
    let csrf = page.csrf();
    // Another browser with a copy of this one's cookies (a stolen or
    // synced pending cookie), kept for later.
    let mut copy = gw.browser(H2);
    copy.cookies = b.cookies.clone();
    let stolen = b.cookies.clone();
    let done = b.enter_code_raw(&code, &csrf).await;
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(shop.orders().len(), 1);
    // Double submit of the code form, then the back button and a reload.
    let again = b.enter_code_raw(&code, &csrf).await;
    assert!(
        again.status != 303 || !again.location().starts_with("/orders"),
        "{again:?}"
    );
    let back = b.get("/.otpgate/verify").await;
    assert_ne!(back.status, 200, "no code page for a spent challenge");
    let reload = b.enter_code_raw(&code, &csrf).await;
    assert!(reload.status != 303 || !reload.location().starts_with("/orders"));
    let other = copy.enter_code_raw(&code, &csrf).await;
    assert!(
        other.status != 303 || !other.location().starts_with("/orders"),
        "{other:?}"
    );
    // The copy asks for a code of its own (another number) with the
    // copied pending cookie, which still names the held request.
    let mut copy = gw.browser(H2);
    copy.cookies = stolen;
    let sent = copy.start("+919876543210", "/").await;
    assert_eq!(sent.status, 303, "{sent:?}");
    let theirs = copy.enter_code(&copy.code_for("+919876543210")).await;
    assert_eq!(theirs.status, 303);
    assert!(!theirs.location().starts_with("/orders"), "{theirs:?}");
    assert_eq!(shop.orders().len(), 1, "still exactly one order");
}

#[tokio::test]
async fn two_browsers_racing_with_one_pending_cookie_send_it_once() {
    let (shop, gw) = shop_and_gateway().await;
    for round in 1..=20 {
        let mut b = gw.browser(H1);
        let code = hold_and_send(&mut b, FORM, format!("round={round}").into_bytes()).await;
        let csrf = b.get("/.otpgate/verify").await.csrf();
        let mut twin = gw.browser(H2);
        twin.cookies = b.cookies.clone();
        let (x, y) = tokio::join!(
            b.enter_code_raw(&code, &csrf),
            twin.enter_code_raw(&code, &csrf)
        );
        let placed = [&x, &y]
            .iter()
            .filter(|r| r.status == 303 && r.location().starts_with("/orders/"))
            .count();
        assert_eq!(placed, 1, "round {round}: {x:?} {y:?}");
        assert_eq!(shop.orders().len(), round, "round {round}");
    }
}

#[tokio::test]
async fn a_script_gets_401_held_and_the_json_api_sends_it() {
    let (shop, gw) = shop_and_gateway().await;
    let mut s = gw.browser(H1);
    let body = br#"{"sku":"A-1","qty":1}"#.to_vec();
    let r = s
        .fetch("POST", "/checkout/place-order", JSON, body.clone())
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let v = r.json();
    assert_eq!(v["error"], "otp_required");
    assert_eq!(v["held"], true);
    assert!(v["login_url"]
        .as_str()
        .unwrap()
        .starts_with("/.otpgate/login?rd="));
    let sent = s
        .api("/.otpgate/api/send", serde_json::json!({ "phone": PHONE }))
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    assert!(shop.orders().is_empty());
    let code = s.code_for(PHONE);
    let done = s
        .api("/.otpgate/api/verify", serde_json::json!({ "code": code }))
        .await;
    assert_eq!(done.status, 303, "the storefront's answer: {done:?}");
    assert!(s.cookies.contains_key("__Host-otpgate"));
    let orders = shop.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].body, body);
    assert_eq!(orders[0].header("content-type"), Some(JSON));
    let again = s
        .api("/.otpgate/api/verify", serde_json::json!({ "code": code }))
        .await;
    assert_ne!(again.status, 303);
    assert_eq!(shop.orders().len(), 1);
}

#[tokio::test]
async fn a_page_answer_is_shown_with_its_content_location() {
    let (shop, gw) = shop_and_gateway().await;
    let mut b = gw.browser(H1);
    let held = b
        .submit("/checkout/confirm", FORM, b"item=9".to_vec())
        .await;
    assert_eq!(held.status, 303);
    let sent = b.start(PHONE, "/cart").await;
    assert_eq!(sent.status, 303);
    let code = b.code_for(PHONE);
    let done = b.enter_code(&code).await;
    assert_eq!(done.status, 200, "{done:?}");
    assert!(done.body.contains("Order 1 confirmed"), "{}", done.body);
    assert_eq!(done.header("content-location"), Some("/checkout/confirm"));
    // Shown under /.otpgate/verify: its relative links still resolve
    // against the storefront's URL.
    assert!(
        done.body
            .contains("<head><base href=\"/checkout/confirm\"><title>"),
        "{}",
        done.body
    );
    assert_eq!(
        done.header("content-length"),
        Some(done.body.len().to_string().as_str())
    );
    assert!(done
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(b.cookies.contains_key("__Host-otpgate"));
    assert_eq!(shop.orders().len(), 1);
}

#[tokio::test]
async fn a_body_over_max_body_is_refused_whole_and_nothing_is_forwarded() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("hold.max_body", "\"1KiB\"")
        .run()
        .await;
    let mut b = gw.browser(H1);
    let r = b
        .submit("/checkout/place-order", FORM, vec![b'a'; 1025])
        .await;
    assert_eq!(r.status, 413, "{r:?}");
    assert!(
        r.body.contains("too large"),
        "a page that says so: {}",
        r.body
    );
    assert!(
        !b.cookies.keys().any(|k| k.contains("pending")),
        "nothing held"
    );
    let exact = b
        .submit("/checkout/place-order", FORM, vec![b'a'; 1024])
        .await;
    assert_eq!(exact.status, 303, "exactly max_body is kept");
    // A chunked body (no Content-Length) is capped while it is read.
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'b'; 400]))),
    );
    let client = gw.client(H1);
    let r = client
        .post(gw.url("/checkout/place-order"))
        .header("content-type", FORM)
        .header("accept", "application/json")
        .header("origin", gw.url(""))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "payload_too_large", "{v}");
    assert_eq!(v["max_body"], 1024);
    assert_eq!(shop.count(), 0, "the storefront saw nothing");
}

/// Another site's page auto-submits an order form at the shop. Held, it
/// would be replayed with the shopper's cookies once they enter a code:
/// a forged order. It is never held, whatever the browser says.
#[tokio::test]
async fn a_post_from_another_site_is_never_held() {
    let (shop, gw) = shop_and_gateway().await;
    let client = gw.client(H1);
    let forged: [&[(&str, &str)]; 5] = [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        &[
            ("sec-fetch-site", "same-site"),
            ("referer", &gw.url("/cart")),
        ],
        &[
            ("origin", "https://evil.example"),
            ("referer", &gw.url("/cart")),
        ],
        &[("origin", "null")],
        &[("referer", "https://evil.example/shop")],
    ];
    let mut b = gw.browser(H1);
    for headers in forged {
        let mut req = client
            .post(gw.url("/checkout/place-order"))
            .header("content-type", FORM)
            .header("accept", "text/html")
            .body("item=forged");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{headers:?}");
        assert!(
            r.headers().get("set-cookie").is_none(),
            "{headers:?}: nothing held"
        );
        // Even when the victim's own browser carries the answer's cookies.
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v.get("held").is_none(), "{headers:?}: {v}");
    }
    let done = b.log_in(PHONE, "/cart").await;
    assert_eq!(done.location(), "/cart");
    assert!(shop.orders().is_empty(), "no forged order");
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_held_requests_total{outcome=\"refused\"} 5"),
        "{m}"
    );
}

#[tokio::test]
async fn hold_disabled_is_todays_behaviour() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("hold.enabled", "false")
        .run()
        .await;
    let mut b = gw.browser(H1);
    let r = b
        .submit("/checkout/place-order", FORM, b"item=1".to_vec())
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.json().get("held").is_none());
    assert!(!b.cookies.keys().any(|k| k.contains("pending")));
    let done = b.log_in(PHONE, "/cart").await;
    assert_eq!(done.location(), "/cart");
    assert_eq!(shop.count(), 0, "nothing was kept to send");
}

#[tokio::test]
async fn a_held_request_expires_with_its_challenge() {
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("otp.ttl", "\"5m\"")
        .clock(clock.clone())
        .run()
        .await;
    // Held at 0:00, code asked for at 4:00: it lives 5 min from the code.
    let mut b = gw.browser(H1);
    b.submit("/checkout/place-order", FORM, b"late=1".to_vec())
        .await;
    clock.advance(Duration::from_secs(240));
    let sent = b.start(PHONE, "/cart").await;
    assert_eq!(sent.status, 303);
    clock.advance(Duration::from_secs(240));
    let done = b.enter_code(&b.code_for(PHONE)).await;
    assert_eq!(
        done.location(),
        "/orders/1",
        "8 min after the hold, 4 after the code"
    );
    // Held, then 6 min before the code is asked for: gone; the shopper
    // verifies and goes back to the page they came from; nothing is sent.
    let mut c = gw.browser(H1);
    c.submit("/checkout/place-order", FORM, b"stale=1".to_vec())
        .await;
    clock.advance(Duration::from_secs(360));
    let sent = c.start(PHONE, "/cart").await;
    assert_eq!(sent.status, 303);
    let done = c.enter_code(&c.code_for(PHONE)).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), "/cart");
    assert_eq!(shop.orders().len(), 1, "the stale order was never sent");
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_held_requests_total{outcome=\"held\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("otpgate_held_requests_total{outcome=\"replayed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("otpgate_held_requests_total{outcome=\"expired\"} 1"),
        "{m}"
    );
}
