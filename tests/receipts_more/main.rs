//! Delivery reports from MSG91 and Vonage, and Twilio's call status: a
//! genuine failure report offers the next channel on the code page; every
//! forged variant (wrong or missing token, wrong signature, another
//! message id, a stale replay, a malformed body) marks nothing and gets a
//! clear 4xx. Real sockets: the gateway, a storefront, local providers.

#[allow(dead_code)]
#[path = "../sms_providers/fake.rs"]
mod fake;
#[path = "../support/mod.rs"]
mod support;

mod msg91;
mod twilio_voice;
mod vonage;

use fake::{answer, provider, FakeProvider};
use otpgate::clock::ManualClock;
use serde_json::json;
use support::{gateway, Browser, Gw, Shop, H1};

pub const PHONE: &str = "+919812345678";

/// A local Meta WhatsApp Cloud API: the channel a failed SMS falls back to.
pub async fn whatsapp() -> FakeProvider {
    provider(vec![answer(
        200,
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": "919812345678", "wa_id": "919812345678"}],
               "messages": [{"id": "wamid.HBgL"}]}),
    )])
    .await
}

/// A gateway sending SMS by `sms` (`[sms.<sms>] = table`), WhatsApp next.
pub async fn gateway_with(
    shop: &Shop,
    wa: &FakeProvider,
    clock: &ManualClock,
    sms: &str,
    table: &str,
) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .set("sms.provider", &format!("\"{sms}\""))
        .set(&format!("sms.{sms}"), table)
        .set("whatsapp.provider", "\"meta\"")
        .set("whatsapp.meta", &format!("{{ access_token = \"meta-token\", phone_number_id = \"106540352242922\", template = \"otp_copy_code\", api_base = \"{}\" }}", wa.base))
        .set("channels.order", "[\"sms\", \"whatsapp\"]")
        .run()
        .await
}

/// Whether the code page offers `channel` now.
pub async fn offers(b: &mut Browser, channel: &str) -> bool {
    let page = b.get("/.otpgate/verify").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body.contains(&format!("id=\"channel-{channel}\""))
}

/// A shopper on the code page, the SMS sent.
pub async fn shopper(gw: &Gw) -> Browser {
    let mut b = gw.browser(H1);
    let sent = b.start(PHONE, "/checkout").await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(!offers(&mut b, "whatsapp").await, "nothing failed yet");
    b
}
