//! Registered-number mode (`[phone] lookup_url`): the code goes to the
//! storefront's number for the customer, and a risky send is priced the
//! same way — the send button's page carries the challenge, bound to that
//! number and this browser.

use super::support::{gateway, upstream, H1, PHONE};
use super::{page_pow, solve};

#[tokio::test]
async fn the_registered_send_page_carries_the_work_too() {
    let shop = upstream().await;
    let url = format!("\"http://{}/internal/phone\"", shop.addr);
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("phone.lookup_url", &url)
        .set("pow.enabled", "true")
        .set("pow.threshold", "0")
        .set("pow.base_difficulty", "8")
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.cookies.insert("shop_session".into(), "alice".into());
    // The shopper's own navigation sends at once, and is asked for work.
    let req = gw
        .client(b.h2)
        .get(gw.url("/.otpgate/login?rd=%2Fcheckout"))
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document");
    let asked = b.send(req).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = b.get(asked.location()).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(gw.sms().is_empty());
    let (c, bits) = page_pow(&page).expect("the send button's page has the challenge");
    let nonce = solve(&c, bits);
    let csrf = page.csrf();
    let sent = b
        .post_form(
            "/.otpgate/send",
            &[
                ("csrf", &csrf),
                ("rd", "/checkout"),
                ("pow_challenge", &c),
                ("pow_nonce", &nonce),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location(), "/.otpgate/verify");
    assert_eq!(gw.sms().pop().unwrap().0, PHONE, "to the registered number");
}
