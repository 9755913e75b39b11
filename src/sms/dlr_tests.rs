use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    msg91_form_data, msg91_reports, token_matches, vonage_report, vonage_signature_valid,
    VonageMethod,
};

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn tokens_compare_whole() {
    assert!(token_matches(
        "s3cret-token-0123456789",
        "s3cret-token-0123456789"
    ));
    assert!(!token_matches(
        "s3cret-token-0123456789",
        "s3cret-token-012345678"
    ));
    assert!(!token_matches("s3cret-token-0123456789", ""));
}

#[test]
fn msg91_v2_and_v3_bodies_read_alike() {
    // The v2 sample from MSG91's webhook help page, numbers as written.
    let v2 = r#"[{"senderId":"uXXXXm","requestId":"346XXXXXXXXXXXX130","report":[{"date":"2024-05-22 10:06:20","number":"9195XXXX6558","status":"1","desc":"DELIVERED","failedReason":""}],"userId":"27XXXX","campaignName":"Sendhttp"}]"#;
    let r = msg91_reports(&msg91_form_data(v2).unwrap()).unwrap();
    assert_eq!(r[0].message_id, "346XXXXXXXXXXXX130");
    assert_eq!(r[0].status, "delivered");
    let v3 = serde_json::json!({"date": "2024-05-22 09:58:16", "number": "919812345678",
        "requestId": "346A", "status": "2", "desc": "FAILED", "failedReason": "Absent subscriber"});
    assert_eq!(msg91_reports(&v3).unwrap()[0].status, "failed");
    let pending = serde_json::json!({"requestId": "346A", "status": "8", "desc": "SUBMITTED"});
    assert!(msg91_reports(&pending).unwrap().is_empty());
    assert!(msg91_reports(&serde_json::json!({"desc": "FAILED"})).is_none());
    assert!(msg91_reports(&serde_json::json!("FAILED")).is_none());
}

fn vonage_sign(params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let data: String = sorted
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sig-secret").unwrap();
    mac.update(data.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

#[test]
fn vonage_signatures_and_timestamps() {
    let base = [
        ("messageId", "0A0000001234"),
        ("msisdn", "919812345678"),
        ("status", "failed"),
        ("err-code", "1"),
        ("timestamp", "1700000000"),
        ("nonce", "a&b=c"),
    ];
    let sig = vonage_sign(&base);
    let mut signed = pairs(&base);
    signed.push(("sig".into(), sig.clone()));
    let m = VonageMethod::Sha256;
    assert!(vonage_signature_valid(
        "sig-secret",
        m,
        &signed,
        1_700_000_100
    ));
    assert!(!vonage_signature_valid("other", m, &signed, 1_700_000_100));
    assert!(!vonage_signature_valid(
        "sig-secret",
        VonageMethod::Sha512,
        &signed,
        1_700_000_100
    ));
    assert!(
        !vonage_signature_valid("sig-secret", m, &signed, 1_700_000_301),
        "stale"
    );
    assert!(
        !vonage_signature_valid("sig-secret", m, &signed, 1_699_999_699),
        "future"
    );
    let mut twice = signed.clone();
    twice.push(("status".into(), "delivered".into()));
    assert!(!vonage_signature_valid(
        "sig-secret",
        m,
        &twice,
        1_700_000_100
    ));
    let unsigned = pairs(&base);
    assert!(!vonage_signature_valid(
        "sig-secret",
        m,
        &unsigned,
        1_700_000_100
    ));
    let r = vonage_report(&signed).unwrap();
    assert_eq!((r.status, r.to.as_str()), ("failed", "+919812345678"));
}

#[test]
fn weak_report_secrets_are_refused_with_their_key() {
    use crate::sms::msg91::{Msg91Config, RawMsg91};
    use crate::sms::vonage::{RawVonage, VonageConfig};
    use crate::validation::Problems;

    let msg91 = |token: &str| {
        let raw: RawMsg91 = serde_json::from_value(serde_json::json!({
            "authkey": "k91", "template_id": "6650a1b2", "dlr_token": token}))
        .unwrap();
        let mut p = Problems::default();
        let cfg = Msg91Config::validate(&raw, &mut p);
        (
            cfg.is_some(),
            p.0.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        msg91("short"),
        (false, vec!["sms.msg91.dlr_token".to_string()])
    );
    assert!(msg91("4f1c9a7e2b6d8e0f3a5c7b9d1e2f4a6c").0);

    let vonage = |method: &str| {
        let raw: RawVonage = serde_json::from_value(serde_json::json!({
            "api_key": "k", "api_secret": "s", "from": "OTPGAT",
            "signature_secret": "sig-secret", "signature_method": method}))
        .unwrap();
        let mut p = Problems::default();
        let cfg = VonageConfig::validate(&raw, &mut p);
        (
            cfg.and_then(|c| c.signature).map(|s| s.1),
            p.0.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(vonage("sha512").0, Some(VonageMethod::Sha512));
    assert_eq!(
        vonage("md5hash"),
        (None, vec!["sms.vonage.signature_method".to_string()])
    );
}
