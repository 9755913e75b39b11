//! A shopper in real headless Chromium presses "Place order" without a
//! session: the phone page, the code page, the code, and the storefront's
//! order confirmation — with the order placed once, from the form they
//! submitted before the code.
//!
//! Needs Debian's `chromium` (or `OTPGATE_CHROMIUM`); skipped loudly
//! without it, a failure under `OTPGATE_REQUIRE_ALL=1`.

mod support;

use std::io::Write;

use support::cdp::{find_chromium, Chromium};
use support::{gateway, upstream, PHONE};

#[tokio::test]
async fn place_order_code_and_the_order_confirmation() {
    let Some(bin) = find_chromium() else {
        if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("chromium not found (OTPGATE_REQUIRE_ALL=1): install Debian's chromium");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: chromium not found — install Debian's chromium to run the browser test"
        );
        return;
    };
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut chrome = Chromium::launch(&bin).await;
    let mut page = chrome.new_page().await;
    page.phone_screen(360, 640).await;

    page.goto(&gw.url("/cart-form")).await;
    page.type_into("#qty", "3").await;
    page.tap_and_wait("#place").await;
    assert!(
        page.href()
            .await
            .starts_with(&gw.url("/.otpgate/login?rd=")),
        "the phone page, not an error: {}",
        page.href().await
    );
    assert!(shop.orders().is_empty(), "nothing before the code");

    page.type_into("#phone", "98123 45678").await;
    page.tap_and_wait("form[action=\"/.otpgate/send\"] button")
        .await;
    assert_eq!(page.href().await, gw.url("/.otpgate/verify"));
    let sms = gw.sms();
    let code = support::code_in(&sms.last().expect("a code was texted").1);
    page.type_into("#code", &code).await;
    page.tap_and_wait("form[action=\"/.otpgate/verify\"] button")
        .await;

    // The storefront's answer to the held POST (303 /orders/1), followed.
    assert_eq!(page.href().await, gw.url("/orders/1"));
    let h1 = page.eval("document.querySelector('h1').textContent").await;
    assert_eq!(h1, "Order 1 confirmed");
    let orders = shop.orders();
    assert_eq!(orders.len(), 1, "placed once");
    assert_eq!(orders[0].body, b"qty=3&sku=A-1&shop_csrf=t0k3n");
    assert_eq!(orders[0].header("x-otpgate-phone"), Some(PHONE));
    assert_eq!(
        orders[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Back to the code page and reload: still one order.
    page.eval("history.back()").await;
    page.goto(&gw.url("/orders/1")).await;
    assert_eq!(shop.orders().len(), 1);
    assert!(page.errors().is_empty(), "{:?}", page.errors());
    chrome.close().await;
}
