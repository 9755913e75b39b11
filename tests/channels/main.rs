//! WhatsApp and voice providers against local servers that speak each
//! provider's wire format (the fakes of tests/sms_providers), through the
//! same delivery chain as SMS: bounded retries, failover, timeouts.

#[allow(dead_code)]
#[path = "../sms_providers/fake.rs"]
mod fake;
#[path = "../support/mod.rs"]
mod support;

mod limits;
mod resend;
mod walk;

use std::sync::Arc;

use fake::{answer, fast_policy, provider, Reply};
use otpgate::sms::channel::validate;
use otpgate::sms::voice::RawVoice;
use otpgate::sms::whatsapp::RawWhatsapp;
use otpgate::sms::{Channel, ChannelSet, DeliveryError, RawChannels, SmsMessage, SmsMetrics};
use serde_json::{json, Value};

fn set(whatsapp: Option<Value>, voice: Option<Value>) -> ChannelSet {
    let wa: Option<RawWhatsapp> = whatsapp.map(|v| serde_json::from_value(v).unwrap());
    let vo: Option<RawVoice> = voice.map(|v| serde_json::from_value(v).unwrap());
    let mut cfg = validate(&RawChannels::default(), wa.as_ref(), vo.as_ref())
        .unwrap_or_else(|p| panic!("{p:?}"));
    if let Some(w) = cfg.whatsapp.as_mut() {
        w.policy = fast_policy();
    }
    if let Some(v) = cfg.voice.as_mut() {
        v.policy = fast_policy();
    }
    ChannelSet::build(&cfg, Arc::new(SmsMetrics::new()))
}

fn msg(lang: &str) -> SmsMessage {
    SmsMessage {
        to: "+919812345678".into(),
        region: "IN".into(),
        body: "042917 is your code".into(),
        code: "042917".into(),
        lang: lang.into(),
    }
}

fn meta(base: &str) -> Value {
    json!({"access_token": "meta-token", "phone_number_id": "106540352242922",
           "template": "otp_copy_code", "api_base": base})
}

fn twilio_wa(base: &str) -> Value {
    json!({"account_sid": "ACtest", "auth_token": "tok", "from": "+14155238886",
           "content_sid": "HX0123", "api_base": base})
}

fn meta_ok() -> Reply {
    answer(
        200,
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": "919812345678", "wa_id": "919812345678"}],
               "messages": [{"id": "wamid.HBgL"}]}),
    )
}

fn graph_error(status: u16, code: u64) -> Reply {
    answer(
        status,
        json!({"error": {"message": "(#x) …", "type": "OAuthException", "code": code,
                         "error_subcode": 2494010, "fbtrace_id": "Az8or"}}),
    )
}

#[tokio::test]
async fn meta_sends_the_authentication_template_with_the_code_twice() {
    let p = provider(vec![meta_ok()]).await;
    let s = set(
        Some(json!({"provider": "meta", "meta": meta(&p.base)})),
        None,
    );
    let wa = s.delivery(Channel::Whatsapp).unwrap();
    let receipt = wa.send(&msg("hi")).await.unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("wamid.HBgL"));
    let r = p.only_request();
    assert_eq!(r.path, "/v21.0/106540352242922/messages");
    assert_eq!(r.header("authorization"), "Bearer meta-token");
    let b = r.json();
    assert_eq!(b["messaging_product"], "whatsapp");
    assert_eq!(b["to"], "919812345678");
    assert_eq!(b["type"], "template");
    assert_eq!(b["template"]["name"], "otp_copy_code");
    assert_eq!(b["template"]["language"]["code"], "hi");
    let c = &b["template"]["components"];
    assert_eq!(c[0]["type"], "body");
    assert_eq!(c[0]["parameters"][0]["text"], "042917");
    assert_eq!(c[1]["type"], "button");
    assert_eq!(c[1]["sub_type"], "url");
    assert_eq!(c[1]["index"], "0");
    assert_eq!(c[1]["parameters"][0]["text"], "042917");
}

#[tokio::test]
async fn meta_errors_are_classified_by_code() {
    // A 200 that carries an error: not on WhatsApp. Stop, no retry.
    let p = provider(vec![graph_error(200, 131026)]).await;
    let s = set(
        Some(json!({"provider": "meta", "meta": meta(&p.base)})),
        None,
    );
    let err = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await;
    assert_eq!(err, Err(DeliveryError::InvalidNumber));
    assert_eq!(p.requests().len(), 1);

    // Throughput limit: retried, bounded (1 + max_retries), then given up.
    let p = provider(vec![graph_error(400, 130429)]).await;
    let s = set(
        Some(json!({"provider": "meta", "meta": meta(&p.base)})),
        None,
    );
    let err = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await;
    assert_eq!(err, Err(DeliveryError::Unavailable));
    assert_eq!(p.requests().len(), 3, "1 attempt + max_retries 2");

    // An expired token fails over at once to Twilio WhatsApp.
    let m = provider(vec![graph_error(401, 190)]).await;
    let t = provider(vec![answer(
        201,
        json!({"sid": "SMwa01", "status": "queued"}),
    )])
    .await;
    let s = set(
        Some(json!({"provider": "meta", "fallback": ["twilio"],
                    "meta": meta(&m.base), "twilio": twilio_wa(&t.base)})),
        None,
    );
    let receipt = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await
        .unwrap();
    assert_eq!(receipt.provider, "twilio_whatsapp");
    assert_eq!(m.requests().len(), 1, "bad credentials are never retried");
    let r = t.only_request();
    assert_eq!(r.path, "/2010-04-01/Accounts/ACtest/Messages.json");
    assert_eq!(r.field("To").as_deref(), Some("whatsapp:+919812345678"));
    assert_eq!(r.field("From").as_deref(), Some("whatsapp:+14155238886"));
    assert_eq!(r.field("ContentSid").as_deref(), Some("HX0123"));
    assert_eq!(
        r.field("ContentVariables").as_deref(),
        Some(r#"{"1":"042917"}"#)
    );
    assert_eq!(r.field("Body"), None, "a content template replaces Body");
}

#[tokio::test]
async fn a_silent_whatsapp_provider_is_not_asked_twice() {
    let p = provider(vec![Reply::Hang]).await;
    let s = set(
        Some(json!({"provider": "meta", "meta": meta(&p.base)})),
        None,
    );
    let receipt = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await
        .unwrap();
    assert_eq!(receipt.message_id, None, "unconfirmed");
    assert_eq!(p.requests().len(), 1);
}

#[tokio::test]
async fn msg91_whatsapp_wire_format_and_an_error_inside_a_200() {
    let table = |base: &str| {
        json!({"authkey": "k91", "integrated_number": "919420353943",
               "template": "otp_auth", "namespace": "8c2587cc", "api_base": base})
    };
    let p = provider(vec![answer(
        200,
        json!({"status": "success", "hasError": false,
                                              "request_id": "req-1"}),
    )])
    .await;
    let s = set(
        Some(json!({"provider": "msg91", "msg91": table(&p.base)})),
        None,
    );
    let receipt = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await
        .unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("req-1"));
    let r = p.only_request();
    assert_eq!(r.path, "/api/v5/whatsapp/whatsapp-outbound-message/bulk/");
    assert_eq!(r.header("authkey"), "k91");
    let b = r.json();
    assert_eq!(b["integrated_number"], "919420353943");
    assert_eq!(b["content_type"], "template");
    let t = &b["payload"]["template"];
    assert_eq!(t["name"], "otp_auth");
    assert_eq!(t["namespace"], "8c2587cc");
    let to = &t["to_and_components"][0];
    assert_eq!(to["to"][0], "919812345678");
    assert_eq!(to["components"]["body_1"]["value"], "042917");
    assert_eq!(to["components"]["button_1"]["subtype"], "url");
    assert_eq!(to["components"]["button_1"]["value"], "042917");

    let p = provider(vec![answer(
        200,
        json!({"status": "fail", "hasError": true,
                                              "errors": "template not approved"}),
    )])
    .await;
    let s = set(
        Some(json!({"provider": "msg91", "msg91": table(&p.base)})),
        None,
    );
    let err = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await;
    assert_eq!(err, Err(DeliveryError::Unavailable));
    assert_eq!(p.requests().len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn twilio_calls_read_the_digits_apart_twice_in_hindi() {
    let p = provider(vec![answer(
        201,
        json!({"sid": "CA0123", "status": "queued"}),
    )])
    .await;
    let s = set(
        None,
        Some(
            json!({"provider": "twilio", "twilio": {"account_sid": "ACtest",
                    "auth_token": "tok", "from": "+14155550100", "api_base": p.base}}),
        ),
    );
    let receipt = s
        .delivery(Channel::Voice)
        .unwrap()
        .send(&msg("hi"))
        .await
        .unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("CA0123"));
    let r = p.only_request();
    assert_eq!(r.path, "/2010-04-01/Accounts/ACtest/Calls.json");
    assert_eq!(r.basic_auth(), "ACtest:tok");
    assert_eq!(r.field("To").as_deref(), Some("+919812345678"));
    let twiml = r.field("Twiml").unwrap();
    assert_eq!(twiml.matches("0, 4, 2, 9, 1, 7").count(), 2, "{twiml}");
    assert!(twiml.contains("language=\"hi-IN\""), "{twiml}");
    assert!(r.field("Url").is_none(), "inline TwiML, no URL to fetch");

    // 21217: not a number Twilio can call. Stop at once.
    let p = provider(vec![answer(
        400,
        json!({"code": 21217, "message": "…", "status": 400}),
    )])
    .await;
    let s = set(
        None,
        Some(
            json!({"provider": "twilio", "twilio": {"account_sid": "ACtest",
                    "auth_token": "tok", "from": "+14155550100", "api_base": p.base}}),
        ),
    );
    let err = s.delivery(Channel::Voice).unwrap().send(&msg("en")).await;
    assert_eq!(err, Err(DeliveryError::InvalidNumber));
    assert_eq!(p.requests().len(), 1);
}

#[tokio::test]
async fn msg91_voice_sends_the_code_as_digits_and_fails_over() {
    let m = provider(vec![Reply::Answer(503, vec![], "busy".into())]).await;
    let t = provider(vec![answer(
        201,
        json!({"sid": "CA77", "status": "queued"}),
    )])
    .await;
    let s = set(
        None,
        Some(json!({"provider": "msg91", "fallback": ["twilio"],
                    "msg91": {"authkey": "k91", "template": "otp_voice",
                              "caller_id": "+918035735000", "api_base": m.base},
                    "twilio": {"account_sid": "ACtest", "auth_token": "tok",
                               "from": "+14155550100", "api_base": t.base}})),
    );
    let receipt = s
        .delivery(Channel::Voice)
        .unwrap()
        .send(&msg("en"))
        .await
        .unwrap();
    assert_eq!(receipt.provider, "twilio_voice");
    let tries = m.requests();
    assert_eq!(tries.len(), 3, "5xx retried, bounded");
    assert_eq!(tries[0].path, "/api/v5/voice/call/");
    let b = tries[0].json();
    assert_eq!(b["template"], "otp_voice");
    assert_eq!(b["caller_id"], "+918035735000");
    assert_eq!(b["client_number"], "919812345678");
    assert_eq!(b["variables"]["otp"]["as_digits"], true);
    assert_eq!(b["variables"]["otp"]["value"], "042917");
}

#[test]
fn a_channel_without_a_provider_is_refused_with_its_key() {
    let raw = RawChannels {
        order: Some(vec!["sms".into(), "whatsapp".into()]),
        ..RawChannels::default()
    };
    let problems = validate(&raw, None, None).unwrap_err();
    assert_eq!(problems[0].0, "channels.order[1]", "{problems:?}");
    let wa: RawWhatsapp = serde_json::from_value(json!({"provider": "meta"})).unwrap();
    let problems = validate(&RawChannels::default(), Some(&wa), None).unwrap_err();
    assert_eq!(problems[0].0, "whatsapp.meta", "{problems:?}");
}

/// Each new provider, silent: asked once (a send that may have gone out
/// is never repeated) and reported unconfirmed, within the chain's
/// timeout. Meta has its own test above.
#[tokio::test]
async fn every_silent_provider_is_asked_once_and_reported_unconfirmed() {
    let voice_twilio = |base: &str| {
        json!({"provider": "twilio", "twilio": {"account_sid": "ACtest",
               "auth_token": "tok", "from": "+14155550100", "api_base": base}})
    };
    let voice_msg91 = |base: &str| {
        json!({"provider": "msg91", "msg91": {"authkey": "k91", "template": "otp_voice",
               "caller_id": "+918035735000", "api_base": base}})
    };
    let wa_msg91 = |base: &str| {
        json!({"provider": "msg91", "msg91": {"authkey": "k91",
               "integrated_number": "919420353943", "template": "otp_auth",
               "namespace": "8c2587cc", "api_base": base}})
    };
    for name in [
        "twilio_whatsapp",
        "msg91_whatsapp",
        "twilio_voice",
        "msg91_voice",
    ] {
        let p = provider(vec![Reply::Hang]).await;
        let (s, channel) = match name {
            "twilio_whatsapp" => (
                set(
                    Some(json!({"provider": "twilio", "twilio": twilio_wa(&p.base)})),
                    None,
                ),
                Channel::Whatsapp,
            ),
            "msg91_whatsapp" => (set(Some(wa_msg91(&p.base)), None), Channel::Whatsapp),
            "twilio_voice" => (set(None, Some(voice_twilio(&p.base))), Channel::Voice),
            _ => (set(None, Some(voice_msg91(&p.base))), Channel::Voice),
        };
        let receipt = s.delivery(channel).unwrap().send(&msg("en")).await;
        let receipt = receipt.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(receipt.message_id, None, "{name}: unconfirmed");
        assert_eq!(p.requests().len(), 1, "{name}: never asked twice");
    }
}

/// Errors in their documented shapes: Twilio's WhatsApp refusals by code
/// (63003: no WhatsApp account at that number — ask for another channel,
/// not a retry), and MSG91 voice's error inside a 200.
#[tokio::test]
async fn twilio_whatsapp_and_msg91_voice_errors_in_their_shapes() {
    let p = provider(vec![answer(
        400,
        json!({"code": 63003, "message": "Channel could not find To address", "status": 400}),
    )])
    .await;
    let s = set(
        Some(json!({"provider": "twilio", "twilio": twilio_wa(&p.base)})),
        None,
    );
    let err = s
        .delivery(Channel::Whatsapp)
        .unwrap()
        .send(&msg("en"))
        .await;
    assert_eq!(err, Err(DeliveryError::InvalidNumber));
    assert_eq!(p.requests().len(), 1, "a refusal is not retried");

    let p = provider(vec![answer(
        200,
        json!({"type": "error", "message": "Template not found"}),
    )])
    .await;
    let s = set(
        None,
        Some(json!({"provider": "msg91", "msg91": {"authkey": "k91",
                    "template": "otp_voice", "caller_id": "+918035735000",
                    "api_base": p.base}})),
    );
    let err = s.delivery(Channel::Voice).unwrap().send(&msg("en")).await;
    assert!(err.is_err(), "an error inside a 200 is not a call: {err:?}");
    assert_eq!(p.requests().len(), 1, "a refusal is not retried");
}
