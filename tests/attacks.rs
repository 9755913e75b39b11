//! Each security property of SPEC.md, attacked.

mod support;

use std::sync::Arc;

use support::{gateway, upstream, Browser, H1, H2, PHONE};

async fn send_code(b: &mut Browser) -> String {
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    b.code_for(PHONE)
}

fn wrong_code(right: &str, i: usize) -> String {
    let mut n: u64 = right.parse().unwrap();
    n = (n + 1 + i as u64) % 1_000_000;
    format!("{n:06}")
}

/// 50 parallel wrong guesses on one challenge: at most max_attempts are
/// evaluated, and afterwards even the right code fails.
#[tokio::test]
async fn parallel_guessing_is_bounded_by_max_attempts() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("limits.verify_per_ip", "{ max = 1000, window = \"5m\" }")
        .run()
        .await;
    let mut b = gw.browser(H2);
    let code = send_code(&mut b).await;
    let page = b.get("/.otpgate/verify").await;
    let csrf = page.csrf();
    let cookies = b.cookies.clone();
    let client = gw.client(H2);
    let url = gw.url("/.otpgate/verify");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body = format!("code={}&csrf={csrf}", wrong_code(&code, i));
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.headers().clone())
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let (status, headers) = t.await.unwrap();
        statuses.push(gw.outcome(status, &headers).0);
    }
    let wrong = statuses.iter().filter(|s| **s == 422).count();
    assert!(wrong <= 5, "{wrong} guesses were evaluated: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 422 | 410)),
        "{statuses:?}"
    );
    let late = b.enter_code_raw(&code, &csrf).await;
    assert_ne!(
        late.status, 303,
        "the right code must fail after the challenge is void"
    );
    assert_eq!(shop.count(), 0);
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_otp_failed_total{reason=\"wrong_code\"} 4"),
        "{m}"
    );
}

/// The right code submitted 20 times at once succeeds exactly once.
#[tokio::test]
async fn a_code_works_exactly_once_under_parallel_submission() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    let code = send_code(&mut b).await;
    let csrf = b.get("/.otpgate/verify").await.csrf();
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let client = gw.client(H2);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let req = client
            .post(gw.url("/.otpgate/verify"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("code={code}&csrf={csrf}"));
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.headers().clone())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, headers) = t.await.unwrap();
        if gw.outcome(status, &headers) == (303, None) {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

/// Every byte of the session cookie flipped, truncated, sealed under
/// another key, or expired: all the same as no cookie.
#[tokio::test]
async fn tampered_cookies_are_no_session() {
    let clock = otpgate::clock::ManualClock::starting_now();
    let shop = upstream().await;
    // max_age equals the session's ttl, so at exactly ttl the route still
    // accepts the session's age (`<=`) and only its expiry can refuse it.
    let gw = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"1h\"")
        .set("session.ttl", "\"1h\"")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let good = b.cookies["__Host-otpgate"].clone();
    assert_eq!(b.get("/checkout").await.status, 200);
    let client = gw.client(H2);
    let try_cookie = |value: String| {
        let client = client.clone();
        let url = gw.url("/checkout");
        async move {
            client
                .get(url)
                .header("accept", "text/html")
                .header("cookie", format!("__Host-otpgate={value}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let bytes = good.as_bytes().to_vec();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let value = String::from_utf8(t).unwrap();
        assert_eq!(
            try_cookie(value).await,
            302,
            "flipping byte {i} still opened the session"
        );
    }
    for n in [0, 1, 10, good.len() / 2, good.len() - 1] {
        assert_eq!(
            try_cookie(good[..n].to_string()).await,
            302,
            "truncated to {n}"
        );
    }
    assert_eq!(try_cookie(format!("{good}{good}")).await, 302);
    let other = otpgate::session::CookieSealer::new(&otpgate::config::SessionConfig {
        secrets: vec![otpgate::config::Secret::new(
            "another-secret-another-secret-another",
        )],
        ttl: std::time::Duration::from_secs(3600),
        cookie_name: "__Host-otpgate".into(),
    });
    let now = otpgate::clock::Clock::now_secs(&clock);
    let foreign = otpgate::session::Session {
        id: "x".into(),
        phone: PHONE.into(),
        verified_at: now,
        expires_at: now + 3600,
        epoch: 1,
    };
    let sealed = other.session_cookie(&foreign, now);
    let value = sealed
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    assert_eq!(
        try_cookie(value).await,
        302,
        "a cookie sealed with another key"
    );
    assert_eq!(
        shop.count(),
        1,
        "only the one legitimate request reached the shop"
    );
    clock.advance(std::time::Duration::from_secs(3600 - 1));
    assert_eq!(
        try_cookie(good.clone()).await,
        200,
        "a second before expiry"
    );
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(try_cookie(good).await, 302, "expired");
}

// Key rotation across a restart needs a store that outlives the process
// (a memory store's restart signs everyone out: its epoch is new), so that
// test lives with the Redis tests: tests/redis_store/gateways.rs.

/// A challenge belongs to the browser that asked for it.
#[tokio::test]
async fn challenges_are_bound_to_their_browser() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut victim = gw.browser(H1);
    victim.start(PHONE, "/checkout").await;
    let victim_code = victim.code_for(PHONE);
    // The attacker knows the code (e.g. shoulder-surfed) but has no pending cookie.
    let mut attacker = gw.browser(H1);
    attacker.get("/.otpgate/login").await;
    let csrf = attacker.get("/.otpgate/login").await.csrf();
    let r = attacker
        .post_form(
            "/.otpgate/verify",
            &[("code", &victim_code), ("csrf", &csrf)],
        )
        .await;
    // Without a pending cookie there is no challenge to check the code
    // against: back to the phone page, the code never evaluated.
    assert_eq!((r.status, r.location()), (303, "/.otpgate/login"), "{r:?}");
    assert!(!attacker.cookies.contains_key("__Host-otpgate"));
    // The attacker starts their own challenge for the same phone and burns
    // all its attempts (each one really evaluated: 422 with fewer tries
    // left, then 410 when the challenge is voided); the victim's code
    // still works.
    assert_eq!(attacker.start(PHONE, "/").await.status, 303);
    let mut steps = Vec::new();
    for i in 0..6 {
        let r = attacker
            .enter_code_raw(&wrong_code(&victim_code, i), &csrf)
            .await;
        steps.push(r.status);
    }
    assert_eq!(
        steps,
        [422, 422, 422, 422, 410, 303],
        "the attacker's steps"
    );
    assert!(!attacker.cookies.contains_key("__Host-otpgate"));
    assert_eq!(
        victim.enter_code(&victim_code).await.status,
        303,
        "nothing another browser did voided it"
    );
}

#[tokio::test]
async fn forms_need_their_csrf_token() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.get("/.otpgate/login").await;
    for token in ["", "0000", "deadbeefdeadbeefdeadbeefdeadbeef"] {
        let r = b
            .post_form("/.otpgate/send", &[("phone", PHONE), ("csrf", token)])
            .await;
        assert_eq!(r.status, 403, "token {token:?}");
    }
    let mut stranger = gw.browser(H1);
    let csrf = b.get("/.otpgate/login").await.csrf();
    let r = stranger
        .post_form("/.otpgate/send", &[("phone", PHONE), ("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 403, "a token is useless without its cookie");
    assert!(gw.sms().is_empty());
}

/// `rd` never leaves the site, even after a successful verification.
#[tokio::test]
async fn open_redirect_payloads_land_on_the_site() {
    let shop = upstream().await;
    let many = "{ max = 100, window = \"1h\" }";
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("limits.send_per_phone", many)
        .set("limits.send_per_ip", many)
        .set("limits.send_per_prefix", many)
        .run()
        .await;
    for payload in [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/%09/evil.example",
        "/%2f%2fevil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "//%5cevil.example",
        "/%0a/evil.example",
        "http:/evil.example",
        "\\\\evil.example",
    ] {
        let mut b = gw.browser(H1);
        let done = b.log_in(PHONE, payload).await;
        let loc = done.location();
        assert!(
            loc.starts_with('/')
                && !loc.starts_with("//")
                && !loc.contains('\\')
                && !loc.contains("evil"),
            "{payload:?} -> {loc:?}"
        );
        assert!(
            b.cookies.contains_key("__Host-otpgate"),
            "an invalid rd still gives a session"
        );
    }
    // Never into otpgate's own endpoints (a verified shopper bounced to
    // `/.otpgate/logout`, or to a forward-auth probe), in any spelling the
    // path normalizer folds into that prefix.
    for payload in [
        "/.otpgate/logout",
        "/.otpgate/api/send",
        "/.OTPGATE/logout",
        "/%2eotpgate/logout",
        "/%2Eotpgate/auth",
        "/./.otpgate/logout",
        "/x/../.otpgate/logout",
        "//.otpgate/logout",
        "/;x/.otpgate/logout",
        "/.otpgate",
        "/.otpgate/?x=1",
    ] {
        let mut b = gw.browser(H1);
        let done = b.log_in(PHONE, payload).await;
        assert_eq!(done.location(), "/", "{payload:?}");
    }
}

#[tokio::test]
async fn codes_never_appear_in_answers() {
    let shop = upstream().await;
    let gw = Arc::new(gateway(&shop).route("/checkout", "otp").run().await);
    let mut b = gw.browser(H1);
    let sent = b.start(PHONE, "/checkout").await;
    let code = b.code_for(PHONE);
    let page = b.get("/.otpgate/verify").await;
    for r in [&sent, &page] {
        assert!(!r.body.contains(&code));
        assert!(r
            .headers
            .iter()
            .all(|(_, v)| !v.to_str().unwrap_or("").contains(&code)));
    }
    let api = b
        .post_json("/.otpgate/api/send", serde_json::json!({"phone": PHONE}))
        .await;
    assert!(!api.body.contains(&b.code_for(PHONE)));
}
