//! The proof-of-work in real headless Chromium: a shopper whose send needs
//! it presses "Send code" once, the page's script solves the challenge
//! with WebCrypto (CSP intact: no script error) and sends them on to the
//! code page. The solve time at the base difficulty on a CPU throttled 4×
//! (DevTools `Emulation.setCPUThrottlingRate`, a phone-class CPU) is
//! printed, not asserted: it depends on the machine. With JavaScript off
//! the page says what to do and no SMS goes out.
//!
//! Needs Debian's `chromium` (or `OTPGATE_CHROMIUM`); skipped loudly
//! without it, a failure under `OTPGATE_REQUIRE_ALL=1`.

mod support;

use std::io::Write;

use serde_json::json;
use support::cdp::{find_chromium, Chromium};
use support::{gateway, upstream};

/// Runs in every page before its own scripts: counts the digests asked
/// for and, when the page submits its form, keeps how long they took and
/// how many there were (in `sessionStorage`, which survives the
/// navigation): one solve's luck varies, the rate does not.
const STOPWATCH: &str = "(function(){var d=SubtleCrypto.prototype.digest,t=null,n=0;\
SubtleCrypto.prototype.digest=function(){if(t===null)t=performance.now();n++;return d.apply(this,arguments)};\
var s=HTMLFormElement.prototype.submit;HTMLFormElement.prototype.submit=function(){\
if(t!==null)sessionStorage.setItem('pow',Math.round(performance.now()-t)+','+n);return s.call(this)}})();";

const RATE: u32 = 4;
const BASE: u32 = 12;

#[tokio::test]
async fn the_page_solves_the_work_and_a_page_without_javascript_says_so() {
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
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .set("pow.threshold", "0")
        .set("pow.base_difficulty", &BASE.to_string())
        .set("pow.ip_sends", "1000")
        .set("pow.fingerprint_sends", "1000")
        .run()
        .await;
    let mut chrome = Chromium::launch(&bin).await;
    let mut page = chrome.new_page().await;
    page.phone_screen(360, 640).await;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": STOPWATCH }),
    )
    .await;
    page.call("Emulation.setCPUThrottlingRate", json!({ "rate": RATE }))
        .await;

    let mut times = Vec::new();
    for (i, number) in ["98123 45678", "98123 40001", "98123 40002"]
        .iter()
        .enumerate()
    {
        page.goto(&gw.url("/.otpgate/login?rd=/checkout")).await;
        page.type_into("#phone", number).await;
        page.tap_and_wait("form[action=\"/.otpgate/send\"] button")
            .await;
        // The refusal's page loads, its script does the work and posts
        // the form again (the stopwatch below proves the work was done).
        page.wait_for_href(&gw.url("/.otpgate/verify")).await;
        assert_eq!(gw.sms().len(), i + 1, "one code per send");
        let ms = page
            .eval("(() => { const v = sessionStorage.getItem('pow'); sessionStorage.removeItem('pow'); return v; })()")
            .await;
        let (ms, digests) = ms
            .as_str()
            .and_then(|v| v.split_once(','))
            .expect("the stopwatch saw the work");
        times.push((ms.parse::<f64>().unwrap(), digests.parse::<f64>().unwrap()));
    }
    let (ms, digests) = times
        .iter()
        .fold((0.0, 0.0), |(a, b), (m, d)| (a + m, b + d));
    let rate = digests / ms.max(1.0) * 1000.0;
    println!(
        "proof-of-work, CPU throttled {RATE}x: {rate:.0} SHA-256/s with WebCrypto, so \
         {BASE} bits (2^{BASE} = {} digests on average) take {:.0} ms; these solves \
         (ms, digests): {times:?}",
        1u64 << BASE,
        f64::from(1u32 << BASE) / rate * 1000.0
    );
    // The demand's page is a 403 (Chromium logs that); anything else —
    // a CSP refusal, a script error — is a failure.
    let errors: Vec<String> = page
        .errors()
        .into_iter()
        .filter(|e| !e.contains("status of 403"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // Without JavaScript: the phone page as ever, then the demand's page
    // says what to do; nothing is texted.
    let mut nojs = chrome.new_page().await;
    nojs.phone_screen(360, 640).await;
    nojs.call(
        "Emulation.setScriptExecutionDisabled",
        json!({ "value": true }),
    )
    .await;
    nojs.goto(&gw.url("/.otpgate/login?rd=/checkout")).await;
    nojs.type_into("#phone", "98123 40003").await;
    nojs.tap_and_wait("form[action=\"/.otpgate/send\"] button")
        .await;
    let shown = nojs.eval("document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("uses JavaScript"), "{shown}");
    assert!(!shown.contains("Checking your browser"), "{shown}");
    assert!(nojs.href().await.starts_with(&gw.url("/.otpgate/login")));
    assert_eq!(gw.sms().len(), 3, "no code without the work");
    chrome.close().await;
}
