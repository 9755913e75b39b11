//! MSG91 voice: a call that reads the code from a voice template.
//!
//! `POST {api_base}/api/v5/voice/call/`, header `authkey`, JSON
//! `{"template":…,"caller_id":…,"client_number":"91…","variables":
//! {"<code_var>":{"type":"text","as_digits":true,"value":CODE}}}`
//! (`as_digits`: the code is read digit by digit). Answers like MSG91's
//! other v5 APIs (whatsapp/msg91.rs), errors also under HTTP 200.

use serde::Deserialize;
use serde_json::json;

use crate::secret::Secret;
use crate::sms::http::execute;
use crate::sms::message::{e164_digits, SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::sms::msg91::{DEFAULT_API_BASE, DEFAULT_CODE_VAR};
use crate::sms::whatsapp::msg91::classify_as;
use crate::validation::{base_url, required, secret, Problems};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMsg91Voice {
    pub authkey: Option<Secret>,
    pub authkey_file: Option<String>,
    /// The voice template's name in the MSG91 panel.
    pub template: Option<String>,
    /// The number the call comes from.
    pub caller_id: Option<String>,
    /// The template variable that receives the code. Default `"otp"`.
    pub code_var: Option<String>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Msg91VoiceConfig {
    pub authkey: Secret,
    pub template: String,
    pub caller_id: String,
    pub code_var: String,
    pub api_base: String,
}

impl Msg91VoiceConfig {
    pub fn validate(raw: &RawMsg91Voice, problems: &mut Problems) -> Option<Self> {
        let before = problems.0.len();
        let authkey = secret(
            problems,
            "voice.msg91.authkey",
            raw.authkey.as_ref(),
            raw.authkey_file.as_ref(),
        );
        if authkey.is_none() && problems.0.len() == before {
            problems.push("voice.msg91.authkey", "missing");
        }
        let template = required(problems, "voice.msg91.template", raw.template.as_ref());
        let caller_id = required(problems, "voice.msg91.caller_id", raw.caller_id.as_ref());
        let code_var = raw
            .code_var
            .clone()
            .unwrap_or_else(|| DEFAULT_CODE_VAR.to_owned());
        if code_var.is_empty() {
            problems.push("voice.msg91.code_var", "must be a template variable name");
        }
        let api_base = base_url(
            problems,
            "voice.msg91.api_base",
            raw.api_base.as_ref(),
            DEFAULT_API_BASE,
        );
        Some(Msg91VoiceConfig {
            authkey: authkey?,
            template: template?,
            caller_id: caller_id?,
            code_var,
            api_base: api_base?,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct Msg91VoiceSender {
    cfg: Msg91VoiceConfig,
    url: String,
    http: reqwest::Client,
}

impl Msg91VoiceSender {
    pub fn new(cfg: Msg91VoiceConfig, http: reqwest::Client) -> Self {
        let url = format!("{}/api/v5/voice/call/", cfg.api_base);
        Msg91VoiceSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for Msg91VoiceSender {
    fn name(&self) -> &'static str {
        "msg91_voice"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let mut variables = serde_json::Map::new();
        variables.insert(
            self.cfg.code_var.clone(),
            json!({ "type": "text", "as_digits": true, "value": msg.code }),
        );
        let body = json!({
            "template": self.cfg.template,
            "caller_id": self.cfg.caller_id,
            "client_number": e164_digits(&msg.to),
            "variables": variables,
        });
        let request = self
            .http
            .post(&self.url)
            .header("authkey", self.cfg.authkey.expose())
            .json(&body);
        classify_as(execute(request).await?, "msg91_voice")
    }
}
