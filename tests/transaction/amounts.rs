//! The amount: shown in the SMS and on the pages (English and Hindi,
//! Indian grouping), in the JSON API's answers; and a request whose
//! amount cannot be read is a 400 with nothing forwarded and no SMS.

use crate::support::{Browser, H1, H2, PHONE};
use crate::{hold_and_send, placed, shop_and_gateway, FORM, JSON, PLACE};

#[tokio::test]
async fn the_sms_and_the_pages_show_what_the_code_confirms() {
    let (shop, gw) = shop_and_gateway().await;
    let mut b = gw.browser(H1);
    let body = b"sku=7&qty=1&amount=1299.00";
    let held = b.submit(PLACE, FORM, body.to_vec()).await;
    assert_eq!(held.status, 303, "{held:?}");
    let login = b.get(held.location()).await;
    assert!(
        login.body.contains("Confirm ₹1,299.00 to Example Shop"),
        "{}",
        login.body
    );
    let (code, sms) = hold_and_send(&gw, &mut b, FORM, body).await;
    assert!(
        sms.contains("Pay ₹1,299.00 to Example Shop."),
        "the SMS names amount and payee: {sms}"
    );
    let page = b.get("/.otpgate/verify").await;
    assert!(
        page.body.contains("Confirm ₹1,299.00 to Example Shop"),
        "{}",
        page.body
    );
    let done = b.enter_code(&code).await;
    assert!(placed(&done), "{done:?}");
    assert_eq!(shop.orders().len(), 1);
    assert_eq!(shop.orders()[0].body, body);

    // Hindi, lakh grouping, over HTTP/2.
    let mut h = gw.browser(H2);
    let big = b"amount=129999&sku=9";
    let held = h.submit(PLACE, FORM, big.to_vec()).await;
    let login = h.get(&format!("{}&lang=hi", held.location())).await;
    assert!(
        login
            .body
            .contains("Example Shop को ₹1,29,999.00 के भुगतान की पुष्टि करें"),
        "{}",
        login.body
    );
    let csrf = login.csrf();
    let sent = h
        .post_form(
            "/.otpgate/send",
            &[("phone", PHONE), ("csrf", &csrf), ("rd", "/")],
        )
        .await;
    assert_eq!(sent.status, 303);
    let sms = gw.sms().last().unwrap().1.clone();
    assert!(
        sms.contains("Example Shop को ₹1,29,999.00 का भुगतान"),
        "{sms}"
    );
    let page = h.get("/.otpgate/verify").await;
    assert!(page.body.contains("₹1,29,999.00"), "{}", page.body);
    assert!(placed(&h.enter_code(&h.code_for(PHONE)).await));
    assert_eq!(shop.orders().len(), 2);

    // A sign-in without a transaction leaves the amount line out.
    let mut s = gw.browser(H1);
    s.log_in(PHONE, "/checkout").await;
    let plain = gw.sms().last().unwrap().1.clone();
    assert!(!plain.contains("Pay") && !plain.contains('₹'), "{plain}");
}

#[tokio::test]
async fn the_json_api_says_the_amount() {
    let (shop, gw) = shop_and_gateway().await;
    let mut s = gw.browser(H1);
    let body = br#"{"sku":"A-1","amount":1299.5}"#.to_vec();
    let r = s.fetch("POST", PLACE, JSON, body.clone()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.json()["held"], true);
    let sent = s
        .api("/.otpgate/api/send", serde_json::json!({ "phone": PHONE }))
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    assert_eq!(sent.json()["amount"], "₹1,299.50");
    assert_eq!(sent.json()["payee"], "Example Shop");
    assert!(gw.sms().last().unwrap().1.contains("₹1,299.50"));
    let code = s.code_for(PHONE);
    let done = s
        .api("/.otpgate/api/verify", serde_json::json!({ "code": code }))
        .await;
    assert!(placed(&done), "{done:?}");
    assert_eq!(shop.orders().len(), 1);
    assert_eq!(shop.orders()[0].body, body);
}

/// Attacker variants of the amount (parser differentials, rounding,
/// overflow): each a 400 page for a browser and `bad_amount` JSON for a
/// script; the storefront sees nothing and no SMS goes out.
#[tokio::test]
async fn a_missing_or_malformed_amount_is_a_400_and_never_a_code() {
    let (shop, gw) = shop_and_gateway().await;
    let mp = |parts: &[(&str, &str)]| {
        let mut out = String::new();
        for (n, v) in parts {
            out.push_str(&format!(
                "--B\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
            ));
        }
        out.push_str("--B--\r\n");
        out.into_bytes()
    };
    let multipart = "multipart/form-data; boundary=B";
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("", FORM, b"sku=7".to_vec()),
        ("", FORM, b"amount=".to_vec()),
        ("", FORM, b"amount=-1299".to_vec()),
        ("", FORM, b"amount=1e3".to_vec()),
        ("", FORM, b"amount=1299.001".to_vec()),
        ("", FORM, b"amount=99999999999999999999".to_vec()),
        ("", FORM, b"amount=1,299".to_vec()),
        ("", FORM, b"amount=1299&amount=9".to_vec()),
        ("", FORM, b"amount=1299&Amount=9".to_vec()),
        ("", FORM, b"amount=1299&amount%5B%5D=9".to_vec()),
        ("?amount=9", FORM, b"amount=1299".to_vec()),
        ("", JSON, br#"{"amount":"1299","amount":"9"}"#.to_vec()),
        ("", JSON, br#"{"amount":1e3}"#.to_vec()),
        ("", JSON, br#"{"amount":null}"#.to_vec()),
        ("", JSON, br#"{"total":1299}"#.to_vec()),
        ("", JSON, b"amount=1299".to_vec()),
        ("", multipart, mp(&[("amount", "1299"), ("amount", "9")])),
        ("", multipart, mp(&[("sku", "7")])),
        ("", "text/plain", b"amount=1299".to_vec()),
    ];
    for (query, ct, body) in cases {
        let target = format!("{PLACE}{query}");
        let mut b = gw.browser(H1);
        let page = b.submit(&target, ct, body.clone()).await;
        let what = format!("{ct} {query} {}", String::from_utf8_lossy(&body));
        assert_eq!(page.status, 400, "{what}: {page:?}");
        assert!(page.body.contains("amount"), "{what}: {}", page.body);
        assert!(page
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
        let r = b.fetch("POST", &target, ct, body).await;
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert_eq!(r.json()["error"], "bad_amount", "{what}");
        assert!(r.json().get("held").is_none());
        assert!(
            !b.cookies.keys().any(|k| k.contains("pending")),
            "{what}: nothing kept for the browser"
        );
    }
    assert_eq!(shop.count(), 0, "nothing reached the storefront");
    assert!(gw.sms().is_empty(), "no SMS");
}

/// A shopper reading Hindi who is refused (an amount that cannot be read,
/// an order too large to keep) gets the refusal in Hindi, whether the
/// phone asks for it (`Accept-Language`) or they picked it on the page
/// (the language cookie); everyone else still gets English.
#[tokio::test]
async fn a_refusal_page_is_in_the_shoppers_language() {
    let (shop, gw) = shop_and_gateway().await;
    let hindi_phone = |b: &mut Browser| b.speaks("hi-IN,hi;q=0.9,en;q=0.5");
    let hindi_pick = |b: &mut Browser| {
        b.cookies.insert("otpgate-lang".into(), "hi".into());
    };
    let too_large = vec![b'a'; 64 * 1024 + 1];
    for (how, choose) in [
        ("accept-language", &hindi_phone as &dyn Fn(&mut Browser)),
        ("cookie", &hindi_pick),
    ] {
        let mut b = gw.browser(H1);
        choose(&mut b);
        let page = b.submit(PLACE, FORM, b"sku=7".to_vec()).await;
        assert_eq!(page.status, 400, "{how}: {page:?}");
        assert!(page.body.contains("lang=\"hi\""), "{how}: {}", page.body);
        assert!(
            page.body.contains("राशि नहीं बताई गई"),
            "{how}: {}",
            page.body
        );
        assert!(!page.body.contains("does not say"), "{how}: {}", page.body);
        let page = b.submit(PLACE, FORM, too_large.clone()).await;
        assert_eq!(page.status, 413, "{how}: {page:?}");
        assert!(page.body.contains("सीमा 64 KiB"), "{how}: {}", page.body);
        // A script's answer keeps the documented English message.
        let r = b.fetch("POST", PLACE, FORM, b"sku=7".to_vec()).await;
        assert_eq!(r.json()["error"], "bad_amount");
        assert!(r.json()["message"]
            .as_str()
            .unwrap()
            .contains("does not say its amount"));
    }
    let mut b = gw.browser(H1);
    let page = b.submit(PLACE, FORM, b"sku=7".to_vec()).await;
    assert!(
        page.body.contains("does not say its amount"),
        "{}",
        page.body
    );
    assert!(page.body.contains("lang=\"en\""), "{}", page.body);
    assert_eq!(shop.count(), 0, "nothing reached the storefront");
}
