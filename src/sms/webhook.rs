//! `provider = "webhook"`: a generic HTTP POST for any gateway otpgate does
//! not speak natively (Fast2SMS, Textlocal, Gupshup, an in-house service).
//!
//! ```toml
//! [sms.webhook]
//! url = "https://sms.example.net/send"
//! content_type = "json"                 # "json" (default) or "form"
//! body = '{"to":"{to}","text":"{body}"}'  # placeholders below
//! headers = { Authorization = "Bearer ${SMS_TOKEN}" }   # values are secrets
//! success_field = "status"              # optional JSON check on the answer,
//! success_value = "ok"                  # both or neither
//! ```
//! Placeholders: `{to}` (E.164 with `+`), `{to_digits}` (without `+`),
//! `{region}`, `{body}`, `{code}`. Each value is JSON-string-escaped for
//! `json` (write the quotes in the template) and percent-encoded for `form`.
//! Success is a 2xx answer and, when `success_field` is set, the answer's
//! JSON field (dotted path, array indexes as numbers: `messages.0.status`)
//! equal to `success_value` (strings compared as is, numbers and booleans
//! by their JSON text).

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Deserialize;

use crate::secret::Secret;
use crate::sms::http::{execute, ProviderResponse};
use crate::sms::message::{e164_digits, SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::validation::{base_url, secret, Problems};

const PLACEHOLDERS: [&str; 5] = ["to", "to_digits", "region", "body", "code"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, Secret>>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub success_field: Option<String>,
    pub success_value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Json,
    Form,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// Header values may hold credentials, so they stay [`Secret`]s.
    pub headers: Vec<(HeaderName, Secret)>,
    pub body: String,
    pub encoding: BodyEncoding,
    pub success: Option<(String, String)>,
}

impl WebhookConfig {
    pub fn validate(raw: &RawWebhook, problems: &mut Problems) -> Option<WebhookConfig> {
        let before = problems.0.len();
        let url = match &raw.url {
            Some(url) => base_url(problems, "sms.webhook.url", Some(url), "").map(|_| url.clone()),
            None => {
                problems.push("sms.webhook.url", "missing");
                None
            }
        };
        let encoding = match raw.content_type.as_deref() {
            None | Some("json" | "application/json") => BodyEncoding::Json,
            Some("form" | "application/x-www-form-urlencoded") => BodyEncoding::Form,
            Some(other) => {
                problems.push(
                    "sms.webhook.content_type",
                    format!("\"{other}\" is neither \"json\" nor \"form\""),
                );
                BodyEncoding::Json
            }
        };
        let body = raw.body.clone().unwrap_or_else(|| match encoding {
            BodyEncoding::Json => r#"{"to":"{to}","body":"{body}"}"#.to_owned(),
            BodyEncoding::Form => "to={to}&body={body}".to_owned(),
        });
        check_template(&body, encoding, problems);
        let mut headers = Vec::new();
        for (name, value) in raw.headers.iter().flatten() {
            let key = format!("sms.webhook.headers.{name}");
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                problems.push(key, "not a valid header name");
                continue;
            };
            let Some(value) = secret(problems, &key, Some(value), None) else {
                continue;
            };
            if HeaderValue::from_str(value.expose()).is_err() {
                problems.push(key, "not a valid header value");
                continue;
            }
            headers.push((header, value));
        }
        let success = match (&raw.success_field, &raw.success_value) {
            (Some(field), Some(value)) => Some((field.clone(), value.clone())),
            (None, None) => None,
            (Some(_), None) => {
                problems.push(
                    "sms.webhook.success_value",
                    "missing (success_field is set)",
                );
                None
            }
            (None, Some(_)) => {
                problems.push(
                    "sms.webhook.success_field",
                    "missing (success_value is set)",
                );
                None
            }
        };
        Some(WebhookConfig {
            url: url?,
            headers,
            body,
            encoding,
            success,
        })
        .filter(|_| problems.0.len() == before)
    }
}

/// Unknown placeholders are errors, and a JSON template must render to JSON.
fn check_template(body: &str, encoding: BodyEncoding, problems: &mut Problems) {
    for name in placeholders(body) {
        if !PLACEHOLDERS.contains(&name) {
            problems.push(
                "sms.webhook.body",
                format!(
                    "unknown placeholder {{{name}}}; known: {}",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
                ),
            );
        }
    }
    let sample = render(body, encoding, |_| "+10 \"x\"\n&=".to_owned());
    if encoding == BodyEncoding::Json && serde_json::from_str::<serde_json::Value>(&sample).is_err()
    {
        problems.push(
            "sms.webhook.body",
            "does not render to JSON; placeholders must sit inside quotes, e.g. \"{body}\"",
        );
    }
}

/// `{name}` where name is lower-case letters and `_`; other braces (JSON's)
/// are text.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| {
        let end = rest.find('}')?;
        let name = &rest[..end];
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .then_some(name)
    })
}

fn render(template: &str, encoding: BodyEncoding, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let name = after.find('}').map(|end| &after[..end]);
        match name.filter(|n| PLACEHOLDERS.contains(n)) {
            Some(name) => {
                let raw = value(name);
                match encoding {
                    BodyEncoding::Json => {
                        let quoted = serde_json::Value::String(raw).to_string();
                        out.push_str(&quoted[1..quoted.len() - 1]);
                    }
                    BodyEncoding::Form => {
                        out.extend(form_urlencoded::byte_serialize(raw.as_bytes()))
                    }
                }
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub struct WebhookSender {
    cfg: WebhookConfig,
    headers: HeaderMap,
    http: reqwest::Client,
}

impl WebhookSender {
    pub fn new(cfg: WebhookConfig, http: reqwest::Client) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(match cfg.encoding {
                BodyEncoding::Json => "application/json",
                BodyEncoding::Form => "application/x-www-form-urlencoded",
            }),
        );
        for (name, value) in &cfg.headers {
            // Checked in `validate`; a config built by hand that slips an
            // invalid value through just loses that header.
            if let Ok(mut value) = HeaderValue::from_str(value.expose()) {
                value.set_sensitive(true);
                headers.insert(name.clone(), value);
            }
        }
        WebhookSender { cfg, headers, http }
    }

    pub fn render_body(&self, msg: &SmsMessage) -> String {
        render(&self.cfg.body, self.cfg.encoding, |name| match name {
            "to" => msg.to.clone(),
            "to_digits" => e164_digits(&msg.to),
            "region" => msg.region.clone(),
            "body" => msg.body.clone(),
            _ => msg.code.clone(),
        })
    }
}

#[async_trait::async_trait]
impl SmsSender for WebhookSender {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let request = self
            .http
            .post(&self.cfg.url)
            .headers(self.headers.clone())
            .body(self.render_body(msg));
        classify(execute(request).await?, self.cfg.success.as_ref())
    }
}

fn classify(
    response: ProviderResponse,
    success: Option<&(String, String)>,
) -> Result<SmsReceipt, SmsError> {
    if let Some(err) = response.status_error() {
        return Err(err);
    }
    if !response.status.is_success() {
        return Err(SmsError::rejected(response.status.as_str()));
    }
    let json = response.json();
    if let Some((field, expected)) = success {
        let found = json.as_ref().and_then(|j| lookup(j, field));
        let ok = match found {
            Some(serde_json::Value::String(s)) => s == expected,
            // `"true"` matches `true`, `"0"` matches `0`.
            Some(other) => {
                serde_json::from_str::<serde_json::Value>(expected)
                    .ok()
                    .as_ref()
                    == Some(other)
            }
            None => false,
        };
        if !ok {
            return Err(SmsError::rejected("field"));
        }
    }
    let message_id = json.as_ref().and_then(|j| {
        ["id", "message_id", "messageId", "request_id"]
            .iter()
            .find_map(|k| j.get(k).and_then(|v| v.as_str()).map(str::to_owned))
    });
    Ok(SmsReceipt {
        provider: "webhook",
        message_id,
    })
}

fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |node, part| match node {
        serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        other => other.get(part),
    })
}

#[cfg(test)]
mod tests {
    use super::{lookup, placeholders, render, BodyEncoding};

    #[test]
    fn json_values_are_escaped_and_form_values_encoded() {
        let value = |name: &str| match name {
            "body" => "say \"hi\"\n& 100% +".to_owned(),
            _ => "+919812345678".to_owned(),
        };
        let json = render(r#"{"to":"{to}","m":"{body}"}"#, BodyEncoding::Json, value);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["m"], "say \"hi\"\n& 100% +");
        let form = render("to={to}&m={body}", BodyEncoding::Form, value);
        assert_eq!(form, "to=%2B919812345678&m=say+%22hi%22%0A%26+100%25+%2B");
    }

    #[test]
    fn only_lowercase_names_are_placeholders() {
        let names: Vec<&str> = placeholders(r#"{"a":{"b":"{code}"},"c":"{Foo}"}"#).collect();
        assert_eq!(names, ["code"]);
    }

    #[test]
    fn success_field_paths_walk_objects_and_arrays() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"messages":[{"status":"0"}],"ok":true}"#).unwrap();
        assert_eq!(lookup(&v, "messages.0.status").unwrap(), "0");
        assert_eq!(lookup(&v, "ok").unwrap(), true);
        assert!(lookup(&v, "messages.1.status").is_none());
    }
}
