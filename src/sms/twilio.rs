//! Twilio Programmable Messaging.
//!
//! `POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json`, HTTP
//! Basic `account_sid:auth_token` (or `api_key_sid:api_key_secret`), form
//! `To`, `From` | `MessagingServiceSid`, `Body`, optional `StatusCallback`.
//! Success is 201 with a Message resource (`sid` `SM…`); errors are JSON
//! `{code, message, more_info, status}`.

use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{
    PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind,
};
use crate::validation::{base_url, required, secret, Problems};

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilio {
    pub account_sid: Option<String>,
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<String>,
    /// Optional API key pair used for Basic auth instead of the auth token
    /// (the auth token is still needed to verify status callbacks).
    pub api_key_sid: Option<String>,
    pub api_key_secret: Option<Secret>,
    pub api_key_secret_file: Option<String>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// Public URL of `/.otpgate/sms/twilio/status`, sent as `StatusCallback`
    /// so delivery receipts reach the metrics.
    pub status_callback: Option<String>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSenderId {
    From(String),
    MessagingService(String),
}

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Verifies `X-Twilio-Signature` on callbacks; Basic auth unless an API
    /// key is configured.
    pub auth_token: Option<Secret>,
    pub api_key: Option<(String, Secret)>,
    pub sender: TwilioSenderId,
    pub status_callback: Option<String>,
    pub api_base: String,
}

impl TwilioConfig {
    pub fn validate(raw: &RawTwilio, problems: &mut Problems) -> Option<TwilioConfig> {
        let before = problems.0.len();
        let account_sid = required(problems, "sms.twilio.account_sid", raw.account_sid.as_ref());
        if let Some(sid) = &account_sid {
            if !sid.starts_with("AC") {
                problems.push(
                    "sms.twilio.account_sid",
                    "a Twilio account SID starts with AC",
                );
            }
        }
        let before_secrets = problems.0.len();
        let auth_token = secret(
            problems,
            "sms.twilio.auth_token",
            raw.auth_token.as_ref(),
            raw.auth_token_file.as_ref(),
        );
        let key_secret = secret(
            problems,
            "sms.twilio.api_key_secret",
            raw.api_key_secret.as_ref(),
            raw.api_key_secret_file.as_ref(),
        );
        let api_key = match (raw.api_key_sid.as_ref(), key_secret) {
            (Some(sid), Some(secret)) => Some((sid.clone(), secret)),
            (None, None) => None,
            (Some(_), None) => {
                problems.push("sms.twilio.api_key_secret", "missing (api_key_sid is set)");
                None
            }
            (None, Some(_)) => {
                problems.push("sms.twilio.api_key_sid", "missing (api_key_secret is set)");
                None
            }
        };
        if auth_token.is_none() && api_key.is_none() && problems.0.len() == before_secrets {
            problems.push("sms.twilio.auth_token", "missing");
        }
        let sender = match (&raw.from, &raw.messaging_service_sid) {
            (Some(from), None) => Some(TwilioSenderId::From(from.clone())),
            (None, Some(ms)) => Some(TwilioSenderId::MessagingService(ms.clone())),
            (Some(_), Some(_)) => {
                problems.push(
                    "sms.twilio.from",
                    "give from or messaging_service_sid, not both",
                );
                None
            }
            (None, None) => {
                problems.push("sms.twilio.from", "missing (or set messaging_service_sid)");
                None
            }
        };
        let status_callback = raw.status_callback.as_ref().and_then(|url| {
            base_url(problems, "sms.twilio.status_callback", Some(url), "").map(|_| url.clone())
        });
        let api_base = base_url(
            problems,
            "sms.twilio.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(TwilioConfig {
            account_sid: account_sid?,
            auth_token,
            api_key,
            sender: sender?,
            status_callback,
            api_base: api_base?,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct TwilioSender {
    cfg: TwilioConfig,
    url: String,
    http: reqwest::Client,
}

impl TwilioSender {
    pub fn new(cfg: TwilioConfig, http: reqwest::Client) -> Self {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            cfg.api_base, cfg.account_sid
        );
        TwilioSender { cfg, url, http }
    }
}

#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
}

#[async_trait::async_trait]
impl SmsSender for TwilioSender {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let mut form: Vec<(&str, &str)> = vec![("To", &msg.to)];
        match &self.cfg.sender {
            TwilioSenderId::From(from) => form.push(("From", from)),
            TwilioSenderId::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
        }
        form.push(("Body", &msg.body));
        if let Some(callback) = &self.cfg.status_callback {
            form.push(("StatusCallback", callback));
        }
        let (user, password) = match (&self.cfg.api_key, &self.cfg.auth_token) {
            (Some((sid, secret)), _) => (sid.as_str(), secret.expose()),
            (None, Some(token)) => (self.cfg.account_sid.as_str(), token.expose()),
            (None, None) => return Err(SmsError::Permanent(PermanentReason::BadCredentials)),
        };
        let request = self
            .http
            .post(&self.url)
            .basic_auth(user, Some(password))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        classify(execute(request).await?, "twilio")
    }
}

/// A Twilio REST answer (Messages or Calls): 2xx with a resource `sid`, or
/// the JSON error `{code, message, more_info, status}`. `provider` names
/// the sender in the receipt (`twilio`, `twilio_whatsapp`, `twilio_voice`).
pub(crate) fn classify(
    response: ProviderResponse,
    provider: &'static str,
) -> Result<SmsReceipt, SmsError> {
    if response.status.is_success() {
        let sid = serde_json::from_slice::<MessageResource>(&response.body)
            .ok()
            .and_then(|m| m.sid);
        return match sid {
            Some(sid) => Ok(SmsReceipt {
                provider,
                message_id: Some(sid),
            }),
            // 2xx without a readable resource: accepted, but unconfirmed.
            None => Err(SmsError::MaybeDelivered),
        };
    }
    let code = serde_json::from_slice::<TwilioError>(&response.body)
        .ok()
        .and_then(|e| e.code);
    match code {
        Some(code) => Err(error_code(code, &response)),
        None => Err(response
            .status_error()
            .unwrap_or_else(|| SmsError::rejected(response.status.as_str()))),
    }
}

/// Twilio error codes (https://www.twilio.com/docs/api/errors).
fn error_code(code: u32, response: &ProviderResponse) -> SmsError {
    match code {
        20003 | 20005 => SmsError::Permanent(PermanentReason::BadCredentials),
        20429 => SmsError::Transient {
            kind: TransientKind::RateLimited,
            retry_after: response.retry_after,
        },
        // 21211 invalid 'To', 21612 not reachable via SMS, 21614 not a mobile.
        21211 | 21612 | 21614 => SmsError::Permanent(PermanentReason::InvalidNumber),
        // 21610 the recipient replied STOP.
        21610 => SmsError::Permanent(PermanentReason::Unsubscribed),
        // WhatsApp: 63003 no WhatsApp account at the `To` address, 63024
        // invalid recipient. Calls: 21217 not a valid phone number, 13224
        // an invalid number to dial. The number cannot take this channel.
        63003 | 63024 | 21217 | 13224 => SmsError::Permanent(PermanentReason::InvalidNumber),
        // 63018 the WhatsApp sender's rate limit.
        63018 => SmsError::Transient {
            kind: TransientKind::RateLimited,
            retry_after: response.retry_after,
        },
        _ => response
            .status_error()
            .unwrap_or_else(|| SmsError::rejected(&code.to_string())),
    }
}
