//! The whole flow in real headless Chromium on a 360×640 phone, once in
//! Hindi and once in English (the phone's `Accept-Language`): a wrong
//! number, the code page, a wrong code, a new code asked for too early (the
//! wait said in the page's language and counted down), a new code once
//! allowed, the right code, the back button after each post (never a form
//! resubmission, `rd` kept) and logout. axe-core checks every page: no
//! serious or critical violation. Screenshots go to `target/e2e/`; with
//! `OTPGATE_UPDATE_SCREENSHOTS=1` also to `docs/screenshots/`.
//!
//! Needs Debian's `chromium` and axe-core (`$OTPGATE_AXE`, else
//! `target/e2e/node_modules/axe-core/axe.min.js`, installed there with npm
//! when missing: `npm install --prefix target/e2e axe-core@4`). Skipped
//! loudly without them, failed under `OTPGATE_REQUIRE_ALL=1`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::Value;
use support::cdp::{find_chromium, Chromium, Page};
use support::{code_in, gateway, upstream, Gw};

const WIDTH: u32 = 360;
const HEIGHT: u32 = 640;

fn skip(why: &str) {
    if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{why} (OTPGATE_REQUIRE_ALL=1)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// axe-core's script: `$OTPGATE_AXE`, else the npm copy under
/// `target/e2e`, installed there if npm is at hand.
fn axe_or_skip() -> Option<String> {
    if let Some(path) = std::env::var_os("OTPGATE_AXE") {
        return Some(std::fs::read_to_string(path).expect("OTPGATE_AXE is readable"));
    }
    let e2e = target_dir().join("e2e");
    let path = e2e.join("node_modules/axe-core/axe.min.js");
    if !path.is_file() {
        std::fs::create_dir_all(&e2e).unwrap();
        let installed = std::process::Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&e2e)
            .arg("axe-core@4")
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            skip("axe-core not found and `npm install axe-core@4` did not work");
            return None;
        }
    }
    Some(std::fs::read_to_string(&path).unwrap())
}

async fn shot(page: &mut Page, name: &str) {
    page.screenshot(&target_dir().join("e2e").join(name)).await;
    if std::env::var("OTPGATE_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        page.screenshot(&docs.join(name)).await;
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

/// axe-core on the page as it is now: no serious or critical violation.
async fn axe_clean(page: &mut Page, axe: &str, what: &str) {
    // DevTools evaluation is not subject to the page's CSP, so the pages'
    // strict `script-src` stays as shipped.
    if page.eval("typeof axe").await != "object" {
        page.eval(&format!("{axe};0")).await;
    }
    let found = page
        .eval(
            "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(' ')) })))",
        )
        .await;
    assert_eq!(found, Value::Array(vec![]), "axe-core on {what}");
}

/// The page that shows an error says it to screen readers.
async fn alert_said(page: &mut Page) -> String {
    let a = page
        .eval("(() => { const a = document.querySelector('[role=alert]'); return a && [a.getAttribute('aria-live') || 'assertive', a.textContent.trim()]; })()")
        .await;
    assert_eq!(a[0], "assertive", "no role=alert region: {a}");
    a[1].as_str().unwrap().to_string()
}

/// Not Chrome's "Confirm Form Resubmission" (an error page), and the page
/// asked for.
async fn not_a_resubmission(page: &mut Page, gw: &Gw, want: &str) {
    let href = page.href().await;
    assert!(!href.starts_with("chrome-error:"), "a resubmission: {href}");
    assert_eq!(href, gw.url(want));
    let nav = page
        .call("Page.getNavigationHistory", serde_json::json!({}))
        .await;
    let at = nav["currentIndex"].as_u64().unwrap() as usize;
    assert_eq!(nav["entries"][at]["url"], gw.url(want), "{nav}");
}

struct Words {
    lang: &'static str,
    accept: &'static str,
    h1_login: &'static str,
    h1_verify: &'static str,
    bad_phone: &'static str,
    wrong: &'static str,
    wait: &'static str,
    new_code: &'static str,
    signed_out: &'static str,
}

const HINDI: Words = Words {
    lang: "hi",
    accept: "hi-IN,hi;q=0.9,en;q=0.5",
    h1_login: "अपना मोबाइल नंबर डालें",
    h1_verify: "OTP डालें",
    bad_phone: "यह फ़ोन नंबर सही नहीं लगता।",
    wrong: "यह OTP सही नहीं है।",
    wait: "बहुत ज़्यादा कोशिशें हो गईं। कृपया ",
    new_code: "नया OTP भेज दिया गया है।",
    signed_out: "आप लॉग आउट हो गए हैं",
};

const ENGLISH: Words = Words {
    lang: "en",
    accept: "en-IN,en;q=0.9",
    h1_login: "Confirm your phone",
    h1_verify: "Enter your code",
    bad_phone: "That doesn't look like a phone number.",
    wrong: "That code isn't right.",
    wait: "Too many attempts. Please try again in ",
    new_code: "We sent you a new code.",
    signed_out: "You are signed out",
};

fn newest_code(gw: &Gw, phone: &str) -> String {
    let sms = gw.sms();
    let (_, body) = sms
        .iter()
        .rev()
        .find(|(to, _)| to.ends_with(&phone[phone.len() - 4..]))
        .expect("an SMS to the shopper");
    code_in(body)
}

fn wrong_code(right: &str) -> String {
    right
        .chars()
        .map(|d| char::from_digit((d.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

async fn h1(page: &mut Page) -> String {
    text(page, "document.querySelector('h1').textContent").await
}

async fn walk(gw: &Gw, clock: &ManualClock, page: &mut Page, axe: &str, w: &Words, phone: &str) {
    let lang = w.lang;
    let rd_login = "/.otpgate/login?rd=%2Fcheckout";
    page.goto(&gw.url("/checkout")).await;
    assert_eq!(page.href().await, gw.url(rd_login));
    assert_eq!(text(page, "document.documentElement.lang").await, lang);
    assert_eq!(h1(page).await, w.h1_login);
    axe_clean(page, axe, &format!("login ({lang})")).await;

    // A number that is none: the phone page again, said, number kept.
    page.type_into("#phone", "12").await;
    page.tap_and_wait("form[action=\"/.otpgate/send\"] button")
        .await;
    not_a_resubmission(page, gw, rd_login).await;
    assert!(alert_said(page).await.starts_with(w.bad_phone));
    assert_eq!(
        page.eval("document.getElementById('phone').value").await,
        "12"
    );
    assert_eq!(
        page.eval("document.getElementById('phone').getAttribute('aria-invalid')")
            .await,
        "true"
    );
    axe_clean(page, axe, &format!("login with an error ({lang})")).await;
    shot(page, &format!("walk-login-error-{lang}.png")).await;

    page.type_into("#phone", phone).await;
    page.tap_and_wait("form[action=\"/.otpgate/send\"] button")
        .await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;
    assert_eq!(h1(page).await, w.h1_verify);
    axe_clean(page, axe, &format!("code page ({lang})")).await;

    // A wrong code: the code page says so (with the tries left).
    let right = newest_code(gw, phone);
    page.type_into("#code", &wrong_code(&right)).await;
    page.tap_and_wait("form[action=\"/.otpgate/verify\"] button")
        .await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;
    assert!(alert_said(page).await.starts_with(w.wrong));
    axe_clean(page, axe, &format!("code page, wrong code ({lang})")).await;
    // Back: the earlier code page, fetched again; nothing posted again.
    let sms_before = gw.sms().len();
    page.eval_and_wait("history.back()").await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;
    assert_eq!(alert_said(page).await, "", "said once, not again on back");
    page.eval_and_wait("history.forward()").await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;

    // A new code asked for too early — as without JavaScript, where the
    // button is not held back: the wait, in the page's language, counted
    // down.
    page.eval_and_wait("document.getElementById('resend').form.submit()")
        .await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;
    let said = alert_said(page).await;
    assert!(said.starts_with(w.wait), "{said}");
    let first: u64 = text(
        page,
        "document.querySelector('.alert [data-countdown]').textContent",
    )
    .await
    .parse()
    .unwrap();
    assert!((1..=30).contains(&first), "{said}");
    let mut counted = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now: u64 = text(
            page,
            "document.querySelector('.alert [data-countdown]').textContent",
        )
        .await
        .parse()
        .unwrap();
        if now < first {
            counted = true;
            break;
        }
    }
    assert!(counted, "the wait does not count down");
    axe_clean(page, axe, &format!("code page, rate limited ({lang})")).await;
    shot(page, &format!("walk-rate-limited-{lang}.png")).await;
    assert_eq!(gw.sms().len(), sms_before, "no SMS for a refused resend");

    // Once allowed (the gateway's clock moves on): a new code.
    clock.advance(Duration::from_secs(31));
    page.goto(&gw.url("/.otpgate/verify")).await;
    assert_eq!(
        page.eval("document.getElementById('resend').disabled")
            .await,
        false
    );
    page.tap_and_wait("#resend").await;
    not_a_resubmission(page, gw, "/.otpgate/verify").await;
    let notice = text(page, "document.querySelector('[role=status]').textContent").await;
    assert!(notice.starts_with(w.new_code), "{notice}");
    assert_eq!(gw.sms().len(), sms_before + 1);
    axe_clean(page, axe, &format!("code page, new code ({lang})")).await;

    let right = newest_code(gw, phone);
    page.type_into("#code", &right).await;
    page.tap_and_wait("form[action=\"/.otpgate/verify\"] button")
        .await;
    assert_eq!(page.href().await, gw.url("/checkout"));
    // Back from the shop: no dead phone page, no resubmission: the shop.
    page.eval_and_wait("history.back()").await;
    not_a_resubmission(page, gw, "/checkout").await;
    assert_eq!(gw.sms().len(), sms_before + 1, "back texted nothing");

    // The shop's own "Log out" button: a same-origin post.
    page.eval_and_wait(
        "(() => { const f = document.createElement('form'); f.method = 'post';
           f.action = '/.otpgate/logout'; const i = document.createElement('input');
           i.type = 'hidden'; i.name = 'rd'; i.value = '/checkout'; f.append(i);
           document.body.append(f); f.submit(); })()",
    )
    .await;
    not_a_resubmission(page, gw, "/.otpgate/logout?rd=%2Fcheckout").await;
    assert_eq!(text(page, "document.documentElement.lang").await, lang);
    assert_eq!(h1(page).await, w.signed_out);
    assert_eq!(
        text(
            page,
            "document.querySelector('.small a').getAttribute('href')"
        )
        .await,
        "/checkout"
    );
    axe_clean(page, axe, &format!("logout ({lang})")).await;
    shot(page, &format!("walk-logout-{lang}.png")).await;
    page.tap_and_wait(".small a").await;
    assert_eq!(page.href().await, gw.url(rd_login), "signed out for real");
}

#[tokio::test]
async fn the_whole_flow_in_hindi_and_english_on_a_small_phone() {
    let Some(bin) = find_chromium() else {
        return skip("chromium not found — install Debian's chromium to run the browser walk");
    };
    let Some(axe) = axe_or_skip() else {
        return;
    };
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("brand.name", "\"Example Shop\"")
        .set("brand.languages", r#"["en", "hi"]"#)
        .set("otp.resend_after", "\"30s\"")
        .clock(clock.clone())
        .run()
        .await;
    for (words, phone) in [(&HINDI, "98123 45678"), (&ENGLISH, "98765 43210")] {
        // A browser per shopper: their own cookies and phone language.
        let mut chrome = Chromium::launch(&bin).await;
        let mut page = chrome.new_page().await;
        page.phone_screen(WIDTH, HEIGHT).await;
        page.accept_language(words.accept).await;
        walk(&gw, &clock, &mut page, &axe, words, phone).await;
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
