//! Provider answers that refuse a message, including HTTP 200 ones.

use serde_json::json;

use otpgate::sms::DeliveryError;

use crate::fake::{
    answer, delivery, india, msg91_table, provider, twilio_table, vonage_ok, vonage_table,
};

#[tokio::test]
async fn twilio_number_errors_stop_at_once() {
    for (code, expected) in [
        (21211, DeliveryError::InvalidNumber),
        (21614, DeliveryError::InvalidNumber),
        (21610, DeliveryError::OptedOut),
    ] {
        let twilio = provider(vec![answer(
            400,
            json!({"code": code, "status": 400,
            "message": "The 'To' number +919812345678 is not valid", "more_info": "x"}),
        )])
        .await;
        let fallback = provider(vec![vonage_ok()]).await;
        let d = delivery(json!({"provider": "twilio", "fallback": ["vonage"],
            "twilio": twilio_table(&twilio.base), "vonage": vonage_table(&fallback.base)}));
        assert_eq!(d.send(&india("x")).await, Err(expected), "code {code}");
        assert_eq!(twilio.requests().len(), 1, "no retry on {code}");
        assert!(fallback.requests().is_empty(), "no fallback on {code}");
    }
}

#[tokio::test]
async fn bad_credentials_are_not_retried_but_fail_over() {
    let twilio = provider(vec![answer(401, json!({"code": 20003, "status": 401}))]).await;
    let msg91 = provider(vec![answer(
        200,
        json!({"type": "success", "message": "r"}),
    )])
    .await;
    let d = delivery(json!({"provider": "twilio", "fallback": ["msg91"],
        "twilio": twilio_table(&twilio.base), "msg91": msg91_table(&msg91.base)}));
    assert_eq!(d.send(&india("x")).await.unwrap().provider, "msg91");
    assert_eq!(twilio.requests().len(), 1);
    assert_eq!(msg91.requests().len(), 1);
}

#[tokio::test]
async fn msg91_http_200_with_type_error_is_a_failure() {
    let msg91 = provider(vec![answer(
        200,
        json!({"type": "error", "message": "Invalid authkey"}),
    )])
    .await;
    let vonage = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "msg91", "fallback": ["vonage"],
        "msg91": msg91_table(&msg91.base), "vonage": vonage_table(&vonage.base)}));
    assert_eq!(d.send(&india("x")).await.unwrap().provider, "vonage");
    assert_eq!(
        msg91.requests().len(),
        1,
        "a refused authkey is not retried"
    );

    // Alone, the same answer is a failure for the shopper, not a success.
    let msg91 = provider(vec![answer(
        200,
        json!({"type": "error", "message": "Template not approved", "code": "211"}),
    )])
    .await;
    let d = delivery(json!({"provider": "msg91", "msg91": msg91_table(&msg91.base)}));
    assert_eq!(d.send(&india("x")).await, Err(DeliveryError::Unavailable));
}

#[tokio::test]
async fn vonage_http_200_with_nonzero_status_is_a_failure() {
    let barred = answer(
        200,
        json!({"message-count": "1", "messages": [
        {"status": "7", "error-text": "Number barred"}]}),
    );
    let fake = provider(vec![barred]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    assert_eq!(d.send(&india("x")).await, Err(DeliveryError::OptedOut));

    // Status 1 (throttled) is transient: retried on the same provider.
    let throttled = answer(
        200,
        json!({"message-count": "1", "messages": [
        {"status": "1", "error-text": "Throttled"}]}),
    );
    let fake = provider(vec![throttled, vonage_ok()]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    assert!(d.send(&india("x")).await.is_ok());
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn webhook_success_field_mismatch_is_a_failure() {
    let fake = provider(vec![answer(
        200,
        json!({"status": "failure", "errors": [{"code": 7}]}),
    )])
    .await;
    let d = delivery(json!({"provider": "webhook", "webhook": {"url": fake.base,
        "success_field": "status", "success_value": "success"}}));
    assert_eq!(d.send(&india("x")).await, Err(DeliveryError::Unavailable));
    assert_eq!(fake.requests().len(), 1, "a refused message is not retried");
}
