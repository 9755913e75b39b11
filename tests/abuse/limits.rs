//! Each limit, hit once: 429, `Retry-After`, the metric, and no SMS beyond it.

use serde_json::Value;

use crate::support::{gateway, upstream, H1, PHONE};
use crate::{assert_limited, h2, ip, lim, metric, phone, send, verify, wide};

/// The third send that each limit (max 2) stops, and what varies between
/// the sends so that only that limit applies.
#[tokio::test]
async fn every_send_limit_answers_429_with_retry_after() {
    let shop = upstream().await;
    // (limit, phone of send i, client address of send i)
    type Pick = fn(usize) -> (String, String);
    let cases: [(&str, Pick); 6] = [
        ("send_per_ip", |i| {
            (phone(i as u32, 1), "203.0.113.7".into())
        }),
        ("send_per_phone", |i| (phone(1, 1), ip(i))),
        ("send_per_prefix", |i| (phone(1, i as u32), ip(i))),
        ("send_per_country", |i| (phone(i as u32, 1), ip(i))),
        ("sms_per_hour", |i| (phone(i as u32, 1), ip(i))),
        ("sms_per_day", |i| (phone(i as u32, 1), ip(i))),
    ];
    for (name, pick) in cases {
        let window = if name == "sms_per_day" { "24h" } else { "1h" };
        let gw = wide(gateway(&shop))
            .set(&format!("limits.{name}"), &lim(2, window))
            .run()
            .await;
        let client = h2(&gw);
        for i in 0..2 {
            let (to, from) = pick(i);
            let ok = send(&client, &gw, &to, Some(&from)).await;
            assert_eq!(ok.status, 200, "{name} send {i}: {ok:?}");
        }
        let (to, from) = pick(2);
        let refused = send(&client, &gw, &to, Some(&from)).await;
        assert_limited(&refused);
        assert!(refused.retry_after.unwrap() <= if window == "1h" { 3600 } else { 86_400 });
        assert_eq!(gw.sms().len(), 2, "{name}: no SMS past the limit");
        let m = gw.metrics().await;
        assert_eq!(
            metric(
                &m,
                &format!("otpgate_rate_limited_total{{limit=\"{name}\"}}")
            ),
            Some(1.0),
            "{name}: {m}"
        );
    }
}

#[tokio::test]
async fn the_form_answers_a_limit_with_a_429_page() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_phone", &lim(1, "10m"))
        .run()
        .await;
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    // Another browser: in this one, a new send to the same number within
    // `resend_after` goes to the code page without texting (tests/prg.rs).
    let mut b = gw.browser(H1);
    let page = b.start(PHONE, "/checkout").await;
    assert_eq!(page.status, 429, "{}", page.body);
    let secs: u64 = page.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&secs), "{secs}");
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.body.contains("Too many attempts"), "{}", page.body);
    assert_eq!(gw.sms().len(), 1);
}

#[tokio::test]
async fn resend_before_resend_after_is_a_429() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop)).run().await;
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    let csrf = b.get("/.otpgate/verify").await.csrf();
    let page = b.post_form("/.otpgate/resend", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.header("retry-after").unwrap().parse::<u64>().unwrap() <= 30);
    assert_eq!(gw.sms().len(), 1);
    assert_eq!(
        metric(
            &gw.metrics().await,
            "otpgate_rate_limited_total{limit=\"resend_after\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn verify_limits_answer_429() {
    let shop = upstream().await;
    // Per client address: the third verify from one address.
    let gw = wide(gateway(&shop))
        .set("limits.verify_per_ip", &lim(2, "5m"))
        .run()
        .await;
    let client = h2(&gw);
    let pending = send(&client, &gw, PHONE, None).await;
    for _ in 0..2 {
        assert_eq!(
            verify(&client, &gw, "000000", &pending, None).await.status,
            422
        );
    }
    assert_limited(&verify(&client, &gw, "000000", &pending, None).await);

    // Per phone, across challenges and client addresses: the third failure.
    let gw = wide(gateway(&shop))
        .set("limits.verify_fail_per_phone", &lim(2, "1h"))
        .run()
        .await;
    let client = h2(&gw);
    let first = send(&client, &gw, PHONE, Some(&ip(1))).await;
    let second = send(&client, &gw, PHONE, Some(&ip(2))).await;
    assert_eq!(
        verify(&client, &gw, "000000", &first, Some(&ip(3)))
            .await
            .status,
        422
    );
    assert_eq!(
        verify(&client, &gw, "000000", &second, Some(&ip(4)))
            .await
            .status,
        422
    );
    // Over the budget each challenge keeps one last evaluated guess (issue
    // 8: a stranger's failures must not lock the shopper out), then 429 —
    // for the right code too, so the 429 tells a guesser nothing.
    let third = verify(&client, &gw, "000000", &second, Some(&ip(5))).await;
    assert_eq!(third.status, 422, "{third:?}");
    let code = crate::support::code_in(&gw.sms().last().unwrap().1);
    assert_limited(&verify(&client, &gw, &code, &second, Some(&ip(6))).await);
    // The first challenge's last chance is still there, and its code works.
    let code = crate::support::code_in(&gw.sms()[0].1);
    assert_eq!(
        verify(&client, &gw, &code, &first, Some(&ip(7)))
            .await
            .status,
        200
    );
    let m = gw.metrics().await;
    assert_eq!(
        metric(
            &m,
            "otpgate_rate_limited_total{limit=\"verify_fail_per_phone\"}"
        ),
        Some(1.0),
        "{m}"
    );
}

/// Enumeration: a number that is limited answers exactly like a client
/// that is limited (same status, fields and message; no limit named), so a
/// 429 does not say that someone else is using this number.
#[tokio::test]
async fn a_limited_number_looks_like_any_other_limit() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_phone", &lim(1, "1h"))
        .set("limits.send_per_ip", &lim(3, "1h"))
        .run()
        .await;
    let client = h2(&gw);
    let known = phone(7, 7);
    assert_eq!(send(&client, &gw, &known, Some(&ip(1))).await.status, 200);
    let by_phone = send(&client, &gw, &known, Some(&ip(2))).await;
    for i in 0..3 {
        send(&client, &gw, &phone(8, i), Some(&ip(3))).await;
    }
    let by_ip = send(&client, &gw, &phone(9, 9), Some(&ip(3))).await;
    assert_limited(&by_phone);
    assert_limited(&by_ip);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&by_phone.json), keys(&by_ip.json));
    assert_eq!(by_phone.json["message"], by_ip.json["message"]);
    let text = by_phone.json.to_string();
    assert!(
        !text.contains("phone") && !text.contains(&known[known.len() - 4..]),
        "{text}"
    );
}

/// Timing: with `otp.min_send_time`, a send and a refusal of the same
/// number both take at least that long.
#[tokio::test]
async fn a_refusal_takes_as_long_as_a_send() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_phone", &lim(1, "10m"))
        .set("otp.min_send_time", "\"250ms\"")
        .run()
        .await;
    let client = h2(&gw);
    for expected in [200, 429] {
        let started = std::time::Instant::now();
        assert_eq!(
            send(&client, &gw, PHONE, Some(&ip(1))).await.status,
            expected
        );
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(250),
            "{expected} after {took:?}"
        );
    }
    let m = gw.metrics().await;
    assert!(m.contains("otpgate_send_duration_seconds_count 2"), "{m}");
}

#[test]
fn detector_settings_are_checked() {
    let text = wide(crate::support::gateway_to("http://127.0.0.1:9"))
        .set(
            "limits.pumping",
            "{ min_conversion = 1.5, min_sends = 0, min_networks = 0, block_for = \"soon\", min_send = 3 }",
        )
        .set("otp.min_send_time", "\"0s\"")
        .config_text();
    let err = otpgate::config::Config::parse(&text, "test")
        .unwrap_err()
        .to_string();
    for key in [
        "limits.pumping.min_conversion",
        "limits.pumping.min_sends",
        "limits.pumping.min_networks",
        "limits.pumping.block_for",
        "limits.pumping.min_send",
        "otp.min_send_time",
    ] {
        assert!(err.contains(key), "{key} not reported in {err}");
    }
    let ok = otpgate::config::Config::parse(
        &wide(crate::support::gateway_to("http://127.0.0.1:9")).config_text(),
        "test",
    )
    .unwrap();
    let p = ok.limits.pumping;
    assert!(p.enabled);
    assert_eq!(
        (p.min_sends, p.min_conversion, p.min_networks),
        (10, 0.2, 3)
    );
    assert_eq!((p.window.as_secs(), p.block_for.as_secs()), (3600, 86_400));
    assert!(ok.otp.min_send_time.is_zero());
}
