//! Every admin API call is an audit event. Alone in its own test binary:
//! it reads the audit trail through a subscriber scoped to its thread,
//! and `tracing` caches per call site whether anyone listens — with other
//! tests' threads hitting the same call sites at the same moment, that
//! cache could say "nobody" and the lines went missing under load.

mod support;

#[path = "admin_api/api.rs"]
mod api;

use api::{with_token, Api};
use serde_json::{json, Value};
use support::{upstream, PHONE};

/// Every call is an audit event: who, from where, what, on what (a phone
/// masked), and the answer; refused calls included.
#[tokio::test]
async fn every_call_is_an_audit_event() {
    use tracing_subscriber::layer::SubscriberExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = otpgate::audit::AuditSink::file(&path).unwrap();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(otpgate::audit::AuditLayer::new(sink)),
    );
    let shop = upstream().await;
    let gw = with_token(&shop).run().await;
    let api = Api::of(&gw);
    api.admin(
        "POST",
        "/api/sessions/revoke",
        Some(json!({"phone": PHONE})),
    )
    .await;
    api.admin(
        "POST",
        "/api/blocks",
        Some(json!({"prefix": "+9198123", "for": "1h"})),
    )
    .await;
    api.admin("GET", "/api/blocks", None).await;
    api.admin("DELETE", "/api/blocks/%2B9198123", None).await;
    api.call("GET", "/api/blocks", Some("wrong"), None).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "admin_api")
        .collect();
    let seen: Vec<(String, String, u64)> = events
        .iter()
        .map(|v| {
            assert_eq!(v["peer"], "127.0.0.1", "{v}");
            (
                v["who"].as_str().unwrap().to_string(),
                v["action"].as_str().unwrap().to_string(),
                v["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect = [
        ("admin", "sessions_revoke", 200),
        ("admin", "block_add", 201),
        ("admin", "blocks_list", 200),
        ("admin", "block_remove", 200),
        ("unauthenticated", "blocks_list", 401),
    ];
    let expect: Vec<(String, String, u64)> = expect
        .iter()
        .map(|(w, a, s)| (w.to_string(), a.to_string(), *s))
        .collect();
    assert_eq!(seen, expect, "{text}");
    assert_eq!(events[1]["subject"], "+9198123");
    assert!(!text.contains(PHONE), "the phone is masked: {text}");
}
