//! SMS pumping: many numbers in one rented prefix, codes never typed.

use futures_util::stream::{self, StreamExt};

use crate::audit_log::capture;
use crate::support::{gateway, upstream, PHONE};
use crate::{assert_limited, h2, ip, lim, metric, phone, send, verify, wide};

/// A client address in its own /24 network, one per `i` (< 256).
fn spread(i: usize) -> String {
    format!("100.64.{}.1", i % 256)
}

/// 1,000 numbers in one prefix from 200 forwarded client networks, 20 at
/// a time: the detector blocks the prefix after `min_sends`, long before
/// the SMS budget, and the block costs no SMS.
#[tokio::test]
async fn a_pumping_run_is_blocked_within_budget() {
    let trail = capture();
    let shop = upstream().await;
    let budget = 100;
    let gw = gateway(&shop)
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .set("limits.send_per_prefix", &lim(5_000, "1h"))
        .set("limits.sms_per_hour", &lim(budget, "1h"))
        .set(
            "limits.pumping",
            "{ window = \"1h\", min_sends = 20, min_conversion = 0.2, block_for = \"24h\" }",
        )
        .run()
        .await;
    let client = h2(&gw);
    let statuses: Vec<(u16, Option<u64>)> = stream::iter(0..1_000usize)
        .map(|i| {
            let (client, gw) = (client.clone(), &gw);
            async move {
                let a = send(&client, gw, &phone(234, i as u32), Some(&spread(i % 200))).await;
                if a.status == 429 {
                    crate::assert_limited(&a);
                }
                (a.status, a.retry_after)
            }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let sent = gw.sms().len();
    assert!(
        sent as u64 <= budget,
        "{sent} SMS over a budget of {budget}"
    );
    assert_eq!(
        sent, 20,
        "the detector allows exactly min_sends, even 20 at a time"
    );
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 200).count(), 20);
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 429).count(), 980);
    assert!(
        statuses.iter().filter_map(|(_, r)| *r).all(|r| r > 3600),
        "blocked for the day, not an hourly limit"
    );

    let m = gw.metrics().await;
    assert_eq!(metric(&m, "otpgate_prefix_blocked"), Some(1.0), "{m}");
    assert_eq!(metric(&m, "otpgate_prefix_blocks_total"), Some(1.0), "{m}");
    assert_eq!(
        metric(&m, "otpgate_rate_limited_total{limit=\"pumping\"}"),
        Some(980.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "otpgate_rate_limited_total{limit=\"sms_per_hour\"}"),
        None,
        "the detector, not the budget, stopped it"
    );
    assert_eq!(
        metric(&m, "otpgate_conversion_ratio{country=\"IN\"}"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "otpgate_otp_sent_total{provider=\"file\",country=\"IN\"}"
        ),
        Some(20.0),
        "{m}"
    );

    // The rest of the country still gets codes; the prefix does not, from anywhere.
    assert_eq!(
        send(&client, &gw, "+919876543210", Some("192.0.2.1"))
            .await
            .status,
        200
    );
    assert_limited(&send(&client, &gw, &phone(234, 9_999), Some("192.0.2.2")).await);

    let blocks = trail.events("prefix_blocked");
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0]["prefix"], "+91981234");
    assert_eq!(blocks[0]["country"], "IN");
    assert_eq!(blocks[0]["block_for_secs"], 86_400);
    assert!(
        blocks[0]["client_ip"]
            .as_str()
            .unwrap()
            .starts_with("100.64."),
        "{:?}",
        blocks[0]
    );
}

/// A busy prefix whose shoppers type their codes is never blocked.
#[tokio::test]
async fn verified_codes_keep_a_busy_prefix_open() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.pumping", "{ min_sends = 5, min_conversion = 0.5 }")
        .run()
        .await;
    let client = h2(&gw);
    for i in 0..15 {
        let to = phone(234, i);
        let pending = send(&client, &gw, &to, Some(&ip(i as usize))).await;
        assert_eq!(pending.status, 200, "send {i}: {pending:?}");
        let code = crate::support::code_in(&gw.sms().last().unwrap().1);
        assert_eq!(
            verify(&client, &gw, &code, &pending, Some(&ip(i as usize)))
                .await
                .status,
            200
        );
    }
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "otpgate_prefix_blocked"), Some(0.0), "{m}");
    assert_eq!(
        metric(&m, "otpgate_conversion_ratio{country=\"IN\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "otpgate_otp_verified_total{country=\"IN\"}"),
        Some(15.0),
        "{m}"
    );
}

/// The block lasts `block_for`, then the prefix may send again.
#[tokio::test]
async fn a_block_ends_after_block_for() {
    let shop = upstream().await;
    let clock = otpgate::clock::ManualClock::starting_now();
    let gw = wide(gateway(&shop))
        .set("limits.pumping", "{ min_sends = 2, block_for = \"2h\" }")
        .clock(clock.clone())
        .run()
        .await;
    let client = h2(&gw);
    for i in 0..2 {
        assert_eq!(
            send(&client, &gw, &phone(234, i), Some(&spread(i as usize)))
                .await
                .status,
            200
        );
    }
    // A third network's unverified send is the evidence for a prefix block.
    let refused = send(&client, &gw, PHONE, Some(&spread(2))).await;
    assert_limited(&refused);
    assert!(
        (7190..=7200).contains(&refused.retry_after.unwrap()),
        "{refused:?}"
    );
    clock.advance(std::time::Duration::from_secs(2 * 3600 + 1));
    assert_eq!(
        send(&client, &gw, PHONE, Some(&ip(1))).await.status,
        200,
        "the block is over"
    );
    assert_eq!(gw.sms().len(), 3);
}

/// One attacker — one address, or many addresses in one /24 — sending
/// unverified codes into a prefix (issue 8, defect 7) is throttled itself;
/// the prefix is not blocked, and its other shoppers still get and use codes.
#[tokio::test]
async fn one_network_cannot_block_a_prefix() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.pumping", "{ min_sends = 10, min_conversion = 0.2 }")
        .run()
        .await;
    let client = h2(&gw);
    for attacker in [vec![ip(1)], (0..30).map(ip).collect::<Vec<_>>()] {
        let statuses: Vec<u16> = stream::iter(0..30usize)
            .map(|i| {
                let (client, gw, from) =
                    (client.clone(), &gw, attacker[i % attacker.len()].clone());
                async move {
                    let a = send(&client, gw, &phone(234, 1_000 + i as u32), Some(&from)).await;
                    if a.status == 429 {
                        assert_limited(&a);
                        assert!(a.retry_after.unwrap() <= 3600, "{a:?}");
                    }
                    a.status
                }
            })
            .buffer_unordered(10)
            .collect()
            .await;
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 429)),
            "{statuses:?}"
        );
    }
    let attacked = gw.sms().len();
    assert_eq!(attacked, 10, "the network got min_sends, then was refused");
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "otpgate_prefix_blocked"), Some(0.0), "{m}");
    assert_eq!(
        metric(&m, "otpgate_rate_limited_total{limit=\"pumping_network\"}"),
        Some(50.0),
        "{m}"
    );
    // Shoppers of the prefix on other networks still get codes and use them.
    for i in 0..5 {
        let from = spread(100 + i);
        let pending = send(&client, &gw, &phone(234, i as u32), Some(&from)).await;
        assert_eq!(pending.status, 200, "shopper {i}: {pending:?}");
        let code = crate::support::code_in(&gw.sms().last().unwrap().1);
        let done = verify(&client, &gw, &code, &pending, Some(&from)).await;
        assert_eq!(done.status, 200, "shopper {i}: {done:?}");
    }
    assert_eq!(gw.sms().len(), attacked + 5);
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "otpgate_prefix_blocked"), Some(0.0), "{m}");
}

/// The same run spread over `min_networks` networks is pumping evidence:
/// the prefix is blocked for everyone, for `block_for`.
#[tokio::test]
async fn a_spread_run_still_blocks_the_prefix() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set(
            "limits.pumping",
            "{ min_sends = 10, min_conversion = 0.2, min_networks = 3 }",
        )
        .run()
        .await;
    let client = h2(&gw);
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(send(&client, &gw, &phone(234, i), Some(&spread(i as usize % 3))).await);
    }
    assert_eq!(gw.sms().len(), 10, "{statuses:?}");
    let blocked = statuses.last().unwrap();
    assert_limited(blocked);
    assert!(blocked.retry_after.unwrap() > 3600, "{blocked:?}");
    let elsewhere = send(&client, &gw, &phone(234, 9_999), Some(&spread(200))).await;
    assert_limited(&elsewhere);
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "otpgate_prefix_blocked"), Some(1.0), "{m}");
}

/// Refusals by the detector spend none of the budgets genuine shoppers
/// share (issue 15): one network throttled out of a prefix, then a
/// prefix blocked, and their 45 refused attempts leave the country's
/// `send_per_country` to the shoppers — exactly the 10 SMS they took.
#[tokio::test]
async fn refused_pumping_attempts_spend_no_shared_budget() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_country", &lim(12, "1h"))
        .set(
            "limits.pumping",
            "{ min_sends = 5, min_conversion = 0.2, min_networks = 3 }",
        )
        .run()
        .await;
    let client = h2(&gw);
    // One network into prefix 301: throttled after min_sends.
    for i in 0..30u32 {
        let from = format!("100.64.7.{}", i % 250 + 1);
        let a = send(&client, &gw, &phone(301, i), Some(&from)).await;
        assert_eq!(a.status, if i < 5 { 200 } else { 429 }, "{i}: {a:?}");
    }
    // Many networks into prefix 302: blocked after min_sends.
    for i in 0..20u32 {
        let a = send(&client, &gw, &phone(302, i), Some(&spread(i as usize))).await;
        assert_eq!(a.status, if i < 5 { 200 } else { 429 }, "{i}: {a:?}");
    }
    assert_eq!(gw.sms().len(), 10);
    for i in 0..2u32 {
        let a = send(&client, &gw, &phone(400 + i, 1), Some("192.0.2.9")).await;
        assert_eq!(a.status, 200, "a genuine shopper, {i}: {a:?}");
    }
    assert_limited(&send(&client, &gw, &phone(410, 1), Some("192.0.2.9")).await);
    let m = gw.metrics().await;
    let refused = |limit: &str| {
        metric(
            &m,
            &format!("otpgate_rate_limited_total{{limit=\"{limit}\"}}"),
        )
    };
    assert_eq!(refused("pumping_network"), Some(25.0), "{m}");
    assert_eq!(refused("pumping"), Some(15.0), "{m}");
    assert_eq!(refused("send_per_country"), Some(1.0), "{m}");
}
