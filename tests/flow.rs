//! The step-up flow end to end over TLS, HTTP/1.1 and HTTP/2.

mod support;

use support::{gateway, upstream, H1, H2, PHONE};

async fn whole_flow(h2: bool) {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(h2);

    let first = b.get("/checkout?step=2").await;
    assert_eq!(first.status, 302);
    assert_eq!(
        first.location(),
        "/.otpgate/login?rd=%2Fcheckout%3Fstep%3D2"
    );
    assert_eq!(
        shop.count(),
        0,
        "nothing reached the shop without a session"
    );

    let done = b.log_in("+91 98123 45678", "/checkout?step=2").await;
    assert_eq!(done.location(), "/checkout?step=2");
    let session_cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-otpgate="))
        .unwrap()
        .clone();
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            session_cookie.contains(attr),
            "{attr} missing in {session_cookie}"
        );
    }
    assert!(!session_cookie.to_ascii_lowercase().contains("domain="));

    let page = b.get("/checkout?step=2").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.version,
        if h2 {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        }
    );
    let seen = shop.last();
    assert_eq!(seen.target, "/checkout?step=2");
    assert_eq!(seen.header("x-otpgate-phone"), Some(PHONE));
    let at: u64 = seen
        .header("x-otpgate-verified-at")
        .unwrap()
        .parse()
        .unwrap();
    assert!(at > 1_700_000_000);
    let cookie = seen.header("cookie").unwrap_or("");
    assert!(
        !cookie.contains("otpgate"),
        "otpgate's cookies reached the shop: {cookie}"
    );
}

#[tokio::test]
async fn whole_flow_http1() {
    whole_flow(H1).await;
}

#[tokio::test]
async fn whole_flow_http2() {
    whole_flow(H2).await;
}

#[tokio::test]
async fn sms_has_code_brand_and_autofill_line() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("server.public_host", "\"shop.example\"")
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let (to, body) = gw.sms().pop().unwrap();
    assert_eq!(to, PHONE);
    let code = support::code_in(&body);
    assert_eq!(code.len(), 6);
    assert!(body.contains("Test Shop"));
    assert!(
        body.ends_with(&format!("\n@shop.example #{code}")),
        "{body}"
    );
}

#[tokio::test]
async fn without_public_host_the_autofill_line_is_left_out() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/").await;
    let (_, body) = gw.sms().pop().unwrap();
    assert!(
        !body.contains('@'),
        "a client-chosen Host must not bind the code: {body}"
    );
}

#[tokio::test]
async fn unprotected_routes_pass_and_sessions_identify_everywhere() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .route("/checkout/assets", "none")
        .run()
        .await;
    let mut b = gw.browser(H1);
    assert_eq!(b.get("/checkout/assets/app.css").await.status, 200);
    assert_eq!(shop.last().header("x-otpgate-phone"), None);
    b.log_in(PHONE, "/").await;
    assert_eq!(b.get("/").await.status, 200);
    assert_eq!(shop.last().header("x-otpgate-phone"), Some(PHONE));
}

#[tokio::test]
async fn api_clients_get_401_json_and_browsers_302() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let c = gw.client(H1);
    for (method, headers) in [
        ("GET", vec![("accept", "application/json")]),
        (
            "GET",
            vec![
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ],
        ),
        (
            "GET",
            vec![("accept", "text/html"), ("sec-fetch-mode", "cors")],
        ),
        // A script's POST (a browser's form POST is held: tests/held.rs).
        (
            "POST",
            vec![("accept", "text/html"), ("sec-fetch-mode", "cors")],
        ),
        ("DELETE", vec![]),
    ] {
        let mut req = c.request(method.parse().unwrap(), gw.url("/checkout"));
        for (k, v) in headers.clone() {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{method} {headers:?}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "otp_required");
        assert_eq!(v["login_url"], "/.otpgate/login?rd=%2Fcheckout");
    }
    for headers in [
        vec![("accept", "text/html,application/xhtml+xml")],
        vec![("sec-fetch-mode", "navigate")],
    ] {
        let mut req = c.get(gw.url("/checkout"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        assert_eq!(req.send().await.unwrap().status(), 302);
    }
    let head = c
        .head(gw.url("/checkout"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 302);
    assert_eq!(shop.count(), 0);
}

#[tokio::test]
async fn max_age_per_route_asks_again_after_it_passes() {
    let clock = otpgate::clock::ManualClock::starting_now();
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"5m\"")
        .route_with("/account", "otp", "max_age = \"2h\"")
        .set("session.ttl", "\"2h\"")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
    clock.advance(std::time::Duration::from_secs(6 * 60));
    assert_eq!(
        b.get("/checkout").await.status,
        302,
        "older than the route's max_age"
    );
    assert_eq!(
        b.get("/account").await.status,
        200,
        "still fresh for a longer max_age"
    );
    // Exactly at ttl (= /account's max_age) the age is still allowed
    // (`<=`): only the session's own expiry refuses it.
    clock.advance(std::time::Duration::from_secs(2 * 3600 - 6 * 60 - 1));
    assert_eq!(
        b.get("/account").await.status,
        200,
        "a second before expiry"
    );
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        b.get("/account").await.status,
        302,
        "the session itself expired"
    );
}

#[tokio::test]
async fn resend_waits_then_replaces_the_code() {
    let clock = otpgate::clock::ManualClock::starting_now();
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let first = b.code_for(PHONE);
    let page = b.get("/.otpgate/verify").await;
    let early = b
        .post_form("/.otpgate/resend", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(early.status, 429);
    assert!(early.header("retry-after").unwrap().parse::<u64>().unwrap() >= 29);
    assert_eq!(gw.sms().len(), 1, "no SMS before resend_after");
    clock.advance(std::time::Duration::from_secs(31));
    let again = b
        .post_form("/.otpgate/resend", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let second = b.code_for(PHONE);
    assert_eq!(gw.sms().len(), 2);
    if first != second {
        let old = b.enter_code(&first).await;
        assert_eq!(old.status, 422, "the replaced code no longer works");
    }
    assert_eq!(b.enter_code(&second).await.status, 303);
}

#[tokio::test]
async fn logout_clears_and_revokes_the_session() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H2);
    b.log_in(PHONE, "/checkout").await;
    let stolen = b.cookies.get("__Host-otpgate").unwrap().clone();
    let page = b.get("/.otpgate/login").await;
    let out = b
        .post_form("/.otpgate/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/.otpgate/logout?rd=%2F");
    assert!(!b.cookies.contains_key("__Host-otpgate"));
    assert_eq!(b.get("/checkout").await.status, 302);
    b.cookies.insert("__Host-otpgate".into(), stolen);
    assert_eq!(
        b.get("/checkout").await.status,
        302,
        "a copy of the logged-out cookie is dead too"
    );
}

#[tokio::test]
async fn json_api_walks_the_same_flow() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    let none = b.get("/.otpgate/api/session").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["authenticated"], false);
    let bad = b
        .post_json("/.otpgate/api/send", serde_json::json!({"phone": "12"}))
        .await;
    assert_eq!(
        (bad.status, bad.json()["error"].as_str()),
        (422, Some("invalid_phone"))
    );
    let sent = b
        .post_json(
            "/.otpgate/api/send",
            serde_json::json!({"phone": PHONE, "rd": "/checkout"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["phone"], "+91******5678");
    let wrong = b
        .post_json(
            "/.otpgate/api/verify",
            serde_json::json!({"code": "000000"}),
        )
        .await;
    let code = b.code_for(PHONE);
    if code != "000000" {
        assert_eq!(
            (wrong.status, wrong.json()["error"].as_str()),
            (422, Some("wrong_code"))
        );
        assert_eq!(wrong.json()["remaining"], 4);
    }
    let ok = b
        .post_json("/.otpgate/api/verify", serde_json::json!({"code": code}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["phone"], PHONE);
    assert_eq!(ok.json()["redirect"], "/checkout");
    let me = b.get("/.otpgate/api/session").await;
    assert_eq!(me.json()["phone"], PHONE);
    // A form post (what a cross-site page can send) is not accepted.
    let forged = b.post_form("/.otpgate/api/send", &[("phone", PHONE)]).await;
    assert_eq!(forged.status, 403);
}

/// The storefront's own "Log out" button (no CSRF token) works from the
/// same origin; a cross-site post without the token does not.
#[tokio::test]
async fn same_origin_logout_needs_no_token_but_cross_site_does() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let cookie = format!("__Host-otpgate={}", b.cookies["__Host-otpgate"]);
    let post = |site: &'static str| {
        gw.client(H1)
            .post(gw.url("/.otpgate/logout"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .body("")
            .send()
    };
    assert_eq!(post("cross-site").await.unwrap().status(), 403);
    assert_eq!(b.get("/checkout").await.status, 200, "still signed in");
    assert_eq!(post("same-origin").await.unwrap().status(), 303);
    assert_eq!(b.get("/checkout").await.status, 302, "signed out");
}

/// otpgate's own pages: never cached, never framed, no referrer, and a CSP
/// that allows exactly their own inline style and script (by hash), in
/// every language.
#[tokio::test]
async fn own_pages_carry_strict_security_headers() {
    use base64::Engine;
    use sha2::Digest;
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["en", "hi"]"#)
        .run()
        .await;
    let mut b = gw.browser(H2);
    let login = b.get("/.otpgate/login?rd=%2Fcheckout").await;
    b.start(PHONE, "/checkout").await;
    let verify = b.get("/.otpgate/verify").await;
    let login_hi = b.get("/.otpgate/login?rd=%2Fcheckout&lang=hi").await;
    let verify_hi = b.get("/.otpgate/verify").await;
    assert!(login_hi.body.contains("<html lang=\"hi\""));
    assert!(verify_hi.body.contains("<html lang=\"hi\""));
    for page in [&login, &verify, &login_hi, &verify_hi] {
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        for (open, close) in [("<style>", "</style>"), ("<script>", "</script>")] {
            let start = page.body.find(open).unwrap() + open.len();
            let inline = &page.body[start..start + page.body[start..].find(close).unwrap()];
            let hash = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(inline.as_bytes()));
            assert!(
                csp.contains(&format!("'sha256-{hash}'")),
                "{open} not allowed by {csp}"
            );
        }
        assert!(
            !page.body.contains("http://") && !page.body.contains("https://"),
            "no external assets"
        );
    }
    let api = b.get("/.otpgate/api/session").await;
    assert_eq!(api.header("cache-control"), Some("no-store"));
}
