//! Twilio Programmable Voice: a call that reads the code.
//!
//! `POST {api_base}/2010-04-01/Accounts/{account_sid}/Calls.json`, HTTP
//! Basic, form `To`, `From`, `Twiml` (inline: no URL for Twilio to fetch,
//! so no second public endpoint), optional `StatusCallback`. Success is 201
//! with a Call resource (`sid` `CA…`); errors are Twilio's JSON errors.
//!
//! The TwiML says the digits one by one with a pause between them (a
//! code read as "one hundred twenty-three thousand…" is useless), twice,
//! in the shopper's language where Twilio's voices speak it.

use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::http::execute;
use crate::sms::message::{SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::sms::twilio::classify;
use crate::sms::whatsapp::twilio::TwilioAccount;
use crate::validation::{base_url, required, Problems};

/// Amazon Polly's Aditi speaks Hindi and Indian English (Twilio `<Say>`).
pub const INDIAN_VOICE: &str = "Polly.Aditi";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilioVoice {
    pub account_sid: Option<String>,
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<String>,
    /// A Twilio voice number or verified caller id, E.164.
    pub from: Option<String>,
    /// `<Say voice>`; default Polly.Aditi for hi-IN and en-IN, else Twilio's.
    pub voice: Option<String>,
    pub status_callback: Option<String>,
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TwilioVoiceConfig {
    pub account: TwilioAccount,
    pub from: String,
    pub voice: Option<String>,
    pub status_callback: Option<String>,
}

impl TwilioVoiceConfig {
    pub fn validate(raw: &RawTwilioVoice, problems: &mut Problems) -> Option<Self> {
        let before = problems.0.len();
        let account = TwilioAccount::validate(
            problems,
            "voice.twilio",
            raw.account_sid.as_ref(),
            raw.auth_token.as_ref(),
            raw.auth_token_file.as_ref(),
            raw.api_base.as_ref(),
        );
        let from = required(problems, "voice.twilio.from", raw.from.as_ref());
        if from.as_ref().is_some_and(|f| !f.starts_with('+')) {
            problems.push("voice.twilio.from", "an E.164 number such as +14155550100");
        }
        let status_callback = raw.status_callback.as_ref().and_then(|url| {
            base_url(problems, "voice.twilio.status_callback", Some(url), "").map(|_| url.clone())
        });
        Some(TwilioVoiceConfig {
            account: account?,
            from: from?,
            voice: raw.voice.clone(),
            status_callback,
        })
        .filter(|_| problems.0.len() == before)
    }
}

pub struct TwilioVoiceSender {
    cfg: TwilioVoiceConfig,
    url: String,
    http: reqwest::Client,
}

impl TwilioVoiceSender {
    pub fn new(cfg: TwilioVoiceConfig, http: reqwest::Client) -> Self {
        let url = cfg.account.url("Calls");
        TwilioVoiceSender { cfg, url, http }
    }
}

#[async_trait::async_trait]
impl SmsSender for TwilioVoiceSender {
    fn name(&self) -> &'static str {
        "twilio_voice"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let twiml = twiml(&msg.code, &msg.lang, &msg.region, self.cfg.voice.as_deref());
        let mut form: Vec<(&str, &str)> =
            vec![("To", &msg.to), ("From", &self.cfg.from), ("Twiml", &twiml)];
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
        classify(execute(request).await?, "twilio_voice")
    }
}

/// The `<Say language>` for a page language and the number's region:
/// Hindi is hi-IN; English takes the region's accent where Twilio has one.
pub fn language(lang: &str, region: &str) -> &'static str {
    match (lang, region) {
        ("hi", _) => "hi-IN",
        (_, "IN") => "en-IN",
        (_, "GB") => "en-GB",
        (_, "AU") => "en-AU",
        _ => "en-US",
    }
}

/// The call's TwiML: an intro, then the digits apart, said twice.
pub fn twiml(code: &str, lang: &str, region: &str, voice: Option<&str>) -> String {
    let language = language(lang, region);
    let voice = voice.or(matches!(language, "hi-IN" | "en-IN").then_some(INDIAN_VOICE));
    let (intro, again) = match language {
        "hi-IN" => ("आपका कोड है", "फिर से"),
        _ => ("Your code is", "Again"),
    };
    // Digits only (the code is generated digits): nothing to escape, and
    // ", " makes every voice pause between them.
    let digits: Vec<String> = code
        .chars()
        .filter(char::is_ascii_digit)
        .map(String::from)
        .collect();
    let digits = digits.join(", ");
    let attrs = match voice {
        Some(v) => format!(" language=\"{language}\" voice=\"{}\"", xml_attr(v)),
        None => format!(" language=\"{language}\""),
    };
    format!(
        "<Response><Say{attrs}>{intro}: {digits}.</Say><Pause length=\"1\"/><Say{attrs}>{again}: {digits}.</Say></Response>"
    )
}

fn xml_attr(v: &str) -> String {
    v.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::twiml;

    #[test]
    fn digits_apart_twice_in_hindi() {
        let t = twiml("042917", "hi", "IN", None);
        assert_eq!(t.matches("0, 4, 2, 9, 1, 7").count(), 2, "{t}");
        assert!(
            t.contains("language=\"hi-IN\" voice=\"Polly.Aditi\""),
            "{t}"
        );
        let us = twiml("1234", "en", "US", None);
        assert!(us.contains("language=\"en-US\">"), "{us}");
    }
}
