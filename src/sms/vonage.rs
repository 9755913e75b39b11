//! Vonage (Nexmo) SMS API.
//!
//! `POST {api_base}/sms/json`, form `api_key`, `api_secret`, `from`, `to`
//! (E.164 without `+`), `text`, `type=unicode` when the text is not GSM-7,
//! and for India's DLT `entity-id` and `content-id`. The answer is always
//! HTTP 200; each `messages[].status` other than `"0"` is a failure.

use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::dlr::VonageMethod;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{
    e164_digits, PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind,
};
use crate::sms::segments::is_gsm7;
use crate::validation::{base_url, required, secret, Problems};

pub const DEFAULT_API_BASE: &str = "https://rest.nexmo.com";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVonage {
    pub api_key: Option<String>,
    pub api_secret: Option<Secret>,
    pub api_secret_file: Option<String>,
    pub from: Option<String>,
    /// DLT principal entity id (India).
    pub entity_id: Option<String>,
    /// DLT content template id (India).
    pub content_id: Option<String>,
    pub api_base: Option<String>,
    /// Checks signed delivery receipts (sms/dlr.rs); without it the
    /// receipt endpoint is off.
    pub signature_secret: Option<Secret>,
    pub signature_secret_file: Option<String>,
    /// `sha256` (default) or `sha512`, as chosen in the Vonage dashboard.
    pub signature_method: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VonageConfig {
    pub api_key: String,
    pub api_secret: Secret,
    pub from: String,
    pub entity_id: Option<String>,
    pub content_id: Option<String>,
    pub api_base: String,
    pub signature: Option<(Secret, VonageMethod)>,
}

impl VonageConfig {
    pub fn validate(raw: &RawVonage, problems: &mut Problems) -> Option<VonageConfig> {
        let before = problems.0.len();
        let api_key = required(problems, "sms.vonage.api_key", raw.api_key.as_ref());
        let before_secret = problems.0.len();
        let api_secret = secret(
            problems,
            "sms.vonage.api_secret",
            raw.api_secret.as_ref(),
            raw.api_secret_file.as_ref(),
        );
        if api_secret.is_none() && problems.0.len() == before_secret {
            problems.push("sms.vonage.api_secret", "missing");
        }
        let from = required(problems, "sms.vonage.from", raw.from.as_ref());
        for (key, value) in [
            ("sms.vonage.entity_id", &raw.entity_id),
            ("sms.vonage.content_id", &raw.content_id),
        ] {
            // TRAI DLT ids are numeric (content template ids 12-19 digits).
            if let Some(v) = value {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
                    problems.push(key, "a DLT id is digits only");
                }
            }
        }
        let signature_secret = secret(
            problems,
            "sms.vonage.signature_secret",
            raw.signature_secret.as_ref(),
            raw.signature_secret_file.as_ref(),
        );
        let method = raw.signature_method.as_deref().unwrap_or("sha256");
        let method = VonageMethod::parse(method).or_else(|| {
            problems.push(
                "sms.vonage.signature_method",
                "sha256 or sha512 (MD5 and SHA-1 signatures are not accepted)",
            );
            None
        });
        let api_base = base_url(
            problems,
            "sms.vonage.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(VonageConfig {
            api_key: api_key?,
            api_secret: api_secret?,
            from: from?,
            entity_id: raw.entity_id.clone(),
            content_id: raw.content_id.clone(),
            api_base: api_base?,
            signature: signature_secret.zip(method),
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct VonageSender {
    cfg: VonageConfig,
    url: String,
    http: reqwest::Client,
}

impl VonageSender {
    pub fn new(cfg: VonageConfig, http: reqwest::Client) -> Self {
        let url = format!("{}/sms/json", cfg.api_base);
        VonageSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for VonageSender {
    fn name(&self) -> &'static str {
        "vonage"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let to = e164_digits(&msg.to);
        let mut form: Vec<(&str, &str)> = vec![
            ("api_key", &self.cfg.api_key),
            ("api_secret", self.cfg.api_secret.expose()),
            ("from", &self.cfg.from),
            ("to", &to),
            ("text", &msg.body),
        ];
        if !is_gsm7(&msg.body) {
            form.push(("type", "unicode"));
        }
        if let Some(id) = &self.cfg.entity_id {
            form.push(("entity-id", id));
        }
        if let Some(id) = &self.cfg.content_id {
            form.push(("content-id", id));
        }
        let request = self
            .http
            .post(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        classify(execute(request).await?)
    }
}

#[derive(Deserialize)]
struct Answer {
    messages: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    status: String,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
}

fn classify(response: ProviderResponse) -> Result<SmsReceipt, SmsError> {
    if let Some(err) = response.status_error() {
        return Err(err);
    }
    let Some(answer) = serde_json::from_slice::<Answer>(&response.body).ok() else {
        return Err(if response.status.is_success() {
            SmsError::MaybeDelivered
        } else {
            SmsError::rejected(response.status.as_str())
        });
    };
    if answer.messages.is_empty() {
        return Err(SmsError::rejected("empty"));
    }
    // A long text is split into parts; all must be accepted.
    if let Some(failed) = answer.messages.iter().find(|p| p.status != "0") {
        return Err(status_error(&failed.status));
    }
    Ok(SmsReceipt {
        provider: "vonage",
        message_id: answer.messages.into_iter().find_map(|p| p.message_id),
    })
}

/// Vonage SMS API status codes.
fn status_error(status: &str) -> SmsError {
    match status {
        // 1 throttled, 5 internal error, 10 too many binds.
        "1" => SmsError::transient(TransientKind::RateLimited),
        "5" | "10" => SmsError::transient(TransientKind::ProviderBusy),
        // 4 invalid credentials, 14 invalid signature.
        "4" | "14" => SmsError::Permanent(PermanentReason::BadCredentials),
        // 6 unroutable (unrecognised prefix), 33 number de-activated.
        "6" | "33" => SmsError::Permanent(PermanentReason::InvalidNumber),
        // 7 number barred.
        "7" => SmsError::Permanent(PermanentReason::Unsubscribed),
        // 9 quota (balance), 15 invalid sender, and the rest.
        other => SmsError::rejected(other),
    }
}
