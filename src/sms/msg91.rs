//! MSG91 Flow API v5 (India).
//!
//! `POST {api_base}/api/v5/flow`, header `authkey`, JSON
//! `{"template_id", "short_url": "0", "recipients": [{"mobiles": "91…",
//! "<code_var>": "123456"}]}`. The text sent is the DLT template registered
//! under `template_id` in the MSG91 panel, with the code as its variable; the
//! rendered `[otp] message` is *not* sent, so the two must be kept in step.
//!
//! MSG91 answers `{"type":"success","message":"<request id>"}`, and may
//! answer HTTP 200 with `{"type":"error", …}`: that is a failure.

use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{
    e164_digits, PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender,
};
use crate::validation::{base_url, required, secret, Problems};

pub const DEFAULT_API_BASE: &str = "https://control.msg91.com";
pub const DEFAULT_CODE_VAR: &str = "otp";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMsg91 {
    pub authkey: Option<Secret>,
    pub authkey_file: Option<String>,
    /// MSG91 flow/template id, bound to the DLT content template.
    pub template_id: Option<String>,
    /// DLT 6-character sender header.
    pub sender: Option<String>,
    /// DLT principal entity id (bound through the MSG91 panel; checked by
    /// `check-config`, not sent).
    pub entity_id: Option<String>,
    /// Template variable that receives the code. Default `"otp"`.
    pub code_var: Option<String>,
    pub api_base: Option<String>,
    /// The secret in the delivery-report URL entered in the MSG91 panel
    /// (MSG91 does not sign its webhook; sms/dlr.rs).
    pub dlr_token: Option<Secret>,
    pub dlr_token_file: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Msg91Config {
    pub authkey: Secret,
    pub template_id: String,
    pub sender: Option<String>,
    pub entity_id: Option<String>,
    pub code_var: String,
    pub api_base: String,
    pub dlr_token: Option<Secret>,
}

impl Msg91Config {
    pub fn validate(raw: &RawMsg91, problems: &mut Problems) -> Option<Msg91Config> {
        let before = problems.0.len();
        let authkey = secret(
            problems,
            "sms.msg91.authkey",
            raw.authkey.as_ref(),
            raw.authkey_file.as_ref(),
        );
        if authkey.is_none() && problems.0.len() == before {
            problems.push("sms.msg91.authkey", "missing");
        }
        let template_id = required(problems, "sms.msg91.template_id", raw.template_id.as_ref());
        if let Some(sender) = &raw.sender {
            if sender.len() != 6 || !sender.chars().all(|c| c.is_ascii_alphanumeric()) {
                problems.push(
                    "sms.msg91.sender",
                    "a DLT sender header is 6 letters or digits",
                );
            }
        }
        let code_var = raw
            .code_var
            .clone()
            .unwrap_or_else(|| DEFAULT_CODE_VAR.to_owned());
        if code_var.is_empty() || code_var == "mobiles" {
            problems.push("sms.msg91.code_var", "must be a template variable name");
        }
        let dlr_token = secret(
            problems,
            "sms.msg91.dlr_token",
            raw.dlr_token.as_ref(),
            raw.dlr_token_file.as_ref(),
        );
        // The only thing between the internet and a report that moves a
        // shopper to another channel: it must not be guessable.
        if dlr_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().len() < 24)
        {
            problems.push(
                "sms.msg91.dlr_token",
                "at least 24 random characters (e.g. `openssl rand -hex 16`)",
            );
        }
        let api_base = base_url(
            problems,
            "sms.msg91.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(Msg91Config {
            authkey: authkey?,
            template_id: template_id?,
            sender: raw.sender.clone(),
            entity_id: raw.entity_id.clone(),
            code_var,
            api_base: api_base?,
            dlr_token,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct Msg91Sender {
    cfg: Msg91Config,
    url: String,
    http: reqwest::Client,
}

impl Msg91Sender {
    pub fn new(cfg: Msg91Config, http: reqwest::Client) -> Self {
        let url = format!("{}/api/v5/flow", cfg.api_base);
        Msg91Sender { cfg, url, http }
    }

    fn payload(&self, msg: &SmsMessage) -> serde_json::Value {
        let mut recipient = serde_json::Map::new();
        recipient.insert("mobiles".into(), e164_digits(&msg.to).into());
        recipient.insert(self.cfg.code_var.clone(), msg.code.clone().into());
        let mut payload = serde_json::json!({
            "template_id": self.cfg.template_id,
            "short_url": "0",
            "recipients": [recipient],
        });
        if let Some(sender) = &self.cfg.sender {
            payload["sender"] = sender.clone().into();
        }
        payload
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<serde_json::Value>,
    code: Option<serde_json::Value>,
}

#[async_trait::async_trait]
impl SmsSender for Msg91Sender {
    fn name(&self) -> &'static str {
        "msg91"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let request = self
            .http
            .post(&self.url)
            .header("authkey", self.cfg.authkey.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&self.payload(msg));
        classify(execute(request).await?)
    }
}

fn classify(response: ProviderResponse) -> Result<SmsReceipt, SmsError> {
    if let Some(err) = response.status_error() {
        return Err(err);
    }
    let answer = serde_json::from_slice::<Answer>(&response.body).ok();
    let Some(answer) = answer else {
        return Err(if response.status.is_success() {
            SmsError::MaybeDelivered
        } else {
            SmsError::rejected(response.status.as_str())
        });
    };
    match answer.kind.as_deref() {
        Some("success") if response.status.is_success() => Ok(SmsReceipt {
            provider: "msg91",
            message_id: answer.message.and_then(|m| m.as_str().map(str::to_owned)),
        }),
        // "error" (often with HTTP 200), or anything else: never success.
        _ => Err(error_answer(&answer)),
    }
}

/// MSG91 errors carry a free-text `message` and sometimes a `code`; the
/// text is only matched here, never kept.
fn error_answer(answer: &Answer) -> SmsError {
    let text = answer
        .message
        .as_ref()
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let code = match &answer.code {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => "error".to_owned(),
    };
    if text.contains("authkey") || text.contains("authentication") || code == "401" {
        SmsError::Permanent(PermanentReason::BadCredentials)
    } else if text.contains("mobile") && (text.contains("invalid") || text.contains("not valid")) {
        SmsError::Permanent(PermanentReason::InvalidNumber)
    } else if text.contains("dnd") || text.contains("blocked") || text.contains("blacklist") {
        SmsError::Permanent(PermanentReason::Unsubscribed)
    } else {
        SmsError::rejected(&code)
    }
}
