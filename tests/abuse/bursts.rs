//! 50+ requests at once never pass a limit: every limit is counted in the
//! store before it is checked.

use futures_util::future::join_all;

use crate::support::{gateway, upstream, PHONE};
use crate::{h2, ip, lim, phone, send, verify, wide, Answer};

const BURST: usize = 60;

/// Sends `BURST` requests at once over one HTTP/2 connection; `pick(i)`
/// gives the phone and client address of request `i`.
async fn burst(gw: &crate::support::Gw, pick: impl Fn(usize) -> (String, String)) -> Vec<Answer> {
    let client = h2(gw);
    join_all((0..BURST).map(|i| {
        let (to, from) = pick(i);
        let client = client.clone();
        async move { send(&client, gw, &to, Some(&from)).await }
    }))
    .await
}

fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

#[tokio::test]
async fn a_burst_from_one_address_stops_at_send_per_ip() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_ip", &lim(10, "1h"))
        .run()
        .await;
    let answers = burst(&gw, |i| (phone(i as u32, 1), "198.51.100.9".into())).await;
    assert_eq!(count(&answers, 200), 10, "{answers:?}");
    assert_eq!(count(&answers, 429), BURST - 10);
    assert_eq!(gw.sms().len(), 10);
}

#[tokio::test]
async fn a_burst_to_one_phone_stops_at_send_per_phone() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_phone", &lim(5, "10m"))
        .run()
        .await;
    let answers = burst(&gw, |i| (PHONE.into(), ip(i))).await;
    assert_eq!(count(&answers, 200), 5, "{answers:?}");
    assert_eq!(count(&answers, 429), BURST - 5);
    assert_eq!(gw.sms().len(), 5, "a victim's phone is not flooded");
}

#[tokio::test]
async fn a_burst_stops_at_the_sms_budget() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.sms_per_hour", &lim(7, "1h"))
        .run()
        .await;
    let answers = burst(&gw, |i| (phone(i as u32, 2), ip(i))).await;
    assert_eq!(count(&answers, 200), 7, "{answers:?}");
    assert_eq!(gw.sms().len(), 7);
}

#[tokio::test]
async fn a_burst_through_one_prefix_stops_at_send_per_prefix() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_prefix", &lim(8, "1h"))
        .set("limits.pumping.enabled", "false")
        .run()
        .await;
    let answers = burst(&gw, |i| (phone(3, i as u32), ip(i))).await;
    assert_eq!(count(&answers, 200), 8, "{answers:?}");
    assert_eq!(gw.sms().len(), 8);
}

/// Wrong guesses spread over several challenges for one phone, all at
/// once: no more than `verify_fail_per_phone` are ever evaluated, plus
/// the one last guess each challenge keeps once that budget is spent.
/// Counted where the evaluation leaves its trace, in each challenge's
/// attempts: once the limit's window has passed, one more wrong guess per
/// challenge reports how many tries it has left.
#[tokio::test]
async fn parallel_guesses_across_challenges_stop_at_verify_fail_per_phone() {
    const MAX_ATTEMPTS: u64 = 20;
    let clock = otpgate::clock::ManualClock::starting_now();
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.verify_fail_per_phone", &lim(4, "1m"))
        .set("otp.max_attempts", &MAX_ATTEMPTS.to_string())
        .clock(clock.clone())
        .run()
        .await;
    let client = h2(&gw);
    let mut pending = Vec::new();
    for i in 0..5 {
        pending.push(send(&client, &gw, PHONE, Some(&ip(i))).await);
    }
    let answers = join_all((0..BURST).map(|i| {
        let (client, p) = (client.clone(), pending[i % 5].clone());
        let gw = &gw;
        async move { verify(&client, gw, "000000", &p, Some(&ip(100 + i))).await }
    }))
    .await;
    assert_eq!(
        count(&answers, 422) + count(&answers, 410),
        4 + 5,
        "{answers:?}"
    );
    assert_eq!(count(&answers, 429), BURST - 4 - 5);
    // Each probe is a failure too: at most 4 per new window of the limit.
    // The challenges (otp.ttl 5m) still live.
    let mut evaluated = 0;
    for (i, p) in pending.iter().enumerate() {
        if i % 4 == 0 {
            clock.advance(std::time::Duration::from_secs(61));
        }
        let probe = verify(&client, &gw, "000000", p, Some(&ip(200))).await;
        assert_eq!(probe.status, 422, "{probe:?}");
        let left = probe.json["remaining"].as_u64().expect("remaining");
        evaluated += MAX_ATTEMPTS - left - 1;
    }
    assert_eq!(evaluated, 4 + 5, "guesses evaluated during the burst");
}
