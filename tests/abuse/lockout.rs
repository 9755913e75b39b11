//! Lockout denial of service (issue 8, defect 4): a stranger who starts
//! their own challenges for a shopper's number and types wrong codes —
//! from one address or from many (trusted-proxy `X-Forwarded-For`) — must
//! not stop that shopper, in their own browser, from receiving and using a
//! code (SPEC: "nothing one browser does can void another browser's pending
//! code"). Brute force stays bounded: the guesses actually *evaluated*
//! (counted by `otpgate_otp_failed_total`, not by statuses) never exceed
//! the phone's failure budget plus one per challenge.

use crate::support::{code_in, gateway, upstream, PHONE};
use crate::{h2, ip, lim, metric, send, verify, wide, Answer};

const BUDGET: u64 = 10;

/// A guess that is certainly wrong for the challenge whose SMS is `body`.
fn wrong_for(body: &str) -> String {
    let code: u32 = code_in(body).parse().unwrap();
    format!("{:06}", (code + 1) % 1_000_000)
}

async fn attack_then_shop(attacker_ips: &[String]) {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.verify_fail_per_phone", &lim(BUDGET, "1h"))
        .run()
        .await;
    let client = h2(&gw);
    // The attacker: 6 challenges of their own for the victim's number, each
    // hammered well past max_attempts (5) — 90 guesses in all.
    let mut challenges: Vec<(Answer, String)> = Vec::new();
    for i in 0..6 {
        let from = &attacker_ips[i % attacker_ips.len()];
        let a = send(&client, &gw, PHONE, Some(from)).await;
        assert_eq!(a.status, 200, "{a:?}");
        let wrong = wrong_for(&gw.sms().last().unwrap().1);
        challenges.push((a, wrong));
    }
    let mut statuses = Vec::new();
    for round in 0..15 {
        for (i, (pending, wrong)) in challenges.iter().enumerate() {
            let from = &attacker_ips[(round + i) % attacker_ips.len()];
            statuses.push(
                verify(&client, &gw, wrong, pending, Some(from))
                    .await
                    .status,
            );
        }
    }
    assert!(
        statuses.iter().all(|s| matches!(s, 422 | 410 | 429)),
        "{statuses:?}"
    );
    let m = gw.metrics().await;
    let evaluated: f64 = ["wrong_code", "exhausted"]
        .iter()
        .filter_map(|r| metric(&m, &format!("otpgate_otp_failed_total{{reason=\"{r}\"}}")))
        .sum();
    assert!(
        evaluated <= (BUDGET + 6) as f64,
        "{evaluated} guesses evaluated: more than the budget plus one per challenge\n{m}"
    );
    assert!(
        evaluated >= BUDGET as f64,
        "the budget was not even spent: {m}"
    );

    // The victim, in their own browser and from their own address, gets a
    // code and it works.
    let sent_before = gw.sms().len();
    let mine = send(&client, &gw, PHONE, Some("198.51.100.7")).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(gw.sms().len(), sent_before + 1, "the victim's SMS went out");
    let code = code_in(&gw.sms().last().unwrap().1);
    let done = verify(&client, &gw, &code, &mine, Some("198.51.100.7")).await;
    assert_eq!(done.status, 200, "the victim is locked out: {done:?}");
    assert!(done.cookies.contains("__Host-otpgate="), "{done:?}");
}

#[tokio::test]
async fn a_stranger_from_one_address_cannot_lock_a_shopper_out() {
    attack_then_shop(&[ip(1)]).await;
}

#[tokio::test]
async fn a_stranger_from_many_addresses_cannot_lock_a_shopper_out() {
    let ips: Vec<String> = (0..40).map(|i| ip(i * 251)).collect();
    attack_then_shop(&ips).await;
}

/// A spent budget still bounds guessing: every further SMS the attacker
/// pays for buys exactly one evaluated guess, however many are sent at once.
#[tokio::test]
async fn over_the_budget_each_challenge_gets_one_guess() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.verify_fail_per_phone", &lim(2, "1h"))
        .set("otp.max_attempts", "50")
        .run()
        .await;
    let client = h2(&gw);
    let spend = send(&client, &gw, PHONE, Some(&ip(1))).await;
    for _ in 0..2 {
        assert_eq!(
            verify(&client, &gw, "000000", &spend, None).await.status,
            422
        );
    }
    let fresh = send(&client, &gw, PHONE, Some(&ip(2))).await;
    let answers = futures_util::future::join_all((0..30).map(|i| {
        let (client, fresh, gw) = (client.clone(), fresh.clone(), &gw);
        async move {
            verify(&client, gw, "000000", &fresh, Some(&ip(10 + i)))
                .await
                .status
        }
    }))
    .await;
    assert_eq!(
        answers.iter().filter(|s| **s == 422).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 429).count(),
        29,
        "{answers:?}"
    );
}
