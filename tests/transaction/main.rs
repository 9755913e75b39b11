//! Transaction routes (SPEC "Checkout integrity", item 2; PSD2 RTS art. 5,
//! dynamic linking), against a real storefront: every request to a
//! `confirm = "transaction"` route needs its own code, texted with the
//! amount it confirms and bound to that one request; no session opens
//! the route; a missing or malformed amount is a 400, never a code.

#[path = "../support/mod.rs"]
mod support;

mod amounts;
mod binding;
mod sessions;

use otpgate::session::CookieSealer;
use support::{gateway, upstream, Browser, Gw, Shop, PHONE};

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";
const MANY: &str = "{ max = 1000, window = \"1h\" }";
pub const PLACE: &str = "/checkout/place-order";

/// `/checkout` is an ordinary route; placing the order is a transaction
/// whose amount is the `amount` field, in rupees.
pub async fn shop_and_gateway() -> (Shop, Gw) {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .route_with(
            PLACE,
            "otp",
            "confirm = \"transaction\"\nmethods = [\"POST\"]\namount_field = \"amount\"",
        )
        .set("brand.name", "\"Example Shop\"")
        .set("brand.languages", "[\"en\", \"hi\"]")
        .set(
            "otp.message",
            "\"{code} is your {brand} code.\\nPay {amount} to {payee}.\"",
        )
        .set(
            "otp.messages.hi",
            "\"{brand} OTP: {code}\\n{payee} को {amount} का भुगतान\"",
        )
        .set("limits.send_per_phone", MANY)
        .set("limits.send_per_ip", MANY)
        .set("limits.send_per_prefix", MANY)
        .set("limits.verify_per_ip", MANY)
        .run()
        .await;
    (shop, gw)
}

/// Submits the order from the cart page, asks for a code; returns the
/// code and the SMS it came in.
pub async fn hold_and_send(gw: &Gw, b: &mut Browser, ct: &str, body: &[u8]) -> (String, String) {
    let held = b.submit(PLACE, ct, body.to_vec()).await;
    assert_eq!(held.status, 303, "held: {held:?}");
    let page = b.get(held.location()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let sent = b
        .post_form(
            "/.otpgate/send",
            &[("phone", PHONE), ("csrf", &csrf), ("rd", "/cart")],
        )
        .await;
    assert_eq!(sent.status, 303, "send: {}", sent.body);
    (
        b.code_for(PHONE),
        gw.sms().last().expect("an SMS").1.clone(),
    )
}

/// Whether a verify answer is the storefront's order page.
pub fn placed(r: &support::browser::Resp) -> bool {
    r.status == 303 && r.location().starts_with("/orders/")
}

/// The browser's pending cookie, opened: `h2|challenge|held|phone|rd`.
pub fn pending_of(gw: &Gw, b: &Browser) -> (CookieSealer, String, String) {
    let sealer = CookieSealer::new(&gw.gateway().cfg.session);
    let name = sealer.pending_name.clone();
    let sealed = b.cookies.get(&name).expect("a pending cookie").clone();
    let plain = sealer.open(&name, &sealed).expect("it opens");
    (sealer, name, plain)
}
