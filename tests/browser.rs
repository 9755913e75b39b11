//! A shopper walks otpgate's pages in real headless Chromium on a 360×640
//! phone screen: the redirect to the phone page, labels and keyboards,
//! autofocus, a wrong code and its error, the right code, and the storefront
//! receiving the verified phone. Screenshots go to `target/e2e/`.
//!
//! Needs Debian's `chromium` (or the binary named by `OTPGATE_CHROMIUM`);
//! without it the test is skipped loudly, unless `OTPGATE_REQUIRE_ALL=1`,
//! where a missing browser fails it.

mod support;

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;
use support::cdp::{find_chromium, Chromium, Page};
use support::{code_in, gateway, upstream, PHONE};

const WIDTH: u32 = 360;
const HEIGHT: u32 = 640;

fn chromium_or_skip() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("chromium not found (OTPGATE_REQUIRE_ALL=1): install Debian's chromium to run the browser test");
        }
        // Straight to stderr: libtest captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: chromium not found — install Debian's chromium to run the browser test"
        );
    }
    found
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("e2e").join(name)
}

/// Facts about a form field, its label and the page around it.
async fn field(page: &mut Page, id: &str) -> Value {
    page.eval(&format!(
        "(() => {{ const el = document.getElementById('{id}'); if (!el) return null;
         const label = el.labels && el.labels[0], lr = label && label.getBoundingClientRect();
         return {{
           type: el.type, typeAttr: el.getAttribute('type'), autocomplete: el.getAttribute('autocomplete'),
           inputmode: el.getAttribute('inputmode'), invalid: el.getAttribute('aria-invalid'), value: el.value,
           label: label ? label.textContent.trim() : null, labelShown: !!lr && lr.width > 0 && lr.height > 0,
           focused: document.activeElement === el,
           innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
         }}; }})()"
    ))
    .await
}

/// Where the first button of the form posting to `action` is, before any
/// scrolling: its bottom edge, in CSS pixels from the top of the screen.
async fn button_bottom(page: &mut Page, action: &str) -> f64 {
    page.eval(&format!(
        "document.querySelector('form[action=\"{action}\"] button').getBoundingClientRect().bottom"
    ))
    .await
    .as_f64()
    .unwrap()
}

/// The checks every page gets: it fits the phone's width and the field is
/// labelled for both eyes and screen readers.
async fn check_field(page: &mut Page, id: &str, label: &str) -> Value {
    let f = field(page, id).await;
    assert!(!f.is_null(), "no #{id} on {}", page.href().await);
    assert_eq!(
        f["innerWidth"], WIDTH,
        "the page does not use the phone's width (viewport meta?)"
    );
    assert!(
        f["scrollWidth"].as_u64().unwrap() <= WIDTH as u64,
        "the page scrolls sideways on a {WIDTH} px screen: {f}"
    );
    assert_eq!(f["label"], label, "#{id} has no visible <label>: {f}");
    assert_eq!(f["labelShown"], true, "the label of #{id} is hidden: {f}");
    let (role, name, _) = page.accessible(&format!("#{id}")).await;
    assert_eq!(
        (role.as_str(), name.as_str()),
        ("textbox", label),
        "#{id} as a screen reader gets it"
    );
    f
}

#[tokio::test]
async fn shopper_walks_the_pages_on_a_small_phone() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut chrome = Chromium::launch(&bin).await;
    let mut page = chrome.new_page().await;
    page.phone_screen(WIDTH, HEIGHT).await;

    // A protected page sends the shopper to the phone page.
    page.goto(&gw.url("/checkout")).await;
    assert_eq!(page.href().await, gw.url("/.otpgate/login?rd=%2Fcheckout"));
    let phone = check_field(&mut page, "phone", "Mobile number").await;
    assert_eq!(
        phone["type"], "tel",
        "the phone field must bring up the phone keypad: {phone}"
    );
    assert_eq!(phone["autocomplete"], "tel", "{phone}");
    assert!(
        phone["focused"] == true || has_focus(&mut page, "phone").await,
        "the phone field should have focus on arrival: {phone}"
    );
    // The inline style ran under the page's CSP: the button has the brand colour.
    let colour = page
        .eval("getComputedStyle(document.querySelector('button')).backgroundColor")
        .await;
    assert_eq!(
        colour, "rgb(15, 118, 110)",
        "the page's own style was not applied"
    );
    let bottom = button_bottom(&mut page, "/.otpgate/send").await;
    assert!(
        bottom <= HEIGHT as f64,
        "\"Send code\" is below the first screen ({bottom} px)"
    );
    page.screenshot(&screenshot_path("login.png")).await;

    // A typo: the same page, the error shown, the number kept to fix.
    let send = "form[action=\"/.otpgate/send\"] button";
    assert_eq!(
        page.eval(&format!("document.querySelector('{send}').textContent"))
            .await,
        "Send code"
    );
    page.type_into("#phone", "98123 4567").await;
    page.tap_and_wait(send).await;
    assert_eq!(
        page.eval("document.querySelector('h1').textContent").await,
        "Confirm your phone"
    );
    let alert = page
        .eval("document.getElementById('error').textContent")
        .await;
    assert!(
        !alert.as_str().unwrap().trim().is_empty(),
        "no error for a short number"
    );
    let typo = check_field(&mut page, "phone", "Mobile number").await;
    assert_eq!(
        typo["value"], "98123 4567",
        "the typed number should be kept: {typo}"
    );
    assert_eq!(typo["invalid"], "true", "{typo}");
    assert!(gw.sms().is_empty(), "an invalid number cost an SMS");

    page.type_into("#phone", "98123 45678").await;
    page.tap_and_wait(send).await;

    // The code page.
    assert_eq!(page.href().await, gw.url("/.otpgate/verify"));
    let code = check_field(&mut page, "code", "Code").await;
    assert_eq!(code["autocomplete"], "one-time-code", "{code}");
    assert_eq!(code["inputmode"], "numeric", "{code}");
    assert_ne!(
        code["typeAttr"], "number",
        "a code is not a number (leading zeros, spinners): {code}"
    );
    assert!(
        code["focused"] == true || has_focus(&mut page, "code").await,
        "the code field should have focus on arrival: {code}"
    );
    let region = page
        .eval("(() => { const e = document.getElementById('error'); return e && [e.getAttribute('role'), e.getAttribute('aria-live')]; })()")
        .await;
    assert_eq!(
        region[0], "alert",
        "the error region needs role=alert: {region}"
    );
    assert!(
        region[1].is_string(),
        "the error region needs aria-live: {region}"
    );
    // The inline script ran under the CSP: the resend countdown is on.
    let resend = page
        .eval("[document.getElementById('resend').disabled, document.getElementById('countdown').textContent]")
        .await;
    assert_eq!(
        resend[0], true,
        "the resend countdown script did not run: {resend}"
    );
    assert!(
        resend[1]
            .as_str()
            .unwrap()
            .starts_with("You can ask for a new code in"),
        "{resend}"
    );
    let bottom = button_bottom(&mut page, "/.otpgate/verify").await;
    assert!(
        bottom <= HEIGHT as f64,
        "\"Verify\" is below the first screen ({bottom} px)"
    );
    page.screenshot(&screenshot_path("verify.png")).await;

    let sms = gw.sms();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0].0, PHONE);
    let right = code_in(&sms[0].1);
    let wrong: String = right
        .chars()
        .map(|d| char::from_digit((d.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect();

    // A wrong code: the same page again, with the error announced.
    let verify = "form[action=\"/.otpgate/verify\"] button";
    page.type_into("#code", &wrong).await;
    page.tap_and_wait(verify).await;
    assert_eq!(page.href().await, gw.url("/.otpgate/verify"));
    assert_eq!(
        page.eval("document.querySelector('h1').textContent").await,
        "Enter your code"
    );
    let error = page
        .eval("document.querySelector('[role=alert]').textContent.trim()")
        .await;
    assert!(
        !error.as_str().unwrap().is_empty(),
        "no error message after a wrong code"
    );
    let again = check_field(&mut page, "code", "Code").await;
    assert_eq!(again["invalid"], "true", "{again}");
    assert_eq!(again["value"], "", "{again}");
    assert_eq!(
        again["focused"], true,
        "focus should be back in the code field: {again}"
    );
    let (_, _, description) = page.accessible("#code").await;
    eprintln!("after a wrong code: alert {error}; the code field's description: {description:?}");
    page.screenshot(&screenshot_path("verify-error.png")).await;

    // The right code: back where the shopper was going, as a verified phone.
    page.type_into("#code", &right).await;
    page.tap_and_wait(verify).await;
    assert_eq!(page.href().await, gw.url("/checkout"));
    let body = page
        .eval("(document.querySelector('pre') || document.body).textContent")
        .await;
    let echo: Value = serde_json::from_str(body.as_str().unwrap())
        .unwrap_or_else(|e| panic!("the shop's echo is not JSON ({e}): {body}"));
    let header = |name: &str| {
        echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == name)
            .map(|h| h[1].clone())
    };
    assert_eq!(
        header("x-otpgate-phone"),
        Some(Value::from(PHONE)),
        "{echo}"
    );

    // The pages' CSP never blocked their own style or script, and their
    // script never threw. (The 4xx answers to the typo and the wrong code
    // show up as "Failed to load resource" log errors; those are expected.)
    let errors = page.errors();
    eprintln!("browser errors during the walk: {errors:#?}");
    let broken: Vec<_> = errors
        .iter()
        .filter(|e| {
            e.starts_with("exception:")
                || e.contains("Refused to")
                || e.contains("Content Security Policy")
        })
        .collect();
    assert!(
        broken.is_empty(),
        "the pages' own style or script failed: {broken:#?}"
    );
    chrome.close().await;
}

/// `autofocus` is applied once the page is rendered, which under load can
/// trail the load event a little: waits (bounded, 2 s) for element `id`
/// to have the focus.
async fn has_focus(page: &mut Page, id: &str) -> bool {
    let js = format!("document.activeElement && document.activeElement.id === '{id}'");
    for _ in 0..50 {
        if page.eval(&js).await == true {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    false
}
