//! Vonage's signed delivery receipts: HMAC-SHA256 of the sorted
//! parameters with the signature secret, and a signed timestamp.

use std::time::Duration;

use hmac::{Hmac, Mac};
use otpgate::clock::{Clock, ManualClock};
use serde_json::json;

use super::fake::{answer, provider};
use super::support::{upstream, Gw, H1};
use super::{gateway_with, offers, shopper, whatsapp};

const SECRET: &str = "vonage-signature-secret-for-tests";
const MESSAGE_ID: &str = "0A0000001234ABCD";

/// Vonage's manual signature: `&name=value` sorted by name (`&` and `=`
/// in values become `_`), HMAC-SHA256 with the signature secret, hex.
fn sign(params: &[(String, String)], secret: &str) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let data: String = sorted
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A receipt as Vonage sends it for `id`, `status`, signed at `ts`.
fn receipt(id: &str, status: &str, ts: u64) -> Vec<(String, String)> {
    [
        ("msisdn", "919812345678"),
        ("to", "OTPGAT"),
        ("network-code", "40410"),
        ("messageId", id),
        ("price", "0.00480000"),
        ("status", status),
        ("scts", "2612011006"),
        ("err-code", "6"),
        ("api-key", "abcd1234"),
        ("message-timestamp", "2026-12-01 10:06:20"),
        ("nonce", "5b7e1e0c-8f6a-4d3c=&x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("timestamp".to_string(), ts.to_string())])
    .collect()
}

fn signed(mut params: Vec<(String, String)>, secret: &str) -> Vec<(String, String)> {
    let sig = sign(&params, secret);
    params.push(("sig".into(), sig));
    params
}

fn encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn get(gw: &Gw, params: &[(String, String)]) -> u16 {
    let url = gw.url(&format!("/.otpgate/sms/vonage/dlr?{}", encode(params)));
    gw.client(H1)
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post(gw: &Gw, ctype: &str, body: String) -> u16 {
    gw.client(H1)
        .post(gw.url("/.otpgate/sms/vonage/dlr"))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_signed_receipt_offers_whatsapp_and_forgeries_do_nothing() {
    let shop = upstream().await;
    let wa = whatsapp().await;
    let sms = provider(vec![answer(
        200,
        json!({"message-count": "1", "messages": [{"to": "919812345678",
               "message-id": MESSAGE_ID, "status": "0", "remaining-balance": "3.1",
               "message-price": "0.0048", "network": "40410"}]}),
    )])
    .await;
    let clock = ManualClock::starting_now();
    let table = format!(
        "{{ api_key = \"abcd1234\", api_secret = \"s3cr3t\", from = \"OTPGAT\", signature_secret = \"{SECRET}\", api_base = \"{}\" }}",
        sms.base
    );
    let gw = gateway_with(&shop, &wa, &clock, "vonage", &table).await;
    let mut b = shopper(&gw).await;
    let now = clock.now_secs();
    let genuine = signed(receipt(MESSAGE_ID, "failed", now), SECRET);

    let unsigned = receipt(MESSAGE_ID, "failed", now);
    let other_secret = signed(receipt(MESSAGE_ID, "failed", now), "not-the-secret");
    let mut other_id = genuine.clone();
    other_id[3].1 = "0A0000009999FFFF".into();
    let mut flipped = signed(receipt(MESSAGE_ID, "delivered", now), SECRET);
    flipped[5].1 = "failed".into();
    let stale = signed(receipt(MESSAGE_ID, "failed", now - 301), SECRET);
    let ahead = signed(receipt(MESSAGE_ID, "failed", now + 301), SECRET);
    let mut twice = genuine.clone();
    twice.push(("status".into(), "failed".into()));
    let mut no_ts = receipt(MESSAGE_ID, "failed", now);
    no_ts.retain(|(k, _)| k != "timestamp");
    let no_ts = signed(no_ts, SECRET);
    let mut bad_hex = genuine.clone();
    bad_hex.last_mut().unwrap().1 = "zz".into();
    for (params, why) in [
        (unsigned, "unsigned"),
        (other_secret, "another secret"),
        (other_id, "another message id under the signature"),
        (flipped, "status changed under the signature"),
        (stale, "replayed after five minutes"),
        (ahead, "timestamp in the future"),
        (twice, "a parameter twice"),
        (no_ts, "no timestamp"),
        (bad_hex, "a signature that is not hex"),
    ] {
        assert_eq!(get(&gw, &params).await, 403, "{why}");
        assert!(!offers(&mut b, "whatsapp").await, "{why} marked nothing");
    }
    let nested = json!({"messageId": MESSAGE_ID, "status": {"x": 1}}).to_string();
    for (ctype, body, why) in [
        ("application/json", nested, "nested JSON"),
        ("application/json", "{\"status\":".into(), "broken JSON"),
        ("text/plain", encode(&genuine), "not a form"),
    ] {
        assert_eq!(post(&gw, ctype, body).await, 400, "{why}");
        assert!(!offers(&mut b, "whatsapp").await, "{why} marked nothing");
    }

    // The genuine receipt, as a POST form; then its replay inside the
    // window changes nothing more (the same mark).
    assert_eq!(
        post(&gw, "application/x-www-form-urlencoded", encode(&genuine)).await,
        204
    );
    assert!(offers(&mut b, "whatsapp").await, "a signed failure");
    clock.advance(Duration::from_secs(1));
    assert_eq!(get(&gw, &genuine).await, 204);
    // The same receipt replayed once its timestamp is over five minutes old.
    clock.advance(Duration::from_secs(300));
    assert_eq!(get(&gw, &genuine).await, 403, "stale replay");
    assert_eq!(shop.count(), 0);
}

#[tokio::test]
async fn json_receipts_are_checked_and_the_endpoint_needs_a_secret() {
    let shop = upstream().await;
    let wa = whatsapp().await;
    let sms = provider(vec![answer(
        200,
        json!({"message-count": "1", "messages": [{"message-id": MESSAGE_ID, "status": "0"}]}),
    )])
    .await;
    let clock = ManualClock::starting_now();
    let table = format!(
        "{{ api_key = \"abcd1234\", api_secret = \"s3cr3t\", from = \"OTPGAT\", signature_secret = \"{SECRET}\", api_base = \"{}\" }}",
        sms.base
    );
    let gw = gateway_with(&shop, &wa, &clock, "vonage", &table).await;
    let mut b = shopper(&gw).await;
    let params = signed(receipt(MESSAGE_ID, "expired", clock.now_secs()), SECRET);
    let obj: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let body = serde_json::Value::Object(obj).to_string();
    assert_eq!(post(&gw, "application/json", body.clone()).await, 204);
    assert!(offers(&mut b, "whatsapp").await, "expired is undelivered");

    let unsigned = format!(
        "{{ api_key = \"abcd1234\", api_secret = \"s3cr3t\", from = \"OTPGAT\", api_base = \"{}\" }}",
        sms.base
    );
    let off = gateway_with(&shop, &wa, &clock, "vonage", &unsigned).await;
    assert_eq!(
        post(&off, "application/json", body).await,
        404,
        "no secret: no endpoint"
    );
}
