//! Twilio WhatsApp: the Messages API with `whatsapp:` addresses and a
//! content template.
//!
//! `POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json`, HTTP
//! Basic `account_sid:auth_token`, form `To=whatsapp:+91…`,
//! `From=whatsapp:+1…`, `ContentSid=HX…` (a `whatsapp/authentication`
//! template, approved by WhatsApp), `ContentVariables={"1":"<code>"}`,
//! optional `StatusCallback`. Answers as for SMS (twilio.rs).

use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::http::execute;
use crate::sms::message::{SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::sms::twilio::{classify, DEFAULT_API_BASE};
use crate::validation::{base_url, required, secret, Problems};

/// A Twilio account's sid, token and API base, checked under `section`
/// (`whatsapp.twilio`, `voice.twilio`).
#[derive(Debug, Clone)]
pub struct TwilioAccount {
    pub account_sid: String,
    pub auth_token: Secret,
    pub api_base: String,
}

impl TwilioAccount {
    pub(crate) fn validate(
        problems: &mut Problems,
        section: &str,
        sid: Option<&String>,
        token: Option<&Secret>,
        token_file: Option<&String>,
        api_base: Option<&String>,
    ) -> Option<TwilioAccount> {
        let before = problems.0.len();
        let account_sid = required(problems, &format!("{section}.account_sid"), sid);
        if account_sid.as_ref().is_some_and(|s| !s.starts_with("AC")) {
            problems.push(
                format!("{section}.account_sid"),
                "a Twilio account SID starts with AC",
            );
        }
        let key = format!("{section}.auth_token");
        let auth_token = secret(problems, &key, token, token_file);
        if auth_token.is_none() && problems.0.len() == before {
            problems.push(key, "missing");
        }
        let api_base = base_url(
            problems,
            &format!("{section}.api_base"),
            api_base,
            DEFAULT_API_BASE,
        );
        Some(TwilioAccount {
            account_sid: account_sid?,
            auth_token: auth_token?,
            api_base: api_base?,
        })
        .filter(|_| problems.0.len() == before)
    }

    pub(crate) fn url(&self, resource: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.api_base, self.account_sid
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilioWhatsapp {
    pub account_sid: Option<String>,
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<String>,
    /// The WhatsApp sender, `+1…` or `whatsapp:+1…`.
    pub from: Option<String>,
    /// The `whatsapp/authentication` content template (`HX…`).
    pub content_sid: Option<String>,
    pub status_callback: Option<String>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TwilioWhatsappConfig {
    pub account: TwilioAccount,
    /// With the `whatsapp:` prefix.
    pub from: String,
    pub content_sid: String,
    pub status_callback: Option<String>,
}

impl TwilioWhatsappConfig {
    pub fn validate(raw: &RawTwilioWhatsapp, problems: &mut Problems) -> Option<Self> {
        let before = problems.0.len();
        let account = TwilioAccount::validate(
            problems,
            "whatsapp.twilio",
            raw.account_sid.as_ref(),
            raw.auth_token.as_ref(),
            raw.auth_token_file.as_ref(),
            raw.api_base.as_ref(),
        );
        let from = required(problems, "whatsapp.twilio.from", raw.from.as_ref()).map(|f| {
            if f.starts_with("whatsapp:") {
                f
            } else {
                format!("whatsapp:{f}")
            }
        });
        let content_sid = required(
            problems,
            "whatsapp.twilio.content_sid",
            raw.content_sid.as_ref(),
        );
        if content_sid.as_ref().is_some_and(|s| !s.starts_with("HX")) {
            problems.push(
                "whatsapp.twilio.content_sid",
                "a Twilio content template SID starts with HX",
            );
        }
        let status_callback = raw.status_callback.as_ref().and_then(|url| {
            base_url(problems, "whatsapp.twilio.status_callback", Some(url), "")
                .map(|_| url.clone())
        });
        Some(TwilioWhatsappConfig {
            account: account?,
            from: from?,
            content_sid: content_sid?,
            status_callback,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct TwilioWhatsappSender {
    cfg: TwilioWhatsappConfig,
    url: String,
    http: reqwest::Client,
}

impl TwilioWhatsappSender {
    pub fn new(cfg: TwilioWhatsappConfig, http: reqwest::Client) -> Self {
        let url = cfg.account.url("Messages");
        TwilioWhatsappSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for TwilioWhatsappSender {
    fn name(&self) -> &'static str {
        "twilio_whatsapp"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let to = format!("whatsapp:{}", msg.to);
        let variables = serde_json::json!({ "1": msg.code }).to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("To", &to),
            ("From", &self.cfg.from),
            ("ContentSid", &self.cfg.content_sid),
            ("ContentVariables", &variables),
        ];
        if let Some(callback) = &self.cfg.status_callback {
            form.push(("StatusCallback", callback));
        }
        let request = self
            .http
            .post(&self.url)
            .basic_auth(
                &self.cfg.account.account_sid,
                Some(self.cfg.account.auth_token.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        classify(execute(request).await?, "twilio_whatsapp")
    }
}
