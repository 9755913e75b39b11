//! Twilio's call status callback: a call that was busy, unanswered,
//! failed or canceled is an undelivered code, signed by the voice
//! account's own auth token over the voice `status_callback` URL.

use base64::Engine;
use hmac::{Hmac, Mac};
use otpgate::clock::ManualClock;
use serde_json::json;

use super::fake::{answer, provider};
use super::support::{gateway, upstream, Browser, Gw, H1};
use super::{offers, PHONE};

const CALLBACK: &str = "https://shop.example/.otpgate/sms/twilio/status";
const TOKEN: &str = "twilio-voice-auth-token";
const CALL: &str = "CA0123456789abcdef0123456789abcdef";

fn sign(url: &str, token: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn call_status(sid: &str, status: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AccountSid", format!("AC{}", "1".repeat(32))),
        ("CallSid", sid.to_string()),
        ("CallStatus", status.to_string()),
        ("Direction", "outbound-api".to_string()),
        ("To", PHONE.to_string()),
        ("CallDuration", "0".to_string()),
    ]
}

async fn post(gw: &Gw, params: &[(&str, String)], sig: &str) -> u16 {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    gw.client(H1)
        .post(gw.url("/.otpgate/sms/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn as_pairs<'a>(params: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn signed(params: &[(&str, String)], token: &str) -> String {
    sign(CALLBACK, token, &as_pairs(params))
}

/// Calls first, then SMS: a gateway whose first send is a call.
async fn voice_first(shop: &super::support::Shop, clock: &ManualClock, calls: &str) -> Gw {
    let sid = format!("AC{}", "1".repeat(32));
    gateway(shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .set("sms.provider", "\"console\"")
        .set("voice.provider", "\"twilio\"")
        .set("voice.twilio", &format!("{{ account_sid = \"{sid}\", auth_token = \"{TOKEN}\", from = \"+14155550100\", status_callback = \"{CALLBACK}\", api_base = \"{calls}\" }}"))
        .set("channels.order", "[\"voice\", \"sms\"]")
        .run()
        .await
}

async fn called(gw: &Gw) -> Browser {
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    assert!(!offers(&mut b, "sms").await, "nothing failed yet");
    b
}

#[tokio::test]
async fn an_unanswered_call_offers_sms_and_forged_statuses_do_nothing() {
    for status in ["busy", "no-answer", "failed", "canceled"] {
        let shop = upstream().await;
        let calls = provider(vec![answer(201, json!({"sid": CALL, "status": "queued"}))]).await;
        let clock = ManualClock::starting_now();
        let gw = voice_first(&shop, &clock, &calls.base).await;
        let mut b = called(&gw).await;
        assert_eq!(calls.requests().len(), 1, "the code went by a call");
        let genuine = call_status(CALL, status);

        let mut other_call = genuine.clone();
        other_call[1].1 = "CAffffffffffffffffffffffffffffffff".into();
        let forged = [
            (
                genuine.clone(),
                signed(&genuine, "another-token"),
                403,
                "another token",
            ),
            (genuine.clone(), String::new(), 403, "unsigned"),
            (
                genuine.clone(),
                sign(
                    "https://elsewhere.example/.otpgate/sms/twilio/status",
                    TOKEN,
                    &as_pairs(&genuine),
                ),
                403,
                "another URL",
            ),
            (
                other_call.clone(),
                signed(&genuine, TOKEN),
                403,
                "another call under the signature",
            ),
            (
                call_status(CALL, "completed"),
                signed(&genuine, TOKEN),
                403,
                "status changed",
            ),
        ];
        for (params, sig, want, why) in forged {
            assert_eq!(post(&gw, &params, &sig).await, want, "{status}: {why}");
            assert!(
                !offers(&mut b, "sms").await,
                "{status}: {why} marked nothing"
            );
        }
        // Signed, but for a call that is not ours: nothing to mark.
        assert_eq!(
            post(&gw, &other_call, &signed(&other_call, TOKEN)).await,
            204
        );
        assert!(!offers(&mut b, "sms").await, "{status}: another call");
        // Ringing is not final.
        let ringing = call_status(CALL, "ringing");
        assert_eq!(post(&gw, &ringing, &signed(&ringing, TOKEN)).await, 204);
        assert!(!offers(&mut b, "sms").await, "{status}: ringing");

        assert_eq!(post(&gw, &genuine, &signed(&genuine, TOKEN)).await, 204);
        assert!(
            offers(&mut b, "sms").await,
            "{status}: the call did not reach the shopper"
        );
    }
}

#[tokio::test]
async fn a_completed_call_is_delivered_and_a_malformed_callback_is_400() {
    let shop = upstream().await;
    let calls = provider(vec![answer(201, json!({"sid": CALL, "status": "queued"}))]).await;
    let clock = ManualClock::starting_now();
    let gw = voice_first(&shop, &clock, &calls.base).await;
    let _b = called(&gw).await;
    let done = call_status(CALL, "completed");
    assert_eq!(post(&gw, &done, &signed(&done, TOKEN)).await, 204);
    let m = gw.metrics().await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("otpgate_sms_delivery_receipts_total{")
                && l.contains("status=\"delivered\"")),
        "{m}"
    );
    let r = gw
        .client(H1)
        .post(gw.url("/.otpgate/sms/twilio/status"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
