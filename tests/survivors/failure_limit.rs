//! Survivor: the failure limit was checked after the guess was evaluated
//! instead of before, and the test counted statuses. Checked after, a
//! guess past the limit is still compared with the code: a correct guess
//! is used up (or, in a worse variant, accepted) although the answer says
//! 429. Here one browser on one challenge reaches the limit. Since the
//! lockout fix (issue 8) a challenge keeps exactly one checked guess per
//! window once the per-phone budget is spent (so a stranger cannot lock a
//! shopper out); that guess is used up wrong first, and the right code
//! after it must be refused unevaluated.

use otpgate::clock::ManualClock;

use crate::secs;
use crate::support::{gateway, upstream, Browser, H1, PHONE};

fn wrong(right: &str, i: u64) -> String {
    let n: u64 = right.parse().unwrap();
    format!("{:06}", (n + 1 + i) % 1_000_000)
}

/// Three wrong guesses reach a limit of three, a fourth uses the
/// challenge's one guess past the budget; the right code as the fifth
/// guess is refused without being evaluated: once the window has passed,
/// the same code on the same challenge still opens a session.
#[tokio::test]
async fn a_right_code_past_the_failure_limit_is_refused_and_not_used_up() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set(
            "limits.verify_fail_per_phone",
            "{ max = 3, window = \"1m\" }",
        )
        .set("otp.max_attempts", "10")
        .clock(clock.clone())
        .run()
        .await;
    let mut b: Browser = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    let code = b.code_for(PHONE);
    let csrf = b.get("/.otpgate/verify").await.csrf();
    let mut steps = Vec::new();
    for i in 0..4 {
        steps.push(b.enter_code_raw(&wrong(&code, i), &csrf).await.status);
    }
    assert_eq!(
        steps,
        [422, 422, 422, 422],
        "three in the budget, one past it"
    );
    let refused = b.enter_code_raw(&code, &csrf).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.header("retry-after").is_some());
    assert!(!b.cookies.contains_key("__Host-otpgate"), "no session");
    assert_eq!(b.get("/checkout").await.status, 302);
    clock.advance(secs(61));
    let done = b.enter_code_raw(&code, &csrf).await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, Some("/checkout")),
        "the refused guess was never evaluated: {}",
        done.body
    );
    assert_eq!(b.get("/checkout").await.status, 200);
}

/// The per-challenge budget (`otp.max_attempts`) is also spent before the
/// comparison: once it is gone, the right code is refused and the
/// challenge is void for good.
#[tokio::test]
async fn a_right_code_after_max_attempts_is_refused() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("otp.max_attempts", "3")
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let code = b.code_for(PHONE);
    let sent = b
        .post_json(
            "/.otpgate/api/verify",
            serde_json::json!({"code": wrong(&code, 0)}),
        )
        .await;
    assert_eq!(
        (sent.status, sent.json()["remaining"].as_u64()),
        (422, Some(2))
    );
    // The pending cookie is kept as an attacker would keep it.
    let pending = b.cookies.clone();
    let mut statuses = vec![];
    for i in 1..3 {
        let r = b
            .post_json(
                "/.otpgate/api/verify",
                serde_json::json!({"code": wrong(&code, i)}),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [422, 410]);
    b.cookies = pending;
    let late = b
        .post_json("/.otpgate/api/verify", serde_json::json!({"code": code}))
        .await;
    assert_eq!(late.status, 410, "{}", late.body);
    assert!(!b.cookies.contains_key("__Host-otpgate"));
}
