//! The resend step's own rules across channels: which channel a region
//! may use, and when the `otp.resend_after` wait is waived.

use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::json;

use super::support::{upstream, H1, PHONE};
use super::walk::{fakes, gateway_with, receipt};

/// A channel the shopper's region does not list is unavailable, even
/// configured and with budget left: nothing is sent by it.
#[tokio::test]
async fn a_channel_outside_the_regions_order_is_unavailable() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMregion"]).await;
    let only = [("channels.regions", "{ IN = [\"sms\", \"whatsapp\"] }")];
    let gw = gateway_with(&shop, &f, &clock, &only).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMregion", "undelivered", None).await, 204);
    let asked = b
        .api("/.otpgate/api/resend", json!({"channel": "voice"}))
        .await;
    assert_eq!(asked.status, 422, "{}", asked.body);
    assert_eq!(asked.json()["error"], "channel_unavailable");
    assert_eq!(f.voice.requests().len(), 0, "no call");
}

/// An undelivered receipt waives the wait for another channel only: a
/// plain resend (the same channel again) still waits `resend_after`,
/// and goes out at exactly that moment.
#[tokio::test]
async fn only_a_switch_of_channel_skips_the_resend_wait() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMwait1", "SMwait2"]).await;
    let gw = gateway_with(&shop, &f, &clock, &[]).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMwait1", "undelivered", None).await, 204);
    let plain = b.api("/.otpgate/api/resend", json!({})).await;
    assert_eq!(plain.status, 429, "{}", plain.body);
    assert_eq!(f.sms.requests().len(), 1);
    clock.advance(Duration::from_secs(30));
    let on_time = b.api("/.otpgate/api/resend", json!({})).await;
    assert_eq!(
        on_time.status, 200,
        "at exactly resend_after: {}",
        on_time.body
    );
    assert_eq!(f.sms.requests().len(), 2);
}
