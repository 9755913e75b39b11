//! Twilio delivery receipts: counted only when correctly signed.

mod support;

use base64::Engine;
use hmac::{Hmac, Mac};
use support::{gateway, upstream, H1};

const CALLBACK: &str = "https://shop.example/.otpgate/sms/twilio/status";
const TOKEN: &str = "twilio-auth-token-for-tests";

/// Twilio's documented algorithm: URL, then each parameter name and value
/// sorted by name, HMAC-SHA1 with the auth token, base64.
fn sign(params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = CALLBACK.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn signed_receipts_are_counted_and_forged_ones_refused() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("sms.provider", "\"twilio\"")
        .set("sms.twilio", &format!("{{ account_sid = \"AC{}\", auth_token = \"{TOKEN}\", from = \"+15005550006\", status_callback = \"{CALLBACK}\", api_base = \"http://127.0.0.1:9\" }}", "0".repeat(32)))
        .run()
        .await;
    let params = [
        ("MessageSid", "SM123"),
        ("MessageStatus", "delivered"),
        ("To", "+919812345678"),
    ];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let c = gw.client(H1);
    let post = |sig: String| {
        c.post(gw.url("/.otpgate/sms/twilio/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body.clone())
            .send()
    };
    assert_eq!(post(sign(&params)).await.unwrap().status(), 204);
    assert_eq!(
        post("bm90IGEgc2lnbmF0dXJl".into()).await.unwrap().status(),
        403
    );
    let mut tampered = params;
    tampered[1].1 = "failed";
    assert_eq!(
        post(sign(&tampered)).await.unwrap().status(),
        403,
        "signature over other values"
    );
    let m = gw.metrics().await;
    let line = m
        .lines()
        .find(|l| l.starts_with("otpgate_sms_delivery_receipts_total{"))
        .unwrap_or_else(|| panic!("{m}"));
    assert!(
        line.contains("status=\"delivered\"") && line.ends_with(" 1"),
        "{line}"
    );
    assert_eq!(shop.count(), 0, "receipts are otpgate's own endpoint");
}
