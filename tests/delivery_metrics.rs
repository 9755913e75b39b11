//! Delivery, measured, over real sockets: shoppers sign in through the
//! gateway in front of a real storefront, SMS goes through a local server
//! speaking Twilio's Messages API, receipts are posted signed as Twilio
//! posts them, and `/metrics` on the admin port shows each series with
//! the send's provider, channel, country and operator prefix — never the
//! number, and never labels a receipt made up.

#[allow(dead_code)]
#[path = "sms_providers/fake.rs"]
mod fake;
mod support;

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use otpgate::clock::ManualClock;
use serde_json::json;

use fake::{answer, provider};
use support::{gateway, upstream, Gw, Shop, H1, PHONE};

const CALLBACK: &str = "https://shop.example/.otpgate/sms/twilio/status";
const TOKEN: &str = "twilio-auth-token-for-tests";
/// Another Indian operator series: `97xx` rather than `98xx`.
const LATE_PHONE: &str = "+919712345678";
const THIRD_PHONE: &str = "+919612345678";

fn sign(params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = CALLBACK.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts Twilio's status callback for `sid`; the status code.
async fn receipt(gw: &Gw, sid: &str, status: &str, to: &str, signed: bool) -> u16 {
    let params = [("MessageSid", sid), ("MessageStatus", status), ("To", to)];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sig = if signed {
        sign(&params)
    } else {
        "bm90IGEgc2lnbmF0dXJl".into()
    };
    gw.client(H1)
        .post(gw.url("/.otpgate/sms/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A gateway sending SMS through the local Twilio at `base`, on the
/// memory store or on the Redis at `redis`.
async fn gw(shop: &Shop, clock: &ManualClock, base: &str, redis: Option<&str>) -> Gw {
    let mut b = gateway(shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .set("sms.provider", "\"twilio\"")
        .set("sms.twilio", &format!("{{ account_sid = \"AC{}\", auth_token = \"{TOKEN}\", from = \"+15005550006\", status_callback = \"{CALLBACK}\", api_base = \"{base}\" }}", "0".repeat(32)));
    if let Some(url) = redis {
        b = b
            .set("store.backend", "\"redis\"")
            .set("store.redis_url", &format!("{url:?}"));
    }
    b.run().await
}

/// The value of the one line `series` (name and labels, exactly).
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

fn labels(prefix: &str) -> String {
    format!("provider=\"twilio\",channel=\"sms\",country=\"IN\",prefix=\"{prefix}\"")
}

#[tokio::test]
async fn sends_receipts_codes_and_expiries_are_measured_per_operator_prefix() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let created = |sid: &str| answer(201, json!({"sid": sid, "status": "queued"}));
    let sms = provider(vec![created("SMm1"), created("SMm2"), created("SMm3")]).await;
    let gw = gw(&shop, &clock, &sms.base, None).await;

    // A shopper whose code arrives after 4 s and is entered 3 s later.
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
    let last = sms.requests().pop().unwrap();
    let code = support::code_in(&last.field("Body").unwrap());
    clock.advance(Duration::from_secs(4));
    // Forged, and signed but about a message otpgate never sent: neither
    // times anything nor makes a label.
    assert_eq!(receipt(&gw, "SMm1", "delivered", PHONE, false).await, 403);
    assert_eq!(
        receipt(&gw, "SMforeign", "delivered", "+919999999999", true).await,
        204
    );
    assert_eq!(receipt(&gw, "SMm1", "delivered", PHONE, true).await, 204);
    // A repeated receipt is one delivery.
    assert_eq!(receipt(&gw, "SMm1", "delivered", PHONE, true).await, 204);
    clock.advance(Duration::from_secs(3));
    assert_eq!(b.enter_code(&code).await.status, 303);

    // A second shopper on another series: undelivered, never entered.
    let mut late = gw.browser(H1);
    assert_eq!(late.start(LATE_PHONE, "/checkout").await.status, 303);
    assert_eq!(
        receipt(&gw, "SMm2", "undelivered", LATE_PHONE, true).await,
        204
    );

    let m = gw.metrics().await;
    let on = labels("9812");
    assert_eq!(
        value(&m, &format!("otpgate_delivery_sent_total{{{on}}}")),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(&m, &format!("otpgate_delivery_verified_total{{{on}}}")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_delivery_receipt_seconds_count{{{on}}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, &format!("otpgate_delivery_receipt_seconds_sum{{{on}}}")),
        Some(4.0)
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_delivery_receipt_seconds_bucket{{le=\"3.0\",{on}}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_delivery_receipt_seconds_bucket{{le=\"5.0\",{on}}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, &format!("otpgate_delivery_verify_seconds_sum{{{on}}}")),
        Some(7.0)
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_deliveries_total{{{on},outcome=\"delivered\"}}")
        ),
        Some(1.0)
    );
    let slow = labels("9712");
    assert_eq!(
        value(&m, &format!("otpgate_delivery_sent_total{{{slow}}}")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_deliveries_total{{{slow},outcome=\"failed\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, &format!("otpgate_delivery_verified_total{{{slow}}}")),
        None
    );
    assert_eq!(
        value(&m, "otpgate_delivery_p95_seconds{provider=\"twilio\"}"),
        Some(5.0)
    );
    assert!(!m.contains("prefix=\"9999\""), "a receipt made up a label");
    assert!(
        !m.contains("outcome=\"expired\""),
        "nothing has expired yet"
    );
    for number in [PHONE, LATE_PHONE] {
        assert!(!m.contains(&number[3..]), "a phone number in /metrics");
    }

    // Past `otp.ttl` (5 min): the unentered challenge is counted expired
    // (when the next send runs the sweep, or the background tick does),
    // the verified one is not.
    clock.advance(Duration::from_secs(301));
    let mut third = gw.browser(H1);
    assert_eq!(third.start(THIRD_PHONE, "/checkout").await.status, 303);
    let m = gw.metrics().await;
    assert_eq!(
        value(
            &m,
            &format!("otpgate_deliveries_total{{{slow},outcome=\"expired\"}}")
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_deliveries_total{{{on},outcome=\"expired\"}}")
        ),
        None
    );
    assert_eq!(
        value(
            &m,
            &format!("otpgate_delivery_sent_total{{{}}}", labels("9612"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "otpgate_provider_skipped{provider=\"twilio\"}"),
        None,
        "skip_slow is off"
    );
}

/// Two instances on one Redis: codes go out from A, receipts and codes
/// come in on B. B times both against A's send (the record is in the
/// store), and only A, the sender, counts the unentered one expired —
/// once, and not one verified on B after a failed receipt.
#[tokio::test]
async fn across_instances_on_redis_receipts_and_codes_are_timed_and_expiry_counted_once() {
    let Some(redis) = support::redis::redis() else {
        return;
    };
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let created = |sid: &str| answer(201, json!({"sid": sid, "status": "queued"}));
    let sids = ["SMr1", "SMr2", "SMr3", "SMr4"];
    let sms = provider(sids.iter().map(|s| created(s)).collect()).await;
    let a = gw(&shop, &clock, &sms.base, Some(&redis.url)).await;
    let b = gw(&shop, &clock, &sms.base, Some(&redis.url)).await;
    let code_of_last = || {
        let last = sms.requests().pop().unwrap();
        support::code_in(&last.field("Body").unwrap())
    };

    // Sent from A, delivered receipt and code on B.
    let mut on_a = a.browser(H1);
    assert_eq!(on_a.start(PHONE, "/checkout").await.status, 303);
    let code = code_of_last();
    clock.advance(Duration::from_secs(6));
    assert_eq!(receipt(&b, "SMr1", "delivered", PHONE, true).await, 204);
    clock.advance(Duration::from_secs(2));
    let mut on_b = b.browser(H1);
    on_b.cookies = on_a.cookies.clone();
    assert_eq!(on_b.enter_code(&code).await.status, 303);

    // Sent from A, "undelivered" on B, yet the code is entered on B.
    let mut late_a = a.browser(H1);
    assert_eq!(late_a.start(LATE_PHONE, "/checkout").await.status, 303);
    let code = code_of_last();
    assert_eq!(
        receipt(&b, "SMr2", "undelivered", LATE_PHONE, true).await,
        204
    );
    let mut late_b = b.browser(H1);
    late_b.cookies = late_a.cookies.clone();
    assert_eq!(late_b.enter_code(&code).await.status, 303);

    // Sent from A, never entered, no receipt.
    let mut lost = a.browser(H1);
    assert_eq!(lost.start(THIRD_PHONE, "/checkout").await.status, 303);
    clock.advance(Duration::from_secs(301));
    let mut next = a.browser(H1);
    assert_eq!(next.start("+919512345678", "/checkout").await.status, 303);

    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let on = labels("9812");
    let late = labels("9712");
    let lost = labels("9612");
    assert_eq!(
        value(
            &mb,
            &format!("otpgate_delivery_receipt_seconds_sum{{{on}}}")
        ),
        Some(6.0),
        "{mb}"
    );
    assert_eq!(
        value(&mb, &format!("otpgate_delivery_verify_seconds_sum{{{on}}}")),
        Some(8.0)
    );
    assert_eq!(
        value(
            &mb,
            &format!("otpgate_deliveries_total{{{on},outcome=\"delivered\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &mb,
            &format!("otpgate_deliveries_total{{{late},outcome=\"failed\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&mb, &format!("otpgate_delivery_verified_total{{{late}}}")),
        Some(1.0)
    );
    assert_eq!(
        value(&ma, &format!("otpgate_delivery_sent_total{{{on}}}")),
        Some(1.0),
        "{ma}"
    );
    assert_eq!(
        value(
            &ma,
            &format!("otpgate_deliveries_total{{{lost},outcome=\"expired\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &ma,
            &format!("otpgate_deliveries_total{{{on},outcome=\"expired\"}}")
        ),
        None
    );
    assert_eq!(
        value(
            &ma,
            &format!("otpgate_deliveries_total{{{late},outcome=\"expired\"}}")
        ),
        None,
        "verified on B"
    );
    assert!(
        !mb.contains("outcome=\"expired\""),
        "only the sender counts expiry"
    );
}
