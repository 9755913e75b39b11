//! Shadow mode end to end (fraud.rs): a limit in `"shadow"` lets a send it
//! would refuse go out, and says so in `otpgate_fraud_decisions_total`
//! and the audit trail (`would_block`); the same limit enforced refuses it
//! with 429. The rule here is `send_per_fingerprint`: one client software
//! (reqwest's rustls, the same JA4 on every connection) sending to
//! different numbers from one address.

mod support;

use serde_json::{json, Value};
use support::trail::trail;
use support::{gateway, upstream, Gw, H2};

const OPEN: &[&str] = &[
    "send_per_ip",
    "send_per_phone",
    "send_per_prefix",
    "send_per_country",
    "sms_per_hour",
    "sms_per_day",
];

async fn gw_with(mode: &str) -> Gw {
    let shop = upstream().await;
    let mut b = gateway(&shop);
    for name in OPEN {
        b = b.set(&format!("limits.{name}"), "{ max = 1000, window = \"1h\" }");
    }
    b.set(
        "limits.send_per_fingerprint",
        &format!("{{ max = 2, window = \"1h\", mode = \"{mode}\" }}"),
    )
    .run()
    .await
}

/// Three sends to three numbers; the statuses.
async fn three_sends(gw: &Gw) -> Vec<u16> {
    let client = gw.client(H2);
    let mut out = Vec::new();
    for i in 0..3 {
        let resp = client
            .post(gw.url("/.otpgate/api/send"))
            .json(&json!({ "phone": format!("+9198100{i:05}"), "rd": "/" }))
            .send()
            .await
            .unwrap();
        out.push(resp.status().as_u16());
    }
    out
}

fn series(text: &str, mode: &str, decision: &str) -> Option<u64> {
    let name = format!(
        "otpgate_fraud_decisions_total{{rule=\"send_per_fingerprint\",mode=\"{mode}\",decision=\"{decision}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&name)?.trim().parse().ok())
}

#[tokio::test]
async fn a_shadow_limit_lets_the_send_through_and_says_it_would_block() {
    let trail = trail();
    let gw = gw_with("shadow").await;
    assert_eq!(three_sends(&gw).await, [200, 200, 200]);
    assert_eq!(gw.sms().len(), 3, "the third SMS went out");
    let m = gw.metrics().await;
    assert_eq!(series(&m, "shadow", "would_block"), Some(1), "{m}");
    assert_eq!(series(&m, "shadow", "allow"), Some(2), "{m}");
    assert_eq!(series(&m, "enforce", "block"), None, "{m}");
    let would: Vec<Value> = trail.events("would_block");
    assert_eq!(would.len(), 1, "{}", trail.text());
    let w = &would[0];
    assert_eq!(w["limit"], "send_per_fingerprint");
    let ja4 = w["ja4"].as_str().expect("the client's JA4");
    assert_eq!(w["key"], ja4, "keyed on the fingerprint");
    assert_eq!(w["prefix"], "+91981000");
    // Every send's trail line names its fingerprint, and none names a
    // number together with its last four digits.
    let sent = trail.events("code_sent");
    assert_eq!(sent.len(), 3);
    for line in &sent {
        assert_eq!(line["ja4"], ja4, "{line}");
        assert!(line["phone_key"].is_string() && line.get("phone").is_none());
    }
}

#[tokio::test]
async fn the_same_limit_enforced_refuses_the_send() {
    let trail = trail();
    let gw = gw_with("enforce").await;
    assert_eq!(three_sends(&gw).await, [200, 200, 429]);
    assert_eq!(gw.sms().len(), 2);
    let m = gw.metrics().await;
    assert_eq!(series(&m, "enforce", "block"), Some(1), "{m}");
    assert_eq!(series(&m, "shadow", "would_block"), None, "{m}");
    let limited = trail.events("rate_limited");
    assert_eq!(limited.len(), 1, "{}", trail.text());
    assert_eq!(limited[0]["limit"], "send_per_fingerprint");
    assert!(trail.events("would_block").is_empty());
}
