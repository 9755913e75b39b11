//! MSG91 WhatsApp: the outbound template API.
//!
//! `POST {api_base}/api/v5/whatsapp/whatsapp-outbound-message/bulk/`,
//! header `authkey`, JSON `{"integrated_number":"91…","content_type":
//! "template","payload":{"messaging_product":"whatsapp","type":"template",
//! "template":{"name","language":{"code","policy":"deterministic"},
//! "namespace","to_and_components":[{"to":["91…"],"components":{
//! "body_1":{"type":"text","value":CODE},"button_1":{"subtype":"url",
//! "type":"text","value":CODE}}}]}}}`. MSG91 answers
//! `{"status":"success","hasError":false,"request_id":…}`, and may answer
//! HTTP 200 with `{"status":"fail","hasError":true,"errors":…}`: a failure.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::secret::Secret;
use crate::sms::chain::template_language;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{
    e164_digits, PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender,
};
use crate::sms::msg91::DEFAULT_API_BASE;
use crate::validation::{base_url, required, secret, Problems};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMsg91Whatsapp {
    pub authkey: Option<Secret>,
    pub authkey_file: Option<String>,
    /// The WhatsApp number integrated in the MSG91 panel, digits.
    pub integrated_number: Option<String>,
    pub template: Option<String>,
    pub namespace: Option<String>,
    pub languages: Option<BTreeMap<String, String>>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Msg91WhatsappConfig {
    pub authkey: Secret,
    pub integrated_number: String,
    pub template: String,
    pub namespace: Option<String>,
    pub languages: BTreeMap<String, String>,
    pub api_base: String,
}

impl Msg91WhatsappConfig {
    pub fn validate(raw: &RawMsg91Whatsapp, problems: &mut Problems) -> Option<Self> {
        let before = problems.0.len();
        let authkey = secret(
            problems,
            "whatsapp.msg91.authkey",
            raw.authkey.as_ref(),
            raw.authkey_file.as_ref(),
        );
        if authkey.is_none() && problems.0.len() == before {
            problems.push("whatsapp.msg91.authkey", "missing");
        }
        let number = required(
            problems,
            "whatsapp.msg91.integrated_number",
            raw.integrated_number.as_ref(),
        )
        .map(|n| e164_digits(&n));
        if number.as_ref().is_some_and(|n| n.len() < 8) {
            problems.push(
                "whatsapp.msg91.integrated_number",
                "the integrated WhatsApp number with its country code, e.g. 919812345678",
            );
        }
        let template = required(problems, "whatsapp.msg91.template", raw.template.as_ref());
        let api_base = base_url(
            problems,
            "whatsapp.msg91.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(Msg91WhatsappConfig {
            authkey: authkey?,
            integrated_number: number?,
            template: template?,
            namespace: raw.namespace.clone(),
            languages: raw.languages.clone().unwrap_or_default(),
            api_base: api_base?,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct Msg91WhatsappSender {
    cfg: Msg91WhatsappConfig,
    url: String,
    http: reqwest::Client,
}

impl Msg91WhatsappSender {
    pub fn new(cfg: Msg91WhatsappConfig, http: reqwest::Client) -> Self {
        let url = format!(
            "{}/api/v5/whatsapp/whatsapp-outbound-message/bulk/",
            cfg.api_base
        );
        Msg91WhatsappSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for Msg91WhatsappSender {
    fn name(&self) -> &'static str {
        "msg91_whatsapp"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let mut template = json!({
            "name": self.cfg.template,
            "language": {
                "code": template_language(&self.cfg.languages, &msg.lang),
                "policy": "deterministic",
            },
            "to_and_components": [{
                "to": [e164_digits(&msg.to)],
                "components": {
                    "body_1": { "type": "text", "value": msg.code },
                    "button_1": { "subtype": "url", "type": "text", "value": msg.code },
                },
            }],
        });
        if let Some(ns) = &self.cfg.namespace {
            template["namespace"] = json!(ns);
        }
        let body = json!({
            "integrated_number": self.cfg.integrated_number,
            "content_type": "template",
            "payload": {
                "messaging_product": "whatsapp",
                "type": "template",
                "template": template,
            },
        });
        let request = self
            .http
            .post(&self.url)
            .header("authkey", self.cfg.authkey.expose())
            .json(&body);
        classify(execute(request).await?)
    }
}

pub(crate) fn classify(response: ProviderResponse) -> Result<SmsReceipt, SmsError> {
    classify_as(response, "msg91_whatsapp")
}

/// MSG91's v5 answers (WhatsApp and voice alike): `status`/`type` say
/// `success`, or `fail`/`error` (also under HTTP 200), `hasError` too.
pub(crate) fn classify_as(
    response: ProviderResponse,
    provider: &'static str,
) -> Result<SmsReceipt, SmsError> {
    if let Some(err) = response.status_error() {
        return Err(err);
    }
    let Some(json) = response.json() else {
        return if response.status.is_success() {
            Err(SmsError::MaybeDelivered)
        } else {
            Err(SmsError::rejected(response.status.as_str()))
        };
    };
    let verdict = json
        .get("status")
        .or_else(|| json.get("type"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let has_error = json.get("hasError").and_then(serde_json::Value::as_bool) == Some(true);
    if response.status.is_success() && verdict == "success" && !has_error {
        let id = ["/request_id", "/data/uuid", "/data/request_id", "/message"]
            .iter()
            .find_map(|p| json.pointer(p).and_then(serde_json::Value::as_str))
            .map(str::to_owned);
        return Ok(SmsReceipt {
            provider,
            message_id: id,
        });
    }
    // MSG91 words its errors (no stable codes); the credential one says so.
    let text = json.to_string().to_ascii_lowercase();
    if text.contains("authkey") || text.contains("authentication") || text.contains("unauthor") {
        return Err(SmsError::Permanent(PermanentReason::BadCredentials));
    }
    if response.status.is_success() && verdict.is_empty() && !has_error {
        return Err(SmsError::MaybeDelivered);
    }
    let code = json
        .get("code")
        .or_else(|| json.get("apiError"))
        .map(|c| c.to_string())
        .unwrap_or_else(|| "fail".to_owned());
    Err(SmsError::rejected(&code))
}
