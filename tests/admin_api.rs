//! The admin API on the admin listener: only with the bearer token (404
//! without one configured, 401 for a wrong or missing one); revoking a
//! phone ends its sessions on every instance (memory store, and two
//! instances sharing a real `redis-server`); blocks added, listed and
//! lifted take effect on sends; bad input is a 400 naming the field.

mod support;

#[path = "admin_api/api.rs"]
mod api;
#[path = "admin_api/redis.rs"]
mod redis;

pub use api::{with_token, Api, TOKEN};

use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::json;
use support::{gateway, upstream, Gw, H1, PHONE};

#[tokio::test]
async fn without_a_token_configured_the_api_does_not_exist() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let api = Api::of(&gw);
    for (method, path) in [
        ("GET", "/api/blocks"),
        ("POST", "/api/blocks"),
        ("POST", "/api/sessions/revoke"),
        ("DELETE", "/api/blocks/%2B91981"),
    ] {
        assert_eq!(api.call(method, path, None, None).await.0, 404, "{path}");
        assert_eq!(
            api.call(method, path, Some(TOKEN), None).await.0,
            404,
            "{path}"
        );
        assert_eq!(
            api.call(method, path, Some(""), None).await.0,
            404,
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_the_right_bearer_token_is_let_in() {
    let shop = upstream().await;
    let gw = with_token(&shop).run().await;
    let api = Api::of(&gw);
    let wrong = [
        None,
        Some(""),
        Some("wrong"),
        Some(&TOKEN[..TOKEN.len() - 1]),
        Some(&*format!("{TOKEN}x")),
        Some(&*TOKEN.to_uppercase()),
    ];
    for token in wrong {
        let (status, _) = api.call("GET", "/api/blocks", token, None).await;
        assert_eq!(status, 401, "{token:?}");
        let body = Some(r#"{"phone":"+919812345678"}"#);
        let (status, _) = api.call("POST", "/api/sessions/revoke", token, body).await;
        assert_eq!(status, 401, "{token:?}");
    }
    // Basic with the token as password is not a bearer token.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/blocks", api.base))
        .basic_auth("admin", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(api.admin("GET", "/api/blocks", None).await.0, 200);
    // The rest of the admin port is unchanged.
    assert!(gw.metrics().await.contains("otpgate_config_reloads_total"));
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let shop = upstream().await;
    let gw = with_token(&shop).run().await;
    let api = Api::of(&gw);
    let cases: [(&str, &str, &str, &str); 10] = [
        ("POST", "/api/sessions/revoke", "{}", "phone"),
        (
            "POST",
            "/api/sessions/revoke",
            r#"{"phone":919812345678}"#,
            "phone",
        ),
        (
            "POST",
            "/api/sessions/revoke",
            r#"{"phone":"9812345678"}"#,
            "phone",
        ),
        ("POST", "/api/sessions/revoke", "not json", "(body)"),
        ("POST", "/api/blocks", r#"{"for":"1h"}"#, "prefix"),
        (
            "POST",
            "/api/blocks",
            r#"{"prefix":"91981","for":"1h"}"#,
            "prefix",
        ),
        ("POST", "/api/blocks", r#"{"prefix":"+91981"}"#, "for"),
        (
            "POST",
            "/api/blocks",
            r#"{"prefix":"+91981","for":"soon"}"#,
            "for",
        ),
        (
            "POST",
            "/api/blocks",
            r#"{"prefix":"+91981","for":"400d"}"#,
            "for",
        ),
        ("POST", "/api/blocks", "[1]", "(body)"),
    ];
    for (method, path, body, field) in cases {
        let (status, v) = api.call(method, path, Some(TOKEN), Some(body)).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let (status, v) = api.admin("DELETE", "/api/blocks/91981", None).await;
    assert_eq!((status, v["field"].as_str()), (400, Some("prefix")), "{v}");
    let big = format!(r#"{{"phone":"{}"}}"#, "1".repeat(8000));
    let (status, _) = api
        .call("POST", "/api/sessions/revoke", Some(TOKEN), Some(&big))
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn blocks_added_listed_and_lifted_take_effect_on_sends() {
    let shop = upstream().await;
    let gw = with_token(&shop).run().await;
    let api = Api::of(&gw);
    let sends = |gw: &Gw| {
        let mut b = gw.browser(H1);
        async move { b.start(PHONE, "/checkout").await.status }
    };
    // A prefix shorter than the detector's (the number minus 4 digits).
    let (status, v) = api
        .admin(
            "POST",
            "/api/blocks",
            Some(json!({"prefix": "+9198123", "for": "24h"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (_, list) = api.admin("GET", "/api/blocks", None).await;
    let blocks = list["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1, "{list}");
    assert_eq!(blocks[0]["prefix"], "+9198123");
    assert_eq!(blocks[0]["source"], "admin");
    assert!(
        blocks[0]["until"].as_str().unwrap().ends_with('Z'),
        "{list}"
    );
    assert_eq!(sends(&gw).await, 429, "blocked: no SMS");
    assert!(gw.sms().is_empty());
    // Another number outside the prefix still gets its code.
    let mut other = gw.browser(H1);
    assert_eq!(other.start("+919912345678", "/checkout").await.status, 303);

    let (status, v) = api.admin("DELETE", "/api/blocks/%2B9198123", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        api.admin("GET", "/api/blocks", None).await.1["blocks"],
        json!([])
    );
    assert_eq!(sends(&gw).await, 303, "lifted: the code goes out");
    let (status, _) = api.admin("DELETE", "/api/blocks/%2B9198123", None).await;
    assert_eq!(status, 404, "nothing left to lift");
    // A literal `+` in the path is the same prefix.
    api.admin(
        "POST",
        "/api/blocks",
        Some(json!({"prefix": "+91", "for": "1h"})),
    )
    .await;
    assert_eq!(api.admin("DELETE", "/api/blocks/+91", None).await.0, 200);
}

/// An admin block holds whatever `[limits.pumping]` says: with the
/// detector off (and with it its own block check), a send into the
/// blocked prefix is still refused before any SMS.
#[tokio::test]
async fn an_admin_block_holds_with_the_detector_off() {
    let shop = upstream().await;
    let gw = with_token(&shop)
        .set("limits.pumping", "{ enabled = false }")
        .run()
        .await;
    let api = Api::of(&gw);
    let block = json!({"prefix": "+9198123", "for": "1h"});
    let (status, v) = api.admin("POST", "/api/blocks", Some(block)).await;
    assert_eq!(status, 201, "{v}");
    let mut b = gw.browser(H1);
    assert_eq!(b.start(PHONE, "/checkout").await.status, 429, "blocked");
    assert!(gw.sms().is_empty(), "no SMS");
    let mut other = gw.browser(H1);
    assert_eq!(other.start("+919912345678", "/checkout").await.status, 303);
}

/// Signs in on `gw` and returns the browser holding the session cookie.
pub async fn signed_in(gw: &Gw) -> support::Browser {
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
    b
}

#[tokio::test]
async fn revoking_a_phone_ends_its_sessions_and_only_those() {
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = with_token(&shop).clock(clock.clone()).run().await;
    let api = Api::of(&gw);
    let (mut first, mut second) = (signed_in(&gw).await, signed_in(&gw).await);
    let mut other = gw.browser(H1);
    other.log_in("+919912345678", "/checkout").await;
    clock.advance(Duration::from_secs(2));

    let (status, v) = api
        .admin(
            "POST",
            "/api/sessions/revoke",
            Some(json!({"phone": "+91 98123-45678"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["phone"], PHONE);
    assert_ne!(first.get("/checkout").await.status, 200, "ended");
    assert_ne!(
        second.get("/checkout").await.status,
        200,
        "every session of it"
    );
    assert_eq!(
        other.get("/checkout").await.status,
        200,
        "another phone's stays"
    );
    // A sign-in after the revoke holds.
    clock.advance(Duration::from_secs(2));
    let mut again = signed_in(&gw).await;
    assert_eq!(again.get("/checkout").await.status, 200);
}

/// `[admin] token` is read like every secret: inline, `${ENV}` or
/// `token_file`; too short, both, or an unset variable are named problems.
#[tokio::test]
async fn the_token_is_a_secret_read_like_the_others() {
    let shop = upstream().await;
    let problems = |b: support::GatewayBuilder| {
        let text = b.config_text();
        otpgate::config::Config::parse(&text, "test")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let short = problems(gateway(&shop).set("admin.token", "\"short\""));
    assert!(
        short.contains("admin.token: must be at least 32 bytes"),
        "{short}"
    );
    let unset = problems(gateway(&shop).set("admin.token", "\"${OTPGATE_TEST_UNSET_TOKEN}\""));
    assert!(
        unset.contains("OTPGATE_TEST_UNSET_TOKEN is not set"),
        "{unset}"
    );
    assert!(!unset.contains("${"), "{unset}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin_token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let path = format!("{:?}", file.display().to_string());
    let both = problems(with_token(&shop).set("admin.token_file", &path));
    assert!(both.contains("not both"), "{both}");
    // From a file (a systemd credential): the API takes that token.
    let gw = gateway(&shop).set("admin.token_file", &path).run().await;
    assert_eq!(Api::of(&gw).admin("GET", "/api/blocks", None).await.0, 200);
}
