//! A shopper over real sockets: the gateway in front of a real storefront,
//! SMS through a local Twilio, WhatsApp through a local Meta Cloud API,
//! calls through a local Twilio Calls API; delivery receipts posted to the
//! gateway as Twilio posts them (signed with the auth token).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use otpgate::clock::ManualClock;
use serde_json::json;

use super::fake::{answer, provider, FakeProvider, Reply};
use super::support::{code_in, gateway, upstream, Browser, Gw, Shop, H1, PHONE};

pub const CALLBACK: &str = "https://shop.example/.otpgate/sms/twilio/status";
pub const TOKEN: &str = "twilio-auth-token-for-tests";
pub const OTHER_PHONE: &str = "+919812345679";

/// The three local providers a walk sends through.
pub struct Fakes {
    pub sms: FakeProvider,
    pub whatsapp: FakeProvider,
    pub voice: FakeProvider,
}

fn created(sid: &str) -> Reply {
    answer(201, json!({"sid": sid, "status": "queued"}))
}

/// SMS answers with the message ids `sids`, in order.
pub async fn fakes(sids: &[&str]) -> Fakes {
    let meta = answer(
        200,
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": "919812345678", "wa_id": "919812345678"}],
               "messages": [{"id": "wamid.HBgL"}]}),
    );
    Fakes {
        sms: provider(sids.iter().map(|s| created(s)).collect()).await,
        whatsapp: provider(vec![meta]).await,
        voice: provider(vec![created("CA0123")]).await,
    }
}

/// A gateway that sends SMS, then WhatsApp, then voice; `extra` tunes it.
pub async fn gateway_with(
    shop: &Shop,
    f: &Fakes,
    clock: &ManualClock,
    extra: &[(&str, &str)],
) -> Gw {
    let sid = format!("AC{}", "0".repeat(32));
    let mut b = gateway(shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .set("sms.provider", "\"twilio\"")
        .set("sms.twilio", &format!("{{ account_sid = \"{sid}\", auth_token = \"{TOKEN}\", from = \"+15005550006\", status_callback = \"{CALLBACK}\", api_base = \"{}\" }}", f.sms.base))
        .set("whatsapp.provider", "\"meta\"")
        .set("whatsapp.meta", &format!("{{ access_token = \"meta-token\", phone_number_id = \"106540352242922\", template = \"otp_copy_code\", api_base = \"{}\" }}", f.whatsapp.base))
        .set("voice.provider", "\"twilio\"")
        .set("voice.twilio", &format!("{{ account_sid = \"{sid}\", auth_token = \"{TOKEN}\", from = \"+14155550100\", api_base = \"{}\" }}", f.voice.base))
        .set("channels.order", "[\"sms\", \"whatsapp\", \"voice\"]");
    for (k, v) in extra {
        b = b.set(k, v);
    }
    b.run().await
}

/// Twilio's documented signature: URL, then each parameter name and value
/// sorted by name, HMAC-SHA1 with the auth token, base64.
pub fn sign(url: &str, token: &str, params: &[(&str, &str)]) -> String {
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

/// Posts a status callback for `sid` with `signature`; returns the status.
pub async fn receipt(gw: &Gw, sid: &str, status: &str, signature: Option<String>) -> u16 {
    let params = [
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("To", PHONE),
    ];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sig = signature.unwrap_or_else(|| sign(CALLBACK, TOKEN, &params));
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

/// The code of the newest SMS the local Twilio received.
pub fn sms_code(f: &Fakes) -> String {
    let last = f.sms.requests().pop().expect("an SMS was sent");
    code_in(&last.field("Body").unwrap())
}

/// The code of the newest WhatsApp message: the template's body text.
pub fn whatsapp_code(f: &Fakes) -> String {
    let last = f
        .whatsapp
        .requests()
        .pop()
        .expect("a WhatsApp message was sent");
    let b = last.json();
    b["template"]["components"][0]["parameters"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The code of the newest call, read back from its TwiML ("0, 4, 2, …").
pub fn voice_code(f: &Fakes) -> String {
    let last = f.voice.requests().pop().expect("a call was placed");
    let twiml = last.field("Twiml").unwrap();
    let digits: String = twiml
        .split(|c: char| !(c.is_ascii_digit() || c == ',' || c == ' '))
        .map(str::trim)
        .find(|run| run.contains(','))
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits
}

/// Asks for the code by `channel` with the code page's button.
pub async fn switch(b: &mut Browser, channel: &str) -> super::support::browser::Resp {
    let page = b.get("/.otpgate/verify").await;
    let csrf = page.csrf();
    b.post_form("/.otpgate/resend", &[("csrf", &csrf), ("channel", channel)])
        .await
}

#[tokio::test]
async fn undelivered_sms_then_whatsapp_with_the_same_code_then_signed_in() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMwalk1"]).await;
    let gw = gateway_with(&shop, &f, &clock, &[]).await;
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    let code = sms_code(&f);
    let page = b.get("/.otpgate/verify").await;
    assert!(
        !page.body.contains("channel-whatsapp"),
        "not before the delay"
    );

    assert_eq!(receipt(&gw, "SMwalk1", "undelivered", None).await, 204);
    let page = b.get("/.otpgate/verify").await;
    assert!(
        page.body.contains("id=\"delivery-failed\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"channel-whatsapp\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"channel-voice\""), "{}", page.body);
    assert!(
        !page.body.contains("id=\"channel-sms\""),
        "the one that failed"
    );

    let asked = switch(&mut b, "whatsapp").await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(f.whatsapp.requests().len(), 1);
    assert_eq!(whatsapp_code(&f), code, "the SAME code, by WhatsApp");
    assert_eq!(f.sms.requests().len(), 1, "no second SMS");

    let done = b.enter_code(&code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/checkout");
    assert_eq!(b.get("/checkout").await.status, 200);
    assert_eq!(shop.last().header("x-otpgate-phone"), Some(PHONE));
}

#[tokio::test]
async fn voice_follows_a_silent_whatsapp_with_the_same_code() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMwalk2"]).await;
    let gw = gateway_with(&shop, &f, &clock, &[]).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let code = sms_code(&f);
    assert_eq!(receipt(&gw, "SMwalk2", "undelivered", None).await, 204);
    assert_eq!(switch(&mut b, "whatsapp").await.status, 200);

    // WhatsApp was sent (no failure known): voice waits out the delay.
    let page = b.get("/.otpgate/verify").await;
    assert!(!page.body.contains("channel-voice"), "{}", page.body);
    let early = b
        .api("/.otpgate/api/resend", json!({"channel": "voice"}))
        .await;
    assert_eq!(early.status, 429, "{}", early.body);
    assert_eq!(f.voice.requests().len(), 0);

    clock.advance(Duration::from_secs(31));
    let page = b.get("/.otpgate/verify").await;
    assert!(page.body.contains("id=\"channel-voice\""), "{}", page.body);
    assert!(
        !page.body.contains("id=\"channel-whatsapp\""),
        "the one used last"
    );
    assert_eq!(switch(&mut b, "voice").await.status, 200);
    assert_eq!(voice_code(&f), code, "the SAME code, read out");
    assert_eq!(b.enter_code(&code).await.status, 303);
}

#[tokio::test]
async fn unsigned_or_forged_receipts_mark_nothing() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let f = fakes(&["SMforged"]).await;
    let gw = gateway_with(&shop, &f, &clock, &[]).await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    let params = [
        ("MessageSid", "SMforged"),
        ("MessageStatus", "undelivered"),
        ("To", PHONE),
    ];
    let forgeries = [
        String::new(),
        "bm90IGEgc2lnbmF0dXJl".into(),
        sign(CALLBACK, "another-accounts-token", &params),
        sign(
            "https://evil.example/.otpgate/sms/twilio/status",
            TOKEN,
            &params,
        ),
        // Signed over "delivered", posted as "undelivered".
        sign(
            CALLBACK,
            TOKEN,
            &[
                ("MessageSid", "SMforged"),
                ("MessageStatus", "delivered"),
                ("To", PHONE),
            ],
        ),
    ];
    for sig in forgeries {
        assert_eq!(
            receipt(&gw, "SMforged", "undelivered", Some(sig)).await,
            403
        );
    }
    // Correctly signed, but about a message that is not this challenge's.
    assert_eq!(
        receipt(&gw, "SMsomeoneelse", "undelivered", None).await,
        204
    );

    let page = b.get("/.otpgate/verify").await;
    assert!(!page.body.contains("delivery-failed"), "{}", page.body);
    assert!(!page.body.contains("channel-whatsapp"), "{}", page.body);
    let api = b
        .api("/.otpgate/api/resend", json!({"channel": "whatsapp"}))
        .await;
    assert_eq!(api.status, 429, "the resend delay holds: {}", api.body);
    assert_eq!(f.whatsapp.requests().len(), 0);
}
