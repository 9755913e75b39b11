//! Limits and budgets across channels, and `[channels] fallback_after` /
//! `auto_fallback`, over real sockets (walk.rs has the gateway and fakes).

use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::json;

use super::support::{upstream, H1, PHONE};
use super::walk::{
    fakes, gateway_with, receipt, sms_code, switch, voice_code, whatsapp_code, OTHER_PHONE,
};

#[tokio::test]
async fn the_per_phone_send_limit_counts_channel_switches() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMlimit"]).await;
    let limit = "{ max = 2, window = \"1h\" }";
    let gw = gateway_with(&shop, &f, &clock, &[("limits.send_per_phone", limit)]).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMlimit", "undelivered", None).await, 204);
    assert_eq!(switch(&mut b, "whatsapp").await.status, 200, "send 2 of 2");
    clock.advance(Duration::from_secs(31));
    let third = b
        .api("/.otpgate/api/resend", json!({"channel": "voice"}))
        .await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(third.json()["error"], "rate_limited", "{}", third.body);
    assert_eq!(f.voice.requests().len(), 0, "no call past the limit");
}

#[tokio::test]
async fn a_spent_voice_budget_is_not_offered_and_is_unavailable() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMfirst", "SMsecond"]).await;
    let budget = "{ max = 1, window = \"1h\" }";
    let gw = gateway_with(&shop, &f, &clock, &[("limits.voice_per_hour", budget)]).await;

    let mut first = gw.browser(H1);
    first.start(PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMfirst", "undelivered", None).await, 204);
    assert_eq!(switch(&mut first, "voice").await.status, 200);
    assert_eq!(voice_code(&f).len(), 6, "the one call of the hour");

    let mut second = gw.browser(H1);
    second.start(OTHER_PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMsecond", "undelivered", None).await, 204);
    let page = second.get("/.otpgate/verify").await;
    assert!(
        page.body.contains("id=\"channel-whatsapp\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("channel-voice"), "spent: {}", page.body);
    let asked = second
        .api("/.otpgate/api/resend", json!({"channel": "voice"}))
        .await;
    assert_eq!(asked.status, 422, "{}", asked.body);
    assert_eq!(asked.json()["error"], "channel_unavailable");
    assert_eq!(f.voice.requests().len(), 1, "no second call");
    // WhatsApp has its own budget left; its answer lists what is left.
    let wa = second
        .api("/.otpgate/api/resend", json!({"channel": "whatsapp"}))
        .await;
    assert_eq!(wa.status, 200, "{}", wa.body);
    assert_eq!(wa.json()["delivery_failed"], false);
    assert_eq!(whatsapp_code(&f), sms_code(&f));
}

/// WhatsApp has its own hourly budget, not the SMS one: a budget of 1
/// under an SMS budget of 500 stops the second message of the hour.
#[tokio::test]
async fn a_spent_whatsapp_budget_is_its_own_not_the_sms_one() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMwa1", "SMwa2", "SMwa3"]).await;
    let budget = "{ max = 1, window = \"1h\" }";
    let gw = gateway_with(&shop, &f, &clock, &[("limits.whatsapp_per_hour", budget)]).await;

    let mut first = gw.browser(H1);
    first.start(PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMwa1", "undelivered", None).await, 204);
    assert_eq!(switch(&mut first, "whatsapp").await.status, 200);
    assert_eq!(whatsapp_code(&f).len(), 6, "the one message of the hour");

    let mut second = gw.browser(H1);
    second.start(OTHER_PHONE, "/checkout").await;
    assert_eq!(receipt(&gw, "SMwa2", "undelivered", None).await, 204);
    let page = second.get("/.otpgate/verify").await;
    assert!(
        !page.body.contains("channel-whatsapp"),
        "spent: {}",
        page.body
    );
    assert!(page.body.contains("id=\"channel-voice\""), "{}", page.body);
    let asked = second
        .api("/.otpgate/api/resend", json!({"channel": "whatsapp"}))
        .await;
    assert_eq!(asked.status, 422, "{}", asked.body);
    assert_eq!(asked.json()["error"], "channel_unavailable");
    assert_eq!(f.whatsapp.requests().len(), 1, "no second message");
    // The SMS budget is untouched by WhatsApp's: a resend by SMS goes out.
    clock.advance(Duration::from_secs(31));
    let sms = second
        .api("/.otpgate/api/resend", json!({"channel": "sms"}))
        .await;
    assert_eq!(sms.status, 200, "{}", sms.body);
    assert_eq!(f.sms.requests().len(), 3, "two first sends and this resend");
}

#[tokio::test]
async fn a_quiet_send_offers_the_next_channel_after_fallback_after() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMquiet", "SMheard"]).await;
    let quick = [("channels.fallback_after", "\"10s\"")];
    let gw = gateway_with(&shop, &f, &clock, &quick).await;
    let mut quiet = gw.browser(H1);
    quiet.start(PHONE, "/checkout").await;
    let mut heard = gw.browser(H1);
    heard.start(OTHER_PHONE, "/checkout").await;
    // The second shopper's text was delivered: nothing to fall back from.
    assert_eq!(receipt(&gw, "SMheard", "delivered", None).await, 204);

    clock.advance(Duration::from_secs(9));
    let page = quiet.get("/.otpgate/verify").await;
    assert!(!page.body.contains("channel-whatsapp"), "not yet");
    clock.advance(Duration::from_secs(2));
    let page = quiet.get("/.otpgate/verify").await;
    assert!(
        page.body.contains("id=\"channel-whatsapp\""),
        "{}",
        page.body
    );
    let asked = quiet
        .api("/.otpgate/api/resend", json!({"channel": "whatsapp"}))
        .await;
    assert_eq!(
        asked.status, 200,
        "before resend_after (30s): {}",
        asked.body
    );

    let page = heard.get("/.otpgate/verify").await;
    assert!(!page.body.contains("channel-whatsapp"), "{}", page.body);
    let asked = heard
        .api("/.otpgate/api/resend", json!({"channel": "whatsapp"}))
        .await;
    assert_eq!(asked.status, 429, "delivered: the delay holds");
    assert_eq!(f.whatsapp.requests().len(), 1);
}

#[tokio::test]
async fn auto_fallback_sends_the_next_channel_on_the_next_page_view_only() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMauto"]).await;
    let auto = [("channels.auto_fallback", "true")];
    let gw = gateway_with(&shop, &f, &clock, &auto).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let code = sms_code(&f);
    let page = b.get("/.otpgate/verify").await;
    assert_eq!(page.status, 200);
    assert_eq!(f.whatsapp.requests().len(), 0, "nothing failed yet");

    assert_eq!(receipt(&gw, "SMauto", "undelivered", None).await, 204);
    // Only the shopper's own navigation sends (own/navigation.rs): not a
    // prefetch, a HEAD, a link followed from another site, or a request
    // without fetch metadata.
    let c = gw.client(H1);
    let cookie: String = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let nav = |r: reqwest::RequestBuilder| {
        r.header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", "navigate")
    };
    for req in [
        nav(c.get(gw.url("/.otpgate/verify"))).header("sec-purpose", "prefetch"),
        nav(c.head(gw.url("/.otpgate/verify"))),
    ] {
        let r = req.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        b.navigate("/.otpgate/verify", "cross-site").await.status,
        200
    );
    assert_eq!(b.get("/.otpgate/verify").await.status, 200);
    assert_eq!(f.whatsapp.requests().len(), 0);

    let page = b.navigate("/.otpgate/verify", "same-origin").await;
    assert!(page.body.contains("same code"), "{}", page.body);
    assert_eq!(f.whatsapp.requests().len(), 1);
    assert_eq!(whatsapp_code(&f), code);
    // Once: the WhatsApp message is the new send.
    b.navigate("/.otpgate/verify", "same-origin").await;
    assert_eq!(f.whatsapp.requests().len(), 1);
    assert_eq!(f.voice.requests().len(), 0);
    // Quiet for fallback_after (30s): the next load calls.
    clock.advance(Duration::from_secs(31));
    b.navigate("/.otpgate/verify", "none").await;
    assert_eq!(voice_code(&f), code);
    // Voice is the last: nothing further is sent by itself.
    clock.advance(Duration::from_secs(31));
    b.navigate("/.otpgate/verify", "same-origin").await;
    assert_eq!(f.voice.requests().len(), 1);
    assert_eq!(f.sms.requests().len(), 1);
    assert_eq!(b.enter_code(&code).await.status, 303);
}
