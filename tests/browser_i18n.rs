//! The pages in Hindi and English in real headless Chromium on a 360×640
//! phone: the language switch, `<html lang>`, the visible `+91`, the resend
//! countdown and a wrong code said in the page's language, and the right
//! code. Screenshots go to `target/e2e/`; with `OTPGATE_UPDATE_SCREENSHOTS=1`
//! also to `docs/screenshots/` (the README shows two of them).
//!
//! Needs Debian's `chromium` (or `OTPGATE_CHROMIUM`); skipped loudly
//! without it, failed under `OTPGATE_REQUIRE_ALL=1`.

mod support;

use std::io::Write;
use std::path::PathBuf;

use support::cdp::{find_chromium, Page};
use support::{code_in, gateway, upstream, Gw};

const WIDTH: u32 = 360;
const HEIGHT: u32 = 640;

fn chromium_or_skip() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("chromium not found (OTPGATE_REQUIRE_ALL=1): install Debian's chromium to run the browser test");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: chromium not found — install Debian's chromium to run the browser test"
        );
    }
    found
}

/// `for_docs`: one of the pictures `docs/screenshots/` keeps.
async fn shot(page: &mut Page, name: &str, for_docs: bool) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    page.screenshot(&target.join("e2e").join(name)).await;
    if for_docs && std::env::var("OTPGATE_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        page.screenshot(&root.join("docs/screenshots").join(name))
            .await;
    }
}

async fn text(page: &mut Page, js: &str) -> String {
    page.eval(js)
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string()
}

struct Words {
    lang: &'static str,
    h1_login: &'static str,
    send: &'static str,
    h1_verify: &'static str,
    wait_starts: &'static str,
    wrong_starts: &'static str,
}

const HINDI: Words = Words {
    lang: "hi",
    h1_login: "अपना मोबाइल नंबर डालें",
    send: "OTP भेजें",
    h1_verify: "OTP डालें",
    wait_starts: "आप ",
    wrong_starts: "यह OTP सही नहीं है।",
};

const ENGLISH: Words = Words {
    lang: "en",
    h1_login: "Confirm your phone",
    send: "Send code",
    h1_verify: "Enter your code",
    wait_starts: "You can ask for a new code in",
    wrong_starts: "That code isn't right.",
};

async fn walk(gw: &Gw, page: &mut Page, w: &Words, phone: &str) {
    page.goto(&gw.url("/checkout")).await;
    // Arrive in the other language, then use the switch.
    let other = if w.lang == "hi" { "en" } else { "hi" };
    page.goto(&gw.url(&format!("/.otpgate/login?rd=%2Fcheckout&lang={other}")))
        .await;
    page.tap_and_wait(&format!(".langs a[lang=\"{}\"]", w.lang))
        .await;
    assert_eq!(text(page, "document.documentElement.lang").await, w.lang);
    assert_eq!(
        text(page, "document.querySelector('h1').textContent").await,
        w.h1_login
    );
    assert_eq!(
        text(
            page,
            "document.querySelector('form[action=\"/.otpgate/send\"] button').textContent"
        )
        .await,
        w.send
    );
    // +91 is on screen, left of the field, on the same line.
    let prefix = page
        .eval("(() => { const p = document.getElementById('dial-code').getBoundingClientRect(), i = document.getElementById('phone').getBoundingClientRect(); return [document.getElementById('dial-code').textContent, p.width > 0 && p.right <= i.left && Math.abs(p.top - i.top) < 4, document.documentElement.scrollWidth]; })()")
        .await;
    assert_eq!(prefix[0], "+91", "{prefix}");
    assert_eq!(
        prefix[1], true,
        "the dial code is not beside the field: {prefix}"
    );
    assert!(
        prefix[2].as_u64().unwrap() <= WIDTH as u64,
        "scrolls sideways: {prefix}"
    );
    shot(page, &format!("login-{}.png", w.lang), true).await;

    page.type_into("#phone", phone).await;
    page.tap_and_wait("form[action=\"/.otpgate/send\"] button")
        .await;
    assert_eq!(page.href().await, gw.url("/.otpgate/verify"));
    assert_eq!(text(page, "document.documentElement.lang").await, w.lang);
    assert_eq!(
        text(page, "document.querySelector('h1').textContent").await,
        w.h1_verify
    );
    let resend = page
        .eval("[document.getElementById('resend').disabled, document.getElementById('countdown').textContent]")
        .await;
    assert_eq!(
        resend[0], true,
        "the countdown script did not run: {resend}"
    );
    assert!(
        resend[1].as_str().unwrap().starts_with(w.wait_starts),
        "{resend}"
    );
    shot(page, &format!("verify-{}.png", w.lang), true).await;

    let sms = gw.sms();
    let right = code_in(
        &sms.iter()
            .rev()
            .find(|(to, _)| to.ends_with(&phone[phone.len() - 4..]))
            .unwrap()
            .1,
    );
    let wrong: String = right
        .chars()
        .map(|d| char::from_digit((d.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect();
    page.type_into("#code", &wrong).await;
    page.tap_and_wait("form[action=\"/.otpgate/verify\"] button")
        .await;
    let alert = text(page, "document.querySelector('[role=alert]').textContent").await;
    assert!(alert.starts_with(w.wrong_starts), "{alert}");
    assert_eq!(text(page, "document.documentElement.lang").await, w.lang);
    shot(page, &format!("verify-error-{}.png", w.lang), false).await;

    page.type_into("#code", &right).await;
    page.tap_and_wait("form[action=\"/.otpgate/verify\"] button")
        .await;
    assert_eq!(page.href().await, gw.url("/checkout"));
}

#[tokio::test]
async fn hindi_and_english_shoppers_walk_the_pages_on_a_small_phone() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.name", "\"Example Shop\"")
        .set("brand.languages", r#"["hi", "en"]"#)
        .run()
        .await;
    for (words, phone) in [(&HINDI, "98123 45678"), (&ENGLISH, "98765 43210")] {
        // A browser per shopper (the first one's session would send the
        // second past the phone page); each picks its language with the
        // switch.
        let mut chrome = support::cdp::Chromium::launch(&bin).await;
        let mut page = chrome.new_page().await;
        page.phone_screen(WIDTH, HEIGHT).await;
        walk(&gw, &mut page, words, phone).await;
        let broken: Vec<_> = page
            .errors()
            .into_iter()
            .filter(|e| {
                e.starts_with("exception:")
                    || e.contains("Refused to")
                    || e.contains("Content Security Policy")
            })
            .collect();
        assert!(broken.is_empty(), "{}: {broken:#?}", words.lang);
        chrome.close().await;
    }
}
