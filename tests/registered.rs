//! Registered-number mode (`[phone] lookup_url`): the storefront names the
//! customer's phone; whatever the shopper types is ignored.

mod support;

use support::{gateway, upstream, H1, PHONE};

/// A top-level navigation the shopper made on the shop itself, with the
/// fetch metadata a browser sends (only such a GET texts at once).
async fn navigate(
    gw: &support::Gw,
    b: &mut support::browser::Browser,
    path: &str,
) -> support::browser::Resp {
    let req = gw
        .client(b.h2)
        .get(gw.url(path))
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document");
    b.send(req).await
}

async fn registered_gateway() -> (support::Shop, support::Gw) {
    let shop = upstream().await;
    let url = format!("\"http://{}/internal/phone\"", shop.addr);
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("phone.lookup_url", &url)
        .run()
        .await;
    (shop, gw)
}

#[tokio::test]
async fn the_code_goes_at_once_to_the_registered_number() {
    let (shop, gw) = registered_gateway().await;
    let mut b = gw.browser(H1);
    b.cookies.insert("shop_session".into(), "alice".into());
    let sent = navigate(&gw, &mut b, "/.otpgate/login?rd=%2Fcheckout").await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location(), "/.otpgate/verify");
    assert_eq!(gw.sms().pop().unwrap().0, PHONE);
    let lookup = shop
        .seen()
        .into_iter()
        .find(|s| s.target == "/internal/phone")
        .unwrap();
    let cookie = lookup.header("cookie").unwrap();
    assert_eq!(
        cookie, "shop_session=alice",
        "the shop's cookie, never otpgate's: {cookie}"
    );
    let page = b.get("/.otpgate/verify").await;
    assert!(page.body.contains("+91******5678"));
    let code = b.code_for(PHONE);
    assert_eq!(b.enter_code(&code).await.status, 303);
    assert_eq!(b.get("/checkout").await.status, 200);
    assert_eq!(shop.last().header("x-otpgate-phone"), Some(PHONE));
}

#[tokio::test]
async fn a_typed_number_cannot_replace_the_registered_one() {
    let shop = upstream().await;
    let clock = otpgate::clock::ManualClock::starting_now();
    let url = format!("\"http://{}/internal/phone\"", shop.addr);
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("phone.lookup_url", &url)
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.cookies.insert("shop_session".into(), "alice".into());
    navigate(&gw, &mut b, "/.otpgate/login").await; // texts the registered number at once
    let csrf = b.get("/.otpgate/verify").await.csrf();
    let typed = [("phone", "+44 7700 900123"), ("csrf", &csrf), ("rd", "/")];
    // Within `resend_after` the registered number's code is still young:
    // the code page, no new SMS (issue 11).
    let r = b.post_form("/.otpgate/send", &typed).await;
    assert!(r.after_303 && r.status == 200, "{r:?}");
    assert!(r.body.contains("+91******5678"), "{}", r.body);
    assert_eq!(gw.sms().len(), 1);
    // Later, the form and the API each text — the registered number.
    clock.advance(std::time::Duration::from_secs(31));
    let r = b.post_form("/.otpgate/send", &typed).await;
    assert_eq!((r.status, r.location()), (303, "/.otpgate/verify"));
    clock.advance(std::time::Duration::from_secs(31));
    let api = b
        .post_json(
            "/.otpgate/api/send",
            serde_json::json!({"phone": "+44 7700 900123"}),
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(api.json()["new_code"], true, "{}", api.body);
    // The login page, the form and the API each texted the registered
    // number, never the typed one.
    let to: Vec<String> = gw.sms().into_iter().map(|(to, _)| to).collect();
    assert_eq!(to, [PHONE, PHONE, PHONE]);
}

#[tokio::test]
async fn nobody_signed_in_gets_no_sms() {
    let (_shop, gw) = registered_gateway().await;
    let mut b = gw.browser(H1);
    let refused = navigate(&gw, &mut b, "/.otpgate/login?rd=%2Fcheckout").await;
    // Post/redirect/get, and no loop: the page it leads to says why and
    // offers the button instead of trying again by itself.
    assert_eq!(refused.status, 303, "{}", refused.body);
    assert_eq!(refused.location(), "/.otpgate/login?rd=%2Fcheckout");
    let page = navigate(&gw, &mut b, refused.location()).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("action=\"/.otpgate/send\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("sign in to your account first"),
        "{}",
        page.body
    );
    let api = b
        .post_json("/.otpgate/api/send", serde_json::json!({"phone": PHONE}))
        .await;
    assert_eq!(
        (api.status, api.json()["error"].as_str()),
        (403, Some("not_signed_in"))
    );
    assert!(gw.sms().is_empty());
}
