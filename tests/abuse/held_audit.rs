//! The held request's audit events (SPEC "Checkout integrity", item 3):
//! `held`, `replayed`, `hold_expired` and `hold_refused` (too large, from
//! another site, an unreadable amount), each naming the route and never
//! the body; and `otpgate_held_requests_total{outcome}` counting them.

use std::time::Duration;

use otpgate::clock::ManualClock;

use crate::audit_log::capture;
use crate::support::{gateway, upstream, H1, PHONE};

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn every_held_request_leaves_its_trail() {
    let trail = capture();
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .route_with(
            "/checkout/pay",
            "otp",
            "confirm = \"transaction\"\nmethods = [\"POST\"]\namount_field = \"amount\"",
        )
        .set("hold.max_body", "64")
        .clock(clock.clone())
        .run()
        .await;
    let mut b = gw.browser(H1);
    let held = b
        .submit(
            "/checkout/place-order",
            FORM,
            b"secret_note=PLAINTEXT42".to_vec(),
        )
        .await;
    assert_eq!(held.status, 303);
    let done = b.log_in(PHONE, "/cart").await;
    assert_eq!(done.location(), "/orders/1");
    // Too large, cross-site, a malformed amount: refused.
    let mut fresh = gw.browser(H1);
    let big = fresh
        .submit("/checkout/place-order", FORM, vec![b'x'; 100])
        .await;
    assert_eq!(big.status, 413);
    let r = gw
        .client(H1)
        .post(gw.url("/checkout/place-order"))
        .header("content-type", FORM)
        .header("sec-fetch-site", "cross-site")
        .body("a=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let mut c = gw.browser(H1);
    let refused = c
        .submit("/checkout/pay", FORM, b"amount=1e3".to_vec())
        .await;
    assert_eq!(refused.status, 400);
    // Held, then the code asked for too late: expired.
    let mut e = gw.browser(H1);
    e.submit("/checkout/place-order", FORM, b"stale=1".to_vec())
        .await;
    clock.advance(Duration::from_secs(360));
    e.log_in(PHONE, "/cart").await;

    let held = trail.events("held");
    assert_eq!(held.len(), 2, "{}", trail.audit_text());
    assert_eq!(held[0]["route"], "/checkout/place-order");
    let replayed = trail.events("replayed");
    assert_eq!(replayed.len(), 1, "{}", trail.audit_text());
    assert!(
        replayed[0]["phone"].as_str().unwrap().contains('*'),
        "masked"
    );
    assert_eq!(
        trail.events("hold_expired").len(),
        1,
        "{}",
        trail.audit_text()
    );
    let reasons: Vec<String> = trail
        .events("hold_refused")
        .iter()
        .map(|v| v["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        reasons,
        ["too_large", "cross_site", "amount_malformed"],
        "{}",
        trail.audit_text()
    );
    assert!(!trail.audit_text().contains("PLAINTEXT42"), "never a body");
    let m = gw.metrics().await;
    for (outcome, n) in [("held", 2), ("replayed", 1), ("expired", 1), ("refused", 3)] {
        let line = format!("otpgate_held_requests_total{{outcome=\"{outcome}\"}} {n}");
        assert!(m.contains(&line), "{line}\n{m}");
    }
}
