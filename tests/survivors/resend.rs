//! Caught once only by a unit test: a resend that keeps the old code
//! valid. Each SMS is another chance to intercept a code; once replaced,
//! the old one must be dead, on both the form and the JSON API.

use otpgate::clock::ManualClock;

use crate::secs;
use crate::support::{gateway, upstream, Browser, Gw, H1, PHONE};

async fn setup(clock: &ManualClock) -> Gw {
    let shop = upstream().await;
    gateway(&shop)
        .route("/checkout", "otp")
        .set("otp.max_attempts", "10")
        .clock(clock.clone())
        .run()
        .await
}

/// Resends (after the cooldown) until the new code differs from `old`:
/// codes are random, so two in a row may be equal one time in 10^6.
async fn resend_until_new(b: &mut Browser, clock: &ManualClock, old: &str) -> String {
    for _ in 0..3 {
        clock.advance(secs(31));
        let csrf = b.get("/.otpgate/verify").await.csrf();
        let r = b.post_form("/.otpgate/resend", &[("csrf", &csrf)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let new = b.code_for(PHONE);
        if new != old {
            return new;
        }
    }
    panic!("three resends texted the same code");
}

#[tokio::test]
async fn a_resent_code_replaces_the_old_one_on_the_form() {
    let clock = ManualClock::starting_now();
    let gw = setup(&clock).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let first = b.code_for(PHONE);
    let second = resend_until_new(&mut b, &clock, &first).await;
    assert_eq!(
        b.enter_code(&first).await.status,
        422,
        "the old code is dead"
    );
    assert!(!b.cookies.contains_key("__Host-otpgate"));
    let done = b.enter_code(&second).await;
    assert_eq!((done.status, done.location()), (303, "/checkout"));
}

#[tokio::test]
async fn a_resent_code_replaces_the_old_one_on_the_api() {
    let clock = ManualClock::starting_now();
    let gw = setup(&clock).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let first = b.code_for(PHONE);
    let second = resend_until_new(&mut b, &clock, &first).await;
    let old = b
        .post_json("/.otpgate/api/verify", serde_json::json!({"code": first}))
        .await;
    assert_eq!(
        (old.status, old.json()["error"].as_str()),
        (422, Some("wrong_code"))
    );
    let ok = b
        .post_json("/.otpgate/api/verify", serde_json::json!({"code": second}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}
