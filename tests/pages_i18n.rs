//! The shopper's pages in their language, across the wire: Accept-Language,
//! the `?lang=` switch and its cookie, errors and waits said in Hindi, and
//! a merchant's `templates_dir` (one changed string, one changed template)
//! served end to end.

mod support;

use support::{gateway, upstream, Browser, Gw, H2, PHONE};

/// A GET as the browser, with an `Accept-Language`.
async fn get_in(
    gw: &Gw,
    b: &mut Browser,
    path: &str,
    accept_language: &str,
) -> support::browser::Resp {
    let req = gw
        .client(H2)
        .get(gw.url(path))
        .header("accept-language", accept_language);
    b.send(req).await
}

fn lang_of(body: &str) -> &str {
    let at = body.find("<html lang=\"").expect("an <html lang>") + 12;
    &body[at..at + body[at..].find('"').unwrap()]
}

#[tokio::test]
async fn accept_language_hi_in_gets_the_hindi_login_page() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["en", "hi"]"#)
        .run()
        .await;
    let mut b = gw.browser(H2);
    let page = get_in(
        &gw,
        &mut b,
        "/.otpgate/login?rd=%2Fcheckout",
        "hi-IN,hi;q=0.9,en-US;q=0.8",
    )
    .await;
    assert_eq!(page.status, 200);
    assert_eq!(lang_of(&page.body), "hi", "{}", page.body);
    assert!(
        page.body.contains("<h1>अपना मोबाइल नंबर डालें</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(">+91</span>"), "the dial code is shown");
    assert!(page.body.contains(">OTP भेजें</button>"));
    // No choice was made on the page: nothing remembered.
    assert!(!b.set_cookies.iter().any(|c| c.starts_with("otpgate-lang=")));
    // English first, Hindi lower: English.
    let page = get_in(&gw, &mut b, "/.otpgate/login", "en-GB, hi;q=0.5").await;
    assert_eq!(lang_of(&page.body), "en");
    // A language the shop does not offer is ignored.
    let page = get_in(&gw, &mut b, "/.otpgate/login", "ta-IN, fr;q=0.9").await;
    assert_eq!(lang_of(&page.body), "en");
}

#[tokio::test]
async fn hindi_is_not_shown_where_the_shop_does_not_offer_it() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H2);
    let page = get_in(&gw, &mut b, "/.otpgate/login?lang=hi", "hi-IN").await;
    assert_eq!(lang_of(&page.body), "en");
    assert!(
        !page.body.contains("class=\"langs\""),
        "one language: no switch"
    );
    assert!(!b.set_cookies.iter().any(|c| c.starts_with("otpgate-lang=")));
}

#[tokio::test]
async fn the_lang_switch_sets_the_cookie_and_overrides_the_header() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["hi", "en"]"#)
        .set("limits.send_per_phone", r#"{ max = 1, window = "10m" }"#)
        .run()
        .await;
    let mut b = gw.browser(H2);
    // The default is the first offered: Hindi; the switch links to English.
    let page = b.get("/.otpgate/login?rd=%2Fcheckout").await;
    assert_eq!(lang_of(&page.body), "hi");
    assert!(
        page.body
            .contains("href=\"/.otpgate/login?rd=%2Fcheckout&amp;lang=en\""),
        "{}",
        page.body
    );
    let page = get_in(
        &gw,
        &mut b,
        "/.otpgate/login?rd=%2Fcheckout&lang=en",
        "hi-IN",
    )
    .await;
    assert_eq!(lang_of(&page.body), "en");
    let set = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("otpgate-lang="))
        .expect("the switch is remembered");
    assert!(
        set.starts_with("otpgate-lang=en;") && set.contains("Secure"),
        "{set}"
    );
    // The cookie beats Accept-Language from now on, on every page.
    let page = get_in(&gw, &mut b, "/.otpgate/login", "hi-IN").await;
    assert_eq!(lang_of(&page.body), "en");
    let sent = b.start(PHONE, "/checkout").await;
    assert_eq!(sent.status, 303);
    let verify = get_in(&gw, &mut b, "/.otpgate/verify", "hi").await;
    assert_eq!(lang_of(&verify.body), "en");
    // Switch back on the code page.
    let verify = b.get("/.otpgate/verify?lang=hi").await;
    assert_eq!(lang_of(&verify.body), "hi");
    assert!(verify.body.contains("हमने +91"), "{}", verify.body);
    // A wrong code, in Hindi, with the tries left.
    let csrf = verify.csrf();
    let wrong = b.enter_code_raw("000000", &csrf).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("यह OTP सही नहीं है।"), "{}", wrong.body);
    assert!(wrong.body.contains("कोशिशें बाकी हैं।"), "{}", wrong.body);
    // A second code for the same phone within `resend_after` (issue 11):
    // nothing is texted; the code page says a code is on its way, in Hindi.
    let texted = gw.sms().len();
    let again = b.start(PHONE, "/checkout").await;
    assert!(again.after_303 && again.status == 200, "{again:?}");
    assert!(
        again.body.contains("इस नंबर पर OTP पहले ही भेज दिया गया है।"),
        "{}",
        again.body
    );
    assert_eq!(gw.sms().len(), texted, "no second SMS");
    // A new code asked for too early: refused, and the page says how long
    // to wait, in Hindi, with the same seconds as Retry-After.
    let again = b
        .post_form("/.otpgate/resend", &[("csrf", &again.csrf())])
        .await;
    assert_eq!(again.status, 429, "{}", again.body);
    let secs = again
        .header("retry-after")
        .expect("Retry-After")
        .to_string();
    let want = format!(
        "कृपया <span data-countdown=\"{secs}\" aria-live=\"off\">{secs}</span> सेकंड बाद फिर कोशिश करें"
    );
    assert!(again.body.contains(&want), "{want} not in {}", again.body);
    assert!(again.body.contains("role=\"alert\""));
}

/// The built-in code page with one line added by the merchant.
fn merchant_verify_template() -> String {
    include_str!("../src/pages/templates/verify.html").replace(
        "{% endblock %}",
        "<p class=\"small\" id=\"help\">{{ brand.name }} helpline: 1800-000-000</p>\n{% endblock %}",
    )
}

#[tokio::test]
async fn a_merchant_templates_dir_is_served_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("strings")).unwrap();
    std::fs::write(
        dir.path().join("strings/hi.toml"),
        "send_button = \"कोड भेजो\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("verify.html"), merchant_verify_template()).unwrap();
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.languages", r#"["en", "hi"]"#)
        .set(
            "brand.templates_dir",
            &format!("{:?}", dir.path().display().to_string()),
        )
        .run()
        .await;
    let mut b = gw.browser(H2);
    let login = get_in(&gw, &mut b, "/.otpgate/login?rd=%2Fcheckout", "hi").await;
    assert!(login.body.contains(">कोड भेजो</button>"), "{}", login.body);
    assert!(
        login.body.contains("<h1>अपना मोबाइल नंबर डालें</h1>"),
        "other strings stay"
    );
    let english = get_in(&gw, &mut b, "/.otpgate/login", "en").await;
    assert!(
        english.body.contains(">Send code</button>"),
        "only Hindi changed"
    );
    let sent = b.start(PHONE, "/checkout").await;
    assert_eq!(sent.status, 303);
    let verify = get_in(&gw, &mut b, "/.otpgate/verify", "hi").await;
    assert!(
        verify
            .body
            .contains("<p class=\"small\" id=\"help\">Test Shop helpline: 1800-000-000</p>"),
        "{}",
        verify.body
    );
    assert!(verify.body.contains("<h1>OTP डालें</h1>"));
    let code = b.code_for(PHONE);
    let done = b.enter_code(&code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/checkout");
    assert_eq!(b.get("/checkout").await.status, 200);
}

/// `check-config` on the builder's file: every problem, one per line.
fn problems(b: support::GatewayBuilder) -> Vec<String> {
    // The builder holds the TLS files the config names: parse before it goes.
    match otpgate::config::Config::parse(&b.config_text(), "test") {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[tokio::test]
async fn check_config_refuses_broken_overrides_and_unreadable_colours() {
    let shop = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("login.html"),
        "{% extends \"base.html\" %}\n{% block content %}\n{% if %}\n{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("verify.html"),
        "{% extends \"base.html\" %}{% block content %}<input name=\"otp\">{% endblock %}",
    )
    .unwrap();
    let with_dir = || {
        gateway(&shop).set(
            "brand.templates_dir",
            &format!("{:?}", dir.path().display().to_string()),
        )
    };
    let found = problems(with_dir());
    let login = format!(
        "brand.templates_dir: {}:3",
        dir.path().join("login.html").display()
    );
    assert!(found.len() == 1 && found[0].contains(&login), "{found:#?}");
    // The verify page override parses, so it is rendered and found wanting
    // once login.html is fixed.
    std::fs::remove_file(dir.path().join("login.html")).unwrap();
    let found = problems(with_dir());
    assert!(
        found.iter().any(|p| p.contains("brand.templates_dir: ")
            && p.contains("verify.html")
            && p.contains("name=\"code\"")),
        "{found:#?}"
    );

    let found = problems(gateway(&shop).set("brand.color", "\"#808080\""));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("brand.color") && found[0].contains("4.5:1"),
        "{found:#?}"
    );
    let found = problems(gateway(&shop).set("brand.color", "\"#ffd700\""));
    assert!(found.is_empty(), "{found:#?}");

    let found = problems(
        gateway(&shop)
            .set("brand.languages", r#"["en", "hi"]"#)
            .set(
                "otp.messages",
                r#"{ hi = "कोड {code} {brand}", ta = "{code}" }"#,
            ),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("otp.messages.ta") && found[0].contains("not in brand.languages"),
        "{found:#?}"
    );
    let found = problems(gateway(&shop).set("brand.languages", r#"["en", "ta"]"#));
    assert!(
        found.len() == 1 && found[0].contains("`ta` has no strings"),
        "{found:#?}"
    );
}
