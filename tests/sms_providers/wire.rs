//! The request bytes each provider receives.

use serde_json::json;

use crate::fake::{
    answer, delivery, india, msg91_table, provider, twilio_created, twilio_table, vonage_ok,
    vonage_table, HINDI,
};

#[tokio::test]
async fn twilio_gets_basic_auth_and_a_form_with_plus_encoded() {
    let fake = provider(vec![twilio_created()]).await;
    let d = delivery(json!({"provider": "twilio", "twilio": twilio_table(&fake.base)}));
    let receipt = d
        .send(&india("123456 is your Example Shop code."))
        .await
        .unwrap();
    assert_eq!(receipt.provider, "twilio");
    assert_eq!(receipt.message_id.as_deref(), Some("SM0123456789abcdef"));

    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/2010-04-01/Accounts/ACtest/Messages.json");
    assert_eq!(req.basic_auth(), "ACtest:tok-secret");
    assert_eq!(
        req.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let raw = String::from_utf8(req.body.clone()).unwrap();
    assert!(raw.contains("To=%2B919812345678"), "{raw}");
    assert!(raw.contains("From=%2B15005550006"), "{raw}");
    assert_eq!(
        req.form(),
        vec![
            ("To".to_owned(), "+919812345678".to_owned()),
            ("From".to_owned(), "+15005550006".to_owned()),
            (
                "Body".to_owned(),
                "123456 is your Example Shop code.".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn twilio_messaging_service_and_status_callback() {
    let fake = provider(vec![twilio_created()]).await;
    let d = delivery(json!({"provider": "twilio", "twilio": {
        "account_sid": "ACtest", "auth_token": "tok", "messaging_service_sid": "MG123",
        "status_callback": "https://shop.example.com/.otpgate/sms/twilio/status",
        "api_base": fake.base}}));
    d.send(&india(HINDI)).await.unwrap();
    let req = fake.only_request();
    assert_eq!(req.field("MessagingServiceSid").as_deref(), Some("MG123"));
    assert_eq!(req.field("From"), None);
    assert_eq!(req.field("Body").as_deref(), Some(HINDI));
    assert_eq!(
        req.field("StatusCallback").as_deref(),
        Some("https://shop.example.com/.otpgate/sms/twilio/status")
    );
}

#[tokio::test]
async fn msg91_flow_gets_authkey_and_dlt_variables() {
    let fake = provider(vec![answer(
        200,
        json!({"type": "success", "message": "req-42"}),
    )])
    .await;
    let d = delivery(json!({"provider": "msg91", "msg91": msg91_table(&fake.base)}));
    let receipt = d.send(&india(HINDI)).await.unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("req-42"));

    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/api/v5/flow");
    assert_eq!(req.header("authkey"), "msg91-key");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(
        req.json(),
        json!({"template_id": "tmpl-1", "short_url": "0", "sender": "EXSHOP",
               "recipients": [{"mobiles": "919812345678", "otp": "123456"}]})
    );
}

#[tokio::test]
async fn msg91_code_variable_name_is_configurable() {
    let fake = provider(vec![answer(
        200,
        json!({"type": "success", "message": "r"}),
    )])
    .await;
    let mut table = msg91_table(&fake.base);
    table["code_var"] = json!("var1");
    let d = delivery(json!({"provider": "msg91", "msg91": table}));
    d.send(&india("x")).await.unwrap();
    assert_eq!(
        fake.only_request().json()["recipients"],
        json!([{"mobiles": "919812345678", "var1": "123456"}])
    );
}

#[tokio::test]
async fn vonage_gets_digits_only_unicode_for_hindi_and_dlt_ids() {
    let fake = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    let receipt = d.send(&india(HINDI)).await.unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("0A0000000123ABCD1"));

    let req = fake.only_request();
    assert_eq!(req.path, "/sms/json");
    assert_eq!(
        req.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let form = req.form();
    let expect = [
        ("api_key", "vkey"),
        ("api_secret", "vsecret"),
        ("from", "EXSHOP"),
        ("to", "919812345678"),
        ("text", HINDI),
        ("type", "unicode"),
        ("entity-id", "1101456789012345678"),
        ("content-id", "1107161234567890123"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(form, expect);
}

#[tokio::test]
async fn vonage_plain_text_is_not_marked_unicode() {
    let fake = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    d.send(&india("123456 is your Example Shop code. [ok] 5€"))
        .await
        .unwrap();
    assert_eq!(fake.only_request().field("type"), None);
}

#[tokio::test]
async fn webhook_json_escapes_values_and_sends_configured_headers() {
    let fake = provider(vec![answer(
        200,
        json!({"result": {"ok": true}, "id": "w-1"}),
    )])
    .await;
    let d = delivery(json!({"provider": "webhook", "webhook": {
        "url": format!("{}/hooks/sms", fake.base),
        "headers": {"Authorization": "Bearer hook-secret", "X-Tenant": "shop-1"},
        "body": "{\"number\":\"{to}\",\"text\":\"{body}\",\"otp\":\"{code}\",\"n\":\"{to_digits}\"}",
        "success_field": "result.ok", "success_value": "true"}}));
    let body = "Line \"one\"\n@shop.example #123456";
    let receipt = d.send(&india(body)).await.unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("w-1"));
    let req = fake.only_request();
    assert_eq!(req.path, "/hooks/sms");
    assert_eq!(req.header("authorization"), "Bearer hook-secret");
    assert_eq!(req.header("x-tenant"), "shop-1");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(
        req.json(),
        json!({"number": "+919812345678", "text": body, "otp": "123456", "n": "919812345678"})
    );
}

#[tokio::test]
async fn webhook_form_encodes_values() {
    let fake = provider(vec![answer(200, json!({"status": "success"}))]).await;
    let d = delivery(json!({"provider": "webhook", "webhook": {
        "url": fake.base, "content_type": "form",
        "body": "apikey=k&numbers={to_digits}&message={body}&to={to}"}}));
    d.send(&india(HINDI)).await.unwrap();
    let req = fake.only_request();
    assert_eq!(
        req.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let raw = String::from_utf8(req.body.clone()).unwrap();
    assert!(raw.contains("to=%2B919812345678"), "{raw}");
    assert_eq!(req.field("message").as_deref(), Some(HINDI));
    assert_eq!(req.field("numbers").as_deref(), Some("919812345678"));
}

/// An amount in rupees makes an otherwise Latin text UCS-2: the rupee sign
/// is not in GSM-7, and sent as `type=text` it would arrive as `?`.
#[tokio::test]
async fn vonage_marks_a_rupee_amount_unicode() {
    let fake = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    let amount = otpgate::money::format_amount(129_900, "INR");
    let text = format!("123456 confirms {amount} to Example Shop.");
    d.send(&india(&text)).await.unwrap();
    let req = fake.only_request();
    assert_eq!(req.field("type").as_deref(), Some("unicode"));
    assert_eq!(req.field("text").as_deref(), Some(text.as_str()));
    assert_eq!(
        otpgate::sms::segments::count(&text).encoding,
        otpgate::sms::segments::Encoding::Ucs2
    );
}
