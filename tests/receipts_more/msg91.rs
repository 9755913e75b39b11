//! MSG91's webhook (v2 form and v3 JSON), authenticated by the token in
//! the URL entered in the MSG91 panel.

use otpgate::clock::ManualClock;
use serde_json::json;

use super::fake::{answer, provider};
use super::support::{upstream, Gw, H1};
use super::{gateway_with, offers, shopper, whatsapp};

const TOKEN: &str = "4f1c9a7e2b6d8e0f3a5c7b9d1e2f4a6c";
const REQUEST_ID: &str = "3467616b6c6f313230313335";

/// The v2 body as MSG91 posts it: the reports as JSON text in `data`.
fn v2(request_id: &str, status: &str, desc: &str) -> String {
    let data = json!([{"senderId": "OTPGAT", "requestId": request_id,
        "report": [{"date": "2026-12-01 10:06:20", "number": "919812345678",
                    "status": status, "desc": desc, "failedReason": "Absent subscriber"}],
        "userId": "27XXXX", "campaignName": "Flow"}]);
    form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &data.to_string())
        .finish()
}

async fn post(gw: &Gw, query: &str, ctype: &str, body: String) -> u16 {
    gw.client(H1)
        .post(gw.url(&format!("/.otpgate/sms/msg91/dlr{query}")))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn a_report_with_the_token_offers_whatsapp_and_forgeries_do_nothing() {
    let shop = upstream().await;
    let wa = whatsapp().await;
    let sms = provider(vec![answer(
        200,
        json!({"type": "success", "message": REQUEST_ID}),
    )])
    .await;
    let clock = ManualClock::starting_now();
    let table = format!(
        "{{ authkey = \"k91\", template_id = \"6650a1b2c3d4\", dlr_token = \"{TOKEN}\", api_base = \"{}\" }}",
        sms.base
    );
    let gw = gateway_with(&shop, &wa, &clock, "msg91", &table).await;
    let mut b = shopper(&gw).await;
    let failed = || v2(REQUEST_ID, "2", "FAILED");

    let ok = format!("?token={TOKEN}");
    let forged = [
        ("", FORM, failed(), 403, "no token"),
        ("?token=", FORM, failed(), 403, "empty token"),
        (
            "?token=4f1c9a7e2b6d8e0f3a5c7b9d1e2f4a6d",
            FORM,
            failed(),
            403,
            "one character off",
        ),
        (
            "?token=4F1C9A7E2B6D8E0F3A5C7B9D1E2F4A6C",
            FORM,
            failed(),
            403,
            "another case",
        ),
        (&ok[..], FORM, "data=not-json".into(), 400, "malformed v2"),
        (&ok[..], FORM, "desc=FAILED".into(), 400, "no data"),
        (
            &ok[..],
            "application/json",
            "{\"desc\":".into(),
            400,
            "malformed v3",
        ),
        (
            &ok[..],
            "application/json",
            json!({"desc": "FAILED", "number": "919812345678"}).to_string(),
            400,
            "no requestId",
        ),
    ];
    for (query, ctype, body, want, why) in forged {
        assert_eq!(post(&gw, query, ctype, body).await, want, "{why}");
        assert!(!offers(&mut b, "whatsapp").await, "{why} marked nothing");
    }
    // The token in the path is not the token (and paths are logged).
    let path = format!("/.otpgate/sms/msg91/dlr/{TOKEN}");
    let r = gw
        .client(H1)
        .post(gw.url(&path))
        .header("content-type", FORM)
        .body(failed())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // MSG91's own report for another message (the token is right): it
    // is not ours, so nothing is marked — and 204, or MSG91 retries.
    assert_eq!(
        post(
            &gw,
            &ok,
            FORM,
            v2("3467616b6c6f999999999999", "2", "FAILED")
        )
        .await,
        204
    );
    assert!(!offers(&mut b, "whatsapp").await, "another message id");
    // Not final yet: nothing either.
    assert_eq!(
        post(&gw, &ok, FORM, v2(REQUEST_ID, "8", "SUBMITTED")).await,
        204
    );
    assert!(!offers(&mut b, "whatsapp").await, "submitted is not final");

    assert_eq!(post(&gw, &ok, FORM, failed()).await, 204);
    assert!(offers(&mut b, "whatsapp").await, "a genuine failure");
    assert_eq!(shop.count(), 0, "reports are otpgate's own");
    let m = gw.metrics().await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("otpgate_sms_delivery_receipts_total{")
                && l.contains("provider=\"msg91\"")
                && l.contains("status=\"failed\"")
                && l.ends_with(" 2")),
        "{m}"
    );
}

#[tokio::test]
async fn a_v3_json_report_is_read_and_the_endpoint_is_off_without_a_token() {
    let shop = upstream().await;
    let wa = whatsapp().await;
    let sms = provider(vec![answer(
        200,
        json!({"type": "success", "message": REQUEST_ID}),
    )])
    .await;
    let clock = ManualClock::starting_now();
    let table = format!(
        "{{ authkey = \"k91\", template_id = \"6650a1b2c3d4\", dlr_token = \"{TOKEN}\", api_base = \"{}\" }}",
        sms.base
    );
    let gw = gateway_with(&shop, &wa, &clock, "msg91", &table).await;
    let mut b = shopper(&gw).await;
    let v3 = json!({"date": "2026-12-01 09:58:16", "number": "919812345678",
        "senderId": "OTPGAT", "requestId": REQUEST_ID, "status": "16",
        "desc": "REJECTED", "failedReason": "DLT template mismatch"});
    let ok = format!("?token={TOKEN}");
    assert_eq!(
        post(&gw, &ok, "application/json", v3.to_string()).await,
        204
    );
    assert!(offers(&mut b, "whatsapp").await);

    let untokened = format!(
        "{{ authkey = \"k91\", template_id = \"6650a1b2c3d4\", api_base = \"{}\" }}",
        sms.base
    );
    let off = gateway_with(&shop, &wa, &clock, "msg91", &untokened).await;
    assert_eq!(
        post(&off, &ok, "application/json", v3.to_string()).await,
        404
    );
}
