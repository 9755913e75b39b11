//! Adaptive proof-of-work (issue 15): a risky send needs a hashcash proof
//! bound to the browser and the number, used once (also across two
//! instances on a real `redis-server`), within its expiry, at the
//! difficulty the risk asks for now. Every variant an attacker can try —
//! another browser, another number, a lowered difficulty, a replay, an
//! expired or garbled challenge — is refused with a code that names it,
//! never a 5xx, and never costs an SMS. The client side is solved here in
//! plain Rust, as an app would.

mod support;

#[path = "pow/redis.rs"]
mod on_redis;
#[path = "pow/registered.rs"]
mod registered;

use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::browser::Resp;
use support::{gateway, upstream, Browser, GatewayBuilder, Shop, H1, PHONE};

/// A gateway that asks every send for work (`threshold = 0`) at a
/// difficulty a test solves in milliseconds, and (velocities off) keeps
/// asking the same: every test client is 127.0.0.1 with one JA4.
pub fn always(shop: &Shop) -> GatewayBuilder {
    gateway(shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .set("pow.threshold", "0")
        .set("pow.base_difficulty", "8")
        .set("pow.ip_sends", "1000000")
        .set("pow.fingerprint_sends", "1000000")
}

fn zero_bits(d: &[u8]) -> u32 {
    let mut n = 0;
    for b in d {
        if *b != 0 {
            return n + b.leading_zeros();
        }
        n += 8;
    }
    n
}

/// The client's work: the first decimal nonce with `bits` leading zeros.
pub fn solve(challenge: &str, bits: u64) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|n| {
            let d = Sha256::new()
                .chain_update(challenge)
                .chain_update(n)
                .finalize();
            u64::from(zero_bits(&d)) >= bits
        })
        .unwrap()
}

/// A nonce that does *not* solve `challenge` at `bits`.
fn wrong_nonce(challenge: &str, bits: u64) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|n| {
            let d = Sha256::new()
                .chain_update(challenge)
                .chain_update(n)
                .finalize();
            u64::from(zero_bits(&d)) < bits
        })
        .unwrap()
}

fn attr<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("{name}=\""))? + name.len() + 2;
    Some(&html[at..at + html[at..].find('"')?])
}

/// The challenge and difficulty a phone page asks for.
pub fn page_pow(page: &Resp) -> Option<(String, u64)> {
    let c = attr(&page.body, "data-pow")?.to_string();
    let bits = attr(&page.body, "data-pow-bits")?.parse().ok()?;
    Some((c, bits))
}

/// Posts the phone form with these proof-of-work fields.
async fn send_form(b: &mut Browser, phone: &str, pow: Option<(&str, &str)>) -> Resp {
    let csrf = b.get("/.otpgate/login?rd=/checkout").await.csrf();
    let (c, n) = pow.unwrap_or(("", ""));
    b.post_form(
        "/.otpgate/send",
        &[
            ("phone", phone),
            ("csrf", &csrf),
            ("rd", "/checkout"),
            ("pow_challenge", c),
            ("pow_nonce", n),
        ],
    )
    .await
}

pub async fn api_send(b: &mut Browser, phone: &str, pow: Option<(&str, &str)>) -> Resp {
    let mut body = json!({ "phone": phone, "rd": "/checkout" });
    if let Some((c, n)) = pow {
        body["pow"] = json!({ "challenge": c, "nonce": n });
    }
    b.api("/.otpgate/api/send", body).await
}

/// The demand of a refused JSON send: (error, challenge, difficulty).
pub fn demand(r: &Resp) -> (String, String, u64) {
    assert_eq!(r.status, 403, "{}", r.body);
    let v: Value = r.json();
    let pow = &v["pow"];
    assert!(pow["expires_in"].as_u64().unwrap() > 0, "{v}");
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
    (
        v["error"].as_str().unwrap().to_string(),
        pow["challenge"].as_str().unwrap().to_string(),
        pow["difficulty"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_low_risk_send_is_asked_for_nothing() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .run()
        .await;
    let mut b = gw.browser(H1);
    let page = b.get("/.otpgate/login?rd=/checkout").await;
    assert!(page_pow(&page).is_none() && !page.body.contains("pow_nonce"));
    let sent = send_form(&mut b, PHONE, None).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location(), "/.otpgate/verify");
    assert_eq!(gw.sms().len(), 1);
}

#[tokio::test]
async fn the_phone_form_asks_for_the_work_then_sends_once() {
    let shop = upstream().await;
    let gw = always(&shop).run().await;
    let mut b = gw.browser(H1);
    let page = send_form(&mut b, PHONE, None).await;
    assert!(page.after_303, "{}", page.body);
    assert_eq!(page.status, 403);
    assert!(gw.sms().is_empty(), "no SMS before the work");
    let (c, bits) = page_pow(&page).expect("the page carries a challenge");
    assert_eq!(bits, 8);
    // What a shopper without JavaScript reads, and what the script says.
    assert!(page.body.contains("<noscript>"), "{}", page.body);
    assert!(page.body.contains("uses JavaScript"), "{}", page.body);
    assert!(page.body.contains("Checking your browser"));
    assert!(
        page.body.contains(&format!("value=\"{PHONE}\"")),
        "the number is kept"
    );
    // A no-JS post (empty nonce) gets the same page again, no SMS.
    let again = send_form(&mut b, PHONE, Some((&c, ""))).await;
    assert_eq!((again.status, gw.sms().len()), (403, 0));
    let nonce = solve(&c, bits);
    let mut replay = gw.browser(H1);
    replay.cookies = b.cookies.clone();
    let sent = send_form(&mut b, PHONE, Some((&c, &nonce))).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location(), "/.otpgate/verify");
    assert_eq!(gw.sms().len(), 1);
    // The same request again, from the same browser before it had the
    // pending cookie: the solution is spent.
    let used = send_form(&mut replay, PHONE, Some((&c, &nonce))).await;
    assert_eq!(used.status, 403, "{}", used.body);
    assert!(used.body.contains("used already"), "{}", used.body);
    assert_ne!(page_pow(&used).unwrap().0, c, "a fresh challenge");
    assert_eq!(gw.sms().len(), 1, "a replay texts nothing");
}

#[tokio::test]
async fn a_challenge_is_bound_to_its_browser_and_number_and_cannot_be_eased() {
    let shop = upstream().await;
    let gw = always(&shop).run().await;
    let mut a = gw.browser(H1);
    let (_, c, bits) = demand(&api_send(&mut a, PHONE, None).await);
    let nonce = solve(&c, bits);
    let mut other_browser = gw.browser(H1);
    let r = api_send(&mut other_browser, PHONE, Some((&c, &nonce))).await;
    assert_eq!(demand(&r).0, "pow_wrong_browser");
    let r = api_send(&mut a, "+919812340000", Some((&c, &nonce))).await;
    assert_eq!(demand(&r).0, "pow_wrong_phone");
    // The same number written another way is the same number.
    let national = "98123 45678";
    // Lowered difficulty (or any other edit): the MAC no longer matches.
    let easier = c.replacen(&format!(".{bits}."), ".1.", 1);
    let r = api_send(&mut a, PHONE, Some((&easier, &solve(&easier, 1)))).await;
    assert_eq!(demand(&r).0, "pow_altered");
    let r = api_send(&mut a, PHONE, Some((&c, &wrong_nonce(&c, bits)))).await;
    assert_eq!(demand(&r).0, "pow_unsolved");
    let long = "9".repeat(300);
    for (challenge, nonce) in [
        ("", nonce.as_str()),
        ("garbage", nonce.as_str()),
        (&long, nonce.as_str()),
        (&c, "not a nonce!"),
        (&c, &long),
        (&format!("{c}.x"), nonce.as_str()),
        ("p1.%00.8.1.0.0.0", "1"),
    ] {
        let r = api_send(&mut a, PHONE, Some((challenge, nonce))).await;
        assert_eq!(demand(&r).0, "pow_malformed", "{challenge} {nonce}");
    }
    let r = a
        .api(
            "/.otpgate/api/send",
            json!({"phone": PHONE, "pow": {"challenge": 7, "nonce": [1]}}),
        )
        .await;
    assert_eq!(demand(&r).0, "pow_required", "no usable nonce at all");
    assert!(gw.sms().is_empty(), "no refusal cost an SMS");
    // None of that used the real solution up.
    let r = api_send(&mut a, national, Some((&c, &nonce))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.sms().len(), 1);
}

#[tokio::test]
async fn a_challenge_expires() {
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = always(&shop)
        .set("pow.ttl", "\"1m\"")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    let (_, c, bits) = demand(&api_send(&mut b, PHONE, None).await);
    let nonce = solve(&c, bits);
    clock.advance(Duration::from_secs(61));
    let (error, fresh, _) = demand(&api_send(&mut b, PHONE, Some((&c, &nonce))).await);
    assert_eq!(error, "pow_expired");
    let r = api_send(&mut b, PHONE, Some((&fresh, &solve(&fresh, bits)))).await;
    assert_eq!(r.status, 200, "the fresh one works: {}", r.body);
}

#[tokio::test]
async fn the_json_api_asks_solves_and_signs_in() {
    let shop = upstream().await;
    let gw = always(&shop).run().await;
    // An app that never loaded a page: the demand gives it the cookie
    // the challenge is bound to.
    let mut app = gw.browser(H1);
    let r = api_send(&mut app, PHONE, None).await;
    let (error, c, bits) = demand(&r);
    assert_eq!((error.as_str(), bits), ("pow_required", 8));
    assert!(!app.cookies.is_empty(), "{:?}", r.headers);
    let nonce = solve(&c, bits);
    let r = api_send(&mut app, PHONE, Some((&c, &nonce))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "sent");
    let code = app.code_for(PHONE);
    let v = app
        .api("/.otpgate/api/verify", json!({ "code": code }))
        .await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(app.get("/checkout").await.status, 200);
}

/// Risk points, each visible in the difficulty asked: the client IP's
/// velocity (per doubling), a country new for the IP, a prefix that does
/// not convert. Sends come from one address (127.0.0.1), each from a
/// fresh browser to a fresh number.
#[tokio::test]
async fn the_difficulty_rises_with_the_risk() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .set("pow.base_difficulty", "4")
        .set("pow.step", "2")
        .set("pow.ip_sends", "2")
        .set("pow.fingerprint_sends", "1000")
        .set("pow.min_prefix_sends", "1000")
        .set("limits.pumping.enabled", "false")
        .run()
        .await;
    let mut asked = Vec::new();
    for i in 0..5 {
        let mut b = gw.browser(H1);
        let phone = format!("+9198123{:05}", i * 1111);
        let r = api_send(&mut b, &phone, None).await;
        if r.status == 200 {
            asked.push(0);
            continue;
        }
        let (_, c, bits) = demand(&r);
        asked.push(bits);
        // Paying it sends (it owes what was asked before this attempt).
        let r = api_send(&mut b, &phone, Some((&c, &solve(&c, bits)))).await;
        assert_eq!(r.status, 200, "{i}: {}", r.body);
    }
    // Attempts counted: 1, 2 free; 3 (over 2): 4 bits, then each paid
    // retry counts too: the 4th send is attempt 5 (over 4: 2 points).
    assert_eq!(asked[..2], [0, 0], "{asked:?}");
    assert!(
        asked[2] == 4 && asked[3] >= 6 && asked[4] >= asked[3],
        "{asked:?}"
    );
    // A new country for this IP adds a point to what it would be.
    let mut b = gw.browser(H1);
    let (_, _, in_bits) = demand(&api_send(&mut b, "+919800000001", None).await);
    let (_, _, gb_bits) = demand(&api_send(&mut b, "+447400123456", None).await);
    assert!(gb_bits > in_bits, "GB {gb_bits} after IN {in_bits}");
}

#[tokio::test]
async fn a_prefix_that_does_not_convert_asks_for_work() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .set("pow.base_difficulty", "4")
        .set("pow.min_prefix_sends", "3")
        .set("limits.pumping.enabled", "true")
        .set("limits.pumping.min_sends", "100")
        .run()
        .await;
    // Three unverified codes into +91981234xxxx, each a fresh shopper.
    for last in ["1001", "1002", "1003"] {
        let mut b = gw.browser(H1);
        let r = api_send(&mut b, &format!("+91981234{last}"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut b = gw.browser(H1);
    let (error, _, bits) = demand(&api_send(&mut b, "+919812341004", None).await);
    assert_eq!((error.as_str(), bits), ("pow_required", 4));
    // Another prefix is still free.
    let r = api_send(&mut b, "+919899991004", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `mode = "shadow"`: a send that would need the work goes through, and
/// the decision is counted under rule `pow` (fraud.rs) like every other
/// fraud rule; enforced, the same send is a block. (The audit trail's
/// lines for both are checked in tests/shadow.rs, where every test holds
/// the trail: tracing's per-callsite cache is process-wide.)
#[tokio::test]
async fn in_shadow_the_work_is_only_counted() {
    let shop = upstream().await;
    let gw = always(&shop).set("pow.mode", "\"shadow\"").run().await;
    let mut b = gw.browser(H1);
    let r = api_send(&mut b, PHONE, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.sms().len(), 1);
    let m = gw.metrics().await;
    let series =
        r#"otpgate_fraud_decisions_total{rule="pow",mode="shadow",decision="would_block"} 1"#;
    assert!(m.contains(series), "{m}");

    let gw = always(&shop).run().await;
    let mut b = gw.browser(H1);
    demand(&api_send(&mut b, PHONE, None).await);
    let m = gw.metrics().await;
    let series = r#"otpgate_fraud_decisions_total{rule="pow",mode="enforce",decision="block"} 1"#;
    assert!(m.contains(series), "{m}");
}

/// A challenge solved at the difficulty asked earlier does not pay for a
/// send once the risk has risen past it: a client cannot stock up on
/// cheap challenges while it looks calm and spend them while it hammers.
#[tokio::test]
async fn work_asked_before_the_risk_rose_is_too_easy_now() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("pow.enabled", "true")
        .set("pow.base_difficulty", "4")
        .set("pow.ip_sends", "1")
        .set("pow.fingerprint_sends", "1000")
        .run()
        .await;
    let mut first = gw.browser(H1);
    assert_eq!(
        api_send(&mut first, "+919812300001", None).await.status,
        200
    );
    let mut early = gw.browser(H1);
    let (_, c, bits) = demand(&api_send(&mut early, "+919812300002", None).await);
    let nonce = solve(&c, bits);
    let mut busy = gw.browser(H1);
    for _ in 0..2 {
        demand(&api_send(&mut busy, "+919812300003", None).await);
    }
    let (error, _, now_bits) =
        demand(&api_send(&mut early, "+919812300002", Some((&c, &nonce))).await);
    assert_eq!(error, "pow_too_easy");
    assert!(now_bits > bits, "{now_bits} > {bits}");
}
