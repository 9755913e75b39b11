//! Meta WhatsApp Cloud API, authentication template with a copy-code button.
//!
//! `POST {api_base}/{api_version}/{phone_number_id}/messages`, header
//! `Authorization: Bearer <access_token>`, JSON
//! `{"messaging_product":"whatsapp","recipient_type":"individual","to":"91…",
//! "type":"template","template":{"name","language":{"code"},"components":[
//! {"type":"body","parameters":[{"type":"text","text":CODE}]},
//! {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":CODE}]}]}}`
//! (the copy-code button is a URL button once the template is created, and
//! takes the code as its parameter). Success is 200 with
//! `{"messages":[{"id":"wamid.…"}]}`; errors are Graph API errors
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::secret::Secret;
use crate::sms::chain::template_language;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{
    e164_digits, PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind,
};
use crate::validation::{base_url, required, secret, Problems};

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub access_token: Option<Secret>,
    pub access_token_file: Option<String>,
    pub phone_number_id: Option<String>,
    /// The approved authentication template's name.
    pub template: Option<String>,
    /// Page language → template language code. Default: the page's tag.
    pub languages: Option<BTreeMap<String, String>>,
    pub api_version: Option<String>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub access_token: Secret,
    pub phone_number_id: String,
    pub template: String,
    pub languages: BTreeMap<String, String>,
    pub api_version: String,
    pub api_base: String,
}

impl MetaConfig {
    pub fn validate(raw: &RawMeta, problems: &mut Problems) -> Option<MetaConfig> {
        let before = problems.0.len();
        let token = secret(
            problems,
            "whatsapp.meta.access_token",
            raw.access_token.as_ref(),
            raw.access_token_file.as_ref(),
        );
        if token.is_none() && problems.0.len() == before {
            problems.push("whatsapp.meta.access_token", "missing");
        }
        let id = required(
            problems,
            "whatsapp.meta.phone_number_id",
            raw.phone_number_id.as_ref(),
        );
        if id
            .as_ref()
            .is_some_and(|id| !id.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.push(
                "whatsapp.meta.phone_number_id",
                "the phone number id is digits (WhatsApp Manager → API setup)",
            );
        }
        let template = required(problems, "whatsapp.meta.template", raw.template.as_ref());
        let api_version = raw
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        if !api_version.starts_with('v') || api_version.contains('/') {
            problems.push(
                "whatsapp.meta.api_version",
                "a Graph API version such as v21.0",
            );
        }
        let api_base = base_url(
            problems,
            "whatsapp.meta.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(MetaConfig {
            access_token: token?,
            phone_number_id: id?,
            template: template?,
            languages: raw.languages.clone().unwrap_or_default(),
            api_version,
            api_base: api_base?,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct MetaSender {
    cfg: MetaConfig,
    url: String,
    http: reqwest::Client,
}

impl MetaSender {
    pub fn new(cfg: MetaConfig, http: reqwest::Client) -> Self {
        let url = format!(
            "{}/{}/{}/messages",
            cfg.api_base, cfg.api_version, cfg.phone_number_id
        );
        MetaSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for MetaSender {
    fn name(&self) -> &'static str {
        "meta_whatsapp"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let text = json!([{ "type": "text", "text": msg.code }]);
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": e164_digits(&msg.to),
            "type": "template",
            "template": {
                "name": self.cfg.template,
                "language": { "code": template_language(&self.cfg.languages, &msg.lang) },
                "components": [
                    { "type": "body", "parameters": text },
                    { "type": "button", "sub_type": "url", "index": "0", "parameters": text },
                ],
            },
        });
        let request = self
            .http
            .post(&self.url)
            .bearer_auth(self.cfg.access_token.expose())
            .json(&body);
        classify(execute(request).await?)
    }
}

fn classify(response: ProviderResponse) -> Result<SmsReceipt, SmsError> {
    let json = response.json();
    // A Graph error object decides, whatever the status (a 200 can carry one).
    if let Some(code) = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(|e| e.get("code"))
        .and_then(serde_json::Value::as_u64)
    {
        return Err(error_code(code, &response));
    }
    if response.status.is_success() {
        let id = json
            .as_ref()
            .and_then(|j| j.pointer("/messages/0/id"))
            .and_then(serde_json::Value::as_str);
        return match id {
            Some(id) => Ok(SmsReceipt {
                provider: "meta_whatsapp",
                message_id: Some(id.to_owned()),
            }),
            None => Err(SmsError::MaybeDelivered),
        };
    }
    Err(response
        .status_error()
        .unwrap_or_else(|| SmsError::rejected(response.status.as_str())))
}

/// WhatsApp Cloud API error codes (developers.facebook.com, "WhatsApp
/// error codes").
fn error_code(code: u64, response: &ProviderResponse) -> SmsError {
    match code {
        // 190 access token expired or invalid; 0 AuthException; 10 / 200
        // permission denied.
        0 | 10 | 190 | 200 => SmsError::Permanent(PermanentReason::BadCredentials),
        // 4 / 80007 / 130429 throughput, 131048 spam rate limit, 131056
        // too many messages to this number: wait and try again.
        4 | 80007 | 130429 | 131048 | 131056 => SmsError::Transient {
            kind: TransientKind::RateLimited,
            retry_after: response.retry_after,
        },
        // 131000 something went wrong, 131016 service unavailable, 2 / 1
        // API service / unknown, 133004 server temporarily unavailable.
        1 | 2 | 131000 | 131016 | 133004 => SmsError::Transient {
            kind: TransientKind::ProviderBusy,
            retry_after: response.retry_after,
        },
        // 131026 undeliverable (no WhatsApp on that number, or old app).
        131026 => SmsError::Permanent(PermanentReason::InvalidNumber),
        // 131050 the user stopped marketing messages (never authentication,
        // but honoured as an opt-out should Meta send it).
        131050 => SmsError::Permanent(PermanentReason::Unsubscribed),
        // 100 invalid parameter, 131008 / 131009 parameters, 132000 /
        // 132001 template parameters or name, 131030 not in the allowed
        // list (test numbers), 131031 account locked: ours to fix.
        _ => SmsError::rejected(&code.to_string()),
    }
}
