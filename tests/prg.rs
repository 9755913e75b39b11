//! Post/redirect/get across the wire (issue 11): every form post answers
//! `303` to a `GET` page, the message rides in a sealed flash cookie (never
//! in the URL, never forgeable), `rd` survives every step, back after a
//! clean verify goes on to `rd`, the resend delay holds for any new send to
//! the same number from the same browser, a used-up code keeps the number,
//! logout says so in the shopper's language, and the SMS is in it too.

mod support;

use std::time::Duration;

use otpgate::clock::ManualClock;
use support::browser::Resp;
use support::{gateway, upstream, Browser, Gw, H1, PHONE};

const RD: &str = "/checkout?step=2";
const RD_Q: &str = "%2Fcheckout%3Fstep%3D2";

/// The raw answer to a form post, not following its `303`.
async fn post_raw(gw: &Gw, b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Resp {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let req = gw
        .client(H1)
        .post(gw.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    b.send(req).await
}

const EMPTY_ALERT: &str =
    "<div id=\"error\" class=\"alert\" role=\"alert\" aria-live=\"assertive\"></div>";

fn wrong(code: &str) -> String {
    code.chars()
        .map(|d| char::from_digit((d.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

fn assert_no_text_in(location: &str) {
    assert!(
        location == "/.otpgate/verify" || location == format!("/.otpgate/login?rd={RD_Q}"),
        "only a page and rd, never a message: {location}"
    );
}

#[tokio::test]
async fn every_post_answers_303_to_a_get_page_that_says_it_once() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("otp.max_attempts", "3")
        .run()
        .await;
    let mut b = gw.browser(H1);
    // A refused send: back to the phone page, number kept, rd kept.
    let page = b.get(&format!("/.otpgate/login?rd={RD_Q}")).await;
    let bad = post_raw(
        &gw,
        &mut b,
        "/.otpgate/send",
        &[("phone", "12"), ("csrf", &page.csrf()), ("rd", RD)],
    )
    .await;
    assert_eq!(bad.status, 303, "{}", bad.body);
    assert_no_text_in(bad.location());
    assert_eq!(
        gw.outcome(bad.status, &bad.headers).1.as_deref(),
        Some("invalid_phone")
    );
    let shown = b.get(bad.location()).await;
    assert_eq!(shown.status, 422);
    assert!(
        shown.body.contains("look like a phone number"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("value=\"12\""),
        "the typed number stays"
    );
    assert!(shown
        .body
        .contains(&format!("name=\"rd\" value=\"{}\"", RD)));
    // Shown once: a reload is the plain page (and resubmits nothing).
    let reload = b.get(bad.location()).await;
    assert_eq!(reload.status, 200);
    assert!(!reload.body.contains("look like a phone number"));

    let sent = b.start(PHONE, RD).await;
    assert_eq!((sent.status, sent.location()), (303, "/.otpgate/verify"));
    let code = b.code_for(PHONE);
    let csrf = b.get("/.otpgate/verify").await.csrf();
    // A wrong code: 303 to the code page, which says it with the tries left.
    let no = post_raw(
        &gw,
        &mut b,
        "/.otpgate/verify",
        &[("code", &wrong(&code)), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(no.status, 303);
    assert_no_text_in(no.location());
    let shown = b.get(no.location()).await;
    assert_eq!(shown.status, 422);
    assert!(shown.body.contains("2 tries left."), "{}", shown.body);
    assert!(b.get("/.otpgate/verify").await.status == 200, "said once");
    // A resend too early: 303, and the page counts down with Retry-After.
    let early = post_raw(&gw, &mut b, "/.otpgate/resend", &[("csrf", &csrf)]).await;
    assert_eq!(early.status, 303);
    assert!(
        early.header("retry-after").is_none(),
        "a wait belongs to the page"
    );
    let shown = b.get(early.location()).await;
    assert_eq!(shown.status, 429);
    let secs = shown
        .header("retry-after")
        .expect("Retry-After")
        .to_string();
    assert!(
        shown.body.contains(&format!("data-countdown=\"{secs}\"")),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("role=\"alert\""));
    // Used up: the phone page, rd and the number kept (as typed beside +91).
    post_raw(
        &gw,
        &mut b,
        "/.otpgate/verify",
        &[("code", &wrong(&code)), ("csrf", &csrf)],
    )
    .await;
    let last = post_raw(
        &gw,
        &mut b,
        "/.otpgate/verify",
        &[("code", &wrong(&code)), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(last.status, 303, "{}", last.body);
    assert_no_text_in(last.location());
    assert_eq!(last.location(), format!("/.otpgate/login?rd={RD_Q}"));
    let login = b.get(last.location()).await;
    assert_eq!(login.status, 410, "{}", login.body);
    assert!(
        login.body.contains("Too many wrong codes"),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("value=\"9812345678\""),
        "{}",
        login.body
    );
    assert!(login
        .body
        .contains(&format!("name=\"rd\" value=\"{}\"", RD)));
    assert_eq!(shop.count(), 0);
}

#[tokio::test]
async fn a_flash_cannot_be_planted_or_swapped() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.start(PHONE, RD).await;
    let pending = b.cookies.get("__Host-otpgate-pending").unwrap().clone();
    for forged in [
        r#"{"k":"wrong_code","n":false,"s":429,"r":1}"#.to_string(),
        "eyJrIjoid3JvbmdfY29kZSJ9".to_string(),
        // A value sealed for another cookie (AES-GCM binds the name).
        pending,
    ] {
        b.cookies
            .insert("__Host-otpgate-flash".into(), forged.clone());
        let page = b.get("/.otpgate/verify").await;
        assert_eq!(page.status, 200, "{forged}");
        assert!(
            page.body.contains(
                "<div id=\"error\" class=\"alert\" role=\"alert\" aria-live=\"assertive\"></div>"
            ),
            "{forged}: {}",
            page.body
        );
        assert!(!b.cookies.contains_key("__Host-otpgate-flash"), "cleared");
    }
    // Nor through the URL: no parameter is a message.
    let page = b
        .get("/.otpgate/verify?error=wrong_code&k=rate_limited&msg=Call%20us")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(EMPTY_ALERT) && !page.body.contains("Call us"));
}

#[tokio::test]
async fn back_after_a_clean_verify_goes_on_to_rd() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"15m\"")
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.start(PHONE, RD).await;
    let csrf = b.get("/.otpgate/verify").await.csrf();
    let code = b.code_for(PHONE);
    let fields = [("code", code.as_str()), ("csrf", csrf.as_str())];
    let done = post_raw(&gw, &mut b, "/.otpgate/verify", &fields).await;
    assert_eq!((done.status, done.location()), (303, RD));
    // A second press of Verify (or a reload of its post): on to rd, no
    // second session, no error.
    let again = post_raw(&gw, &mut b, "/.otpgate/verify", &fields).await;
    assert_eq!((again.status, again.location()), (303, RD));
    assert!(again.header("set-cookie").is_none(), "{again:?}");
    assert_eq!(b.get("/checkout?step=2").await.status, 200);
    // The history entry before the shop is the code page: back refetches
    // it (no-store) and lands on rd again, not on an empty phone page.
    let back = b.get("/.otpgate/verify").await;
    assert_eq!(back.location(), format!("/.otpgate/login?rd={RD_Q}"));
    let login = b.get(back.location()).await;
    assert_eq!((login.status, login.location()), (303, RD));
    // A session too old for rd's route is asked again, not bounced in a loop.
    let gw2 = gateway(&shop)
        .route_with("/checkout", "otp", "max_age = \"1m\"")
        .clock(ManualClock::starting_now())
        .run()
        .await;
    let mut b = gw2.browser(H1);
    b.log_in(PHONE, RD).await;
    gw2.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(120));
    let login = b.get(&format!("/.otpgate/login?rd={RD_Q}")).await;
    assert_eq!(login.status, 200, "{login:?}");
}

#[tokio::test]
async fn a_new_send_to_the_same_number_waits_like_the_resend_button() {
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("otp.resend_after", "\"30s\"")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/").await;
    assert_eq!(gw.sms().len(), 1);
    // Same number, however it is written, a new rd: no SMS; the code page
    // says a code is on its way and counts down to the resend.
    for typed in [
        "98123 45678",
        "+91 98123-45678",
        "098123 45678",
        "+919812345678",
    ] {
        let again = b.start(typed, RD).await;
        assert!(again.after_303 && again.status == 200, "{typed}: {again:?}");
        assert!(
            again.body.contains("We already sent a code to this number"),
            "{}",
            again.body
        );
        assert!(again.body.contains("data-countdown="), "{}", again.body);
    }
    // The JSON API, same browser: the same answer, no SMS.
    let api = b
        .post_json("/.otpgate/api/send", serde_json::json!({"phone": PHONE}))
        .await;
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(api.json()["new_code"], false);
    assert!(api.json()["resend_after"].as_u64().unwrap() <= 30);
    assert_eq!(gw.sms().len(), 1, "{:?}", gw.sms());
    let mut other = gw.browser(H1);
    other.start("98765 43210", "/").await;
    assert_eq!(gw.sms().len(), 2, "another browser, another number: sent");
    // Another number in this browser is a new challenge.
    b.start("98765 43210", RD).await;
    assert_eq!(gw.sms().len(), 3);
    b.start(PHONE, RD).await; // the first number again: a new challenge too
    assert_eq!(gw.sms().len(), 4);
    // Once resend_after has passed, sending again texts a new code.
    clock.advance(Duration::from_secs(31));
    let sent = b.start(PHONE, RD).await;
    assert_eq!(sent.status, 303);
    assert_eq!(gw.sms().len(), 5);
    let done = b.enter_code(&b.code_for(PHONE)).await;
    assert_eq!(done.location(), RD);
}

#[tokio::test]
async fn logout_says_so_in_the_shoppers_language_with_a_way_back() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["en", "hi"]"#)
        .run()
        .await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let csrf = b.get("/.otpgate/login").await.csrf();
    for (rd, kept) in [(RD, RD), ("//evil.example", "/")] {
        let out = post_raw(
            &gw,
            &mut b,
            "/.otpgate/logout",
            &[("csrf", &csrf), ("rd", rd)],
        )
        .await;
        assert_eq!(out.status, 303);
        let enc: String = form_urlencoded::byte_serialize(kept.as_bytes()).collect();
        assert_eq!(out.location(), format!("/.otpgate/logout?rd={enc}"));
        let req = gw
            .client(H1)
            .get(gw.url(out.location()))
            .header("accept-language", "hi-IN");
        let page = b.send(req).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<html lang=\"hi\""), "{}", page.body);
        assert!(page.body.contains("आप लॉग आउट हो गए हैं"), "{}", page.body);
        assert!(
            page.body
                .contains(&format!("<a href=\"{}\">", kept.replace('&', "&amp;"))),
            "{}",
            page.body
        );
        assert_eq!(b.get("/checkout").await.status, 302);
    }
    // A GET signs nobody out: with a live session it just goes on to rd.
    b.log_in(PHONE, "/checkout").await;
    let page = b.get("/.otpgate/logout?rd=%2Fcheckout").await;
    assert_eq!((page.status, page.location()), (303, "/checkout"));
    assert_eq!(b.get("/checkout").await.status, 200);
}

#[tokio::test]
async fn the_sms_is_in_the_shoppers_language() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["en", "hi"]"#)
        .set("otp.messages", r#"{ hi = "{code} आपका {brand} OTP है।" }"#)
        .run()
        .await;
    let hindi = |body: &str| body.contains("आपका");
    // The form, by Accept-Language.
    let mut b = gw.browser(H1);
    let page = b
        .send(
            gw.client(H1)
                .get(gw.url("/.otpgate/login"))
                .header("accept-language", "hi-IN,hi;q=0.9,en;q=0.5"),
        )
        .await;
    let req = gw
        .client(H1)
        .post(gw.url("/.otpgate/send"))
        .header("accept-language", "hi-IN")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("phone=9812345678&rd=%2F&csrf={}", page.csrf()));
    assert_eq!(b.send(req).await.status, 303);
    assert!(hindi(&gw.sms().last().unwrap().1), "{:?}", gw.sms());
    // The form, by the language switch's cookie, for the resend too.
    let mut b = gw.browser(H1);
    b.get("/.otpgate/login?lang=hi").await;
    b.start("98765 43210", "/").await;
    assert!(hindi(&gw.sms().last().unwrap().1));
    // The JSON API: its `lang` field, else Accept-Language; else English.
    let api = |lang: Option<&str>, accept: Option<&str>, phone: &'static str| {
        let mut body = serde_json::json!({ "phone": phone });
        if let Some(l) = lang {
            body["lang"] = l.into();
        }
        let mut req = gw
            .client(H1)
            .post(gw.url("/.otpgate/api/send"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(a) = accept {
            req = req.header("accept-language", a);
        }
        req
    };
    for (lang, accept, phone, want_hindi) in [
        (Some("hi"), None, "9876500001", true),
        (None, Some("hi-IN"), "9876500002", true),
        (Some("en"), Some("hi-IN"), "9876500003", false),
        (Some("ta"), None, "9876500004", false),
        (None, None, "9876500005", false),
    ] {
        let r = api(lang, accept, phone).send().await.unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let body = gw.sms().last().unwrap().1.clone();
        assert_eq!(hindi(&body), want_hindi, "{lang:?} {accept:?}: {body}");
    }
}
