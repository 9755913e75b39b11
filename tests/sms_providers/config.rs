//! `[sms]` validation and the India DLT warnings.

use std::time::Duration;

use serde_json::{json, Value};

use otpgate::sms::{validate, warnings, ProviderConfig, RawSmsConfig};

use crate::fake::{config, twilio_table, vonage_table};

fn problems(sms: Value) -> Vec<(String, String)> {
    let raw: RawSmsConfig = serde_json::from_value(sms).expect("raw config parses");
    validate(&raw).expect_err("config should be rejected")
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let found = problems(json!({
        "provider": "twilo",
        "fallback": ["msg91", "vonage", "webhook"],
        "timeout": "soon",
        "msg91": {"template_id": "t", "sender": "TOO-LONG-HEADER"},
        "vonage": {"api_key": "k", "api_secret": "${OTPGATE_TEST_UNSET_VAR}", "from": "X",
                   "api_base": "ftp://example.com"},
        "webhook": {"url": "https://h.example", "body": "{\"t\":\"{text}\"}"},
    }));
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "sms.provider",
        "sms.timeout",
        "sms.msg91.authkey",
        "sms.msg91.sender",
        "sms.vonage.api_secret",
        "sms.vonage.api_base",
        "sms.webhook.body",
    ] {
        assert!(keys.contains(&key), "{key} missing from {found:?}");
    }
    let provider = &found.iter().find(|(k, _)| k == "sms.provider").unwrap().1;
    assert!(provider.contains("did you mean \"twilio\""), "{provider}");
}

#[test]
fn a_chain_provider_without_its_table_is_an_error() {
    let found = problems(json!({"provider": "console", "fallback": ["twilio", "console"]}));
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"sms.twilio"), "{found:?}");
    assert!(
        keys.contains(&"sms.fallback[1]"),
        "duplicate provider: {found:?}"
    );
}

#[test]
fn unknown_keys_are_rejected() {
    let raw = serde_json::from_value::<RawSmsConfig>(
        json!({"provider": "twilio", "twilio": {"acount_sid": "AC1"}}),
    );
    assert!(raw.is_err());
}

#[test]
fn secrets_never_appear_in_problems_or_debug() {
    let found = problems(json!({"provider": "twilio", "twilio": {
        "account_sid": "XX1", "auth_token": "super-secret-token", "from": "+1",
        "api_base": "not a url"}}));
    let text = format!("{found:?}");
    assert!(!text.contains("super-secret-token"), "{text}");
    let cfg = config(json!({"provider": "twilio", "twilio": twilio_table("http://x")}));
    assert!(!format!("{cfg:?}").contains("tok-secret"));
}

#[test]
fn secrets_can_come_from_files_and_durations_from_strings() {
    let path = std::env::temp_dir().join(format!("otpgate-sms-secret-{}", std::process::id()));
    std::fs::write(&path, "from-file\n").unwrap();
    let cfg = config(
        json!({"provider": "vonage", "timeout": "3s", "budget": "8s",
        "max_retries": 1, "vonage": {"api_key": "k", "api_secret_file": path, "from": "EXSHOP"}}),
    );
    std::fs::remove_file(&path).unwrap();
    assert_eq!(cfg.policy.timeouts.total, Duration::from_secs(3));
    assert_eq!(cfg.policy.budget, Duration::from_secs(8));
    assert_eq!(cfg.policy.max_retries, 1);
    match &cfg.chain[0] {
        ProviderConfig::Vonage(v) => {
            assert_eq!(v.api_secret.expose(), "from-file")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn india_dlt_gaps_and_a_missing_brand_are_warned() {
    let cfg = config(json!({"provider": "vonage", "fallback": ["msg91"],
        "vonage": {"api_key": "k", "api_secret": "s", "from": "EXSHOP"},
        "msg91": {"authkey": "a", "template_id": "t"}}));
    let india = vec!["IN".to_owned()];
    let found = warnings(&cfg, &india, "{code} is your code", "Example Shop").join("\n");
    for needle in [
        "sms.vonage.entity_id",
        "sms.vonage.content_id",
        "sms.msg91.sender",
        "otp.message",
    ] {
        assert!(found.contains(needle), "{needle} not in:\n{found}");
    }

    let complete = config(json!({"provider": "vonage", "vonage": vonage_table("http://x")}));
    let template = "{code} is your {brand} code.\n\n@{host} #{code}";
    assert!(warnings(&complete, &india, template, "Example Shop").is_empty());
    let us_only = vec!["US".to_owned()];
    let partial = config(json!({"provider": "vonage",
        "vonage": {"api_key": "k", "api_secret": "s", "from": "Shop"}}));
    assert!(warnings(
        &partial,
        &us_only,
        "{code} from Example Shop",
        "Example Shop"
    )
    .is_empty());
}
