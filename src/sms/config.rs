//! `[sms]` configuration: raw serde tables, validated [`SmsConfig`], and the
//! India DLT [`warnings`] that `check-config` prints.
//!
//! Each provider module owns its raw table and its validation (`twilio.rs`
//! has `RawTwilio` → `TwilioConfig`); this file holds the `[sms]` table, the
//! shared checks, and the chain `provider` + `fallback`.

use serde::Deserialize;

use crate::sms::dlt::registered::{DltConfig, RawDlt};
use crate::sms::file::{FileConfig, RawFile};
use crate::sms::http::CallTimeouts;
use crate::sms::msg91::{Msg91Config, RawMsg91};
use crate::sms::retry::RetryPolicy;
use crate::sms::skip::{RawSkipSlow, SkipRule};
use crate::sms::twilio::{RawTwilio, TwilioConfig};
use crate::sms::vonage::{RawVonage, VonageConfig};
use crate::sms::webhook::{RawWebhook, WebhookConfig};
use crate::validation::{did_you_mean, duration, Problems};

/// Every provider name `provider` and `fallback` accept.
pub const PROVIDERS: [&str; 6] = ["console", "file", "webhook", "twilio", "msg91", "vonage"];

pub use crate::secret::Secret;

/// The `[sms]` table as written. Provider tables are only checked when their
/// provider is in the chain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmsConfig {
    pub provider: Option<String>,
    pub fallback: Option<Vec<String>>,
    /// Per provider call, connect to last byte. Default `"5s"`.
    pub timeout: Option<String>,
    /// TCP/TLS connect, at most `timeout`. Default `"2s"`.
    pub connect_timeout: Option<String>,
    /// The shopper's whole wait, all retries and fallbacks. Default `"10s"`.
    pub budget: Option<String>,
    /// Extra attempts on one provider after transient failures. Default 2.
    pub max_retries: Option<u32>,
    pub twilio: Option<RawTwilio>,
    pub msg91: Option<RawMsg91>,
    pub vonage: Option<RawVonage>,
    pub webhook: Option<RawWebhook>,
    pub file: Option<RawFile>,
    /// India's registered DLT content templates (sms/dlt.rs).
    pub dlt: Option<RawDlt>,
    /// Routing by measured delivery (sms/skip.rs); off when absent.
    pub skip_slow: Option<RawSkipSlow>,
}

/// A validated `[sms]` table.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `provider` first, then `fallback` in order; never empty.
    pub chain: Vec<ProviderConfig>,
    pub policy: RetryPolicy,
    /// `[sms.dlt]`: what the pre-flight compares the SMS texts with.
    pub dlt: Option<DltConfig>,
    /// `skip_slow`: move a slow provider to the end of the chain.
    pub skip_slow: Option<SkipRule>,
}

#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Console,
    File(FileConfig),
    Webhook(WebhookConfig),
    Twilio(TwilioConfig),
    Msg91(Msg91Config),
    Vonage(VonageConfig),
}

impl ProviderConfig {
    pub fn name(&self) -> &'static str {
        match self {
            ProviderConfig::Console => "console",
            ProviderConfig::File(_) => "file",
            ProviderConfig::Webhook(_) => "webhook",
            ProviderConfig::Twilio(_) => "twilio",
            ProviderConfig::Msg91(_) => "msg91",
            ProviderConfig::Vonage(_) => "vonage",
        }
    }
}

/// Validates `[sms]`, reporting every problem at once (`sms.twilio.auth_token`
/// style keys). Secrets given as `"${VAR}"` or through `*_file` are resolved
/// here too, which is a no-op when the caller already resolved them.
pub fn validate(raw: &RawSmsConfig) -> Result<SmsConfig, Vec<(String, String)>> {
    let mut problems = Problems::default();
    let policy = chain_policy(
        "sms",
        [
            raw.timeout.as_deref(),
            raw.connect_timeout.as_deref(),
            raw.budget.as_deref(),
        ],
        raw.max_retries,
        &mut problems,
    );

    let names = chain_names(
        "sms",
        raw.provider.as_deref(),
        raw.fallback.as_ref(),
        &PROVIDERS,
        &mut problems,
    );
    let mut chain = Vec::new();
    for (key, name) in names {
        if let Some(provider) = provider(raw, name, &key, &mut problems) {
            chain.push(provider);
        }
    }

    let dlt = raw
        .dlt
        .as_ref()
        .and_then(|d| DltConfig::validate(d, &mut problems));

    let skip_slow = raw
        .skip_slow
        .as_ref()
        .and_then(|r| SkipRule::validate(r, &mut problems));

    if problems.0.is_empty() {
        Ok(SmsConfig {
            chain,
            policy,
            dlt,
            skip_slow,
        })
    } else {
        Err(problems.0)
    }
}

fn provider(
    raw: &RawSmsConfig,
    name: &str,
    used_at: &str,
    problems: &mut Problems,
) -> Option<ProviderConfig> {
    fn table<'a, T>(
        table: Option<&'a T>,
        name: &str,
        used_at: &str,
        problems: &mut Problems,
    ) -> Option<&'a T> {
        if table.is_none() {
            problems.push(
                format!("sms.{name}"),
                format!("{used_at} names \"{name}\" but there is no [sms.{name}] table"),
            );
        }
        table
    }
    match name {
        "console" => Some(ProviderConfig::Console),
        "file" => table(raw.file.as_ref(), name, used_at, problems)
            .and_then(|t| FileConfig::validate(t, problems))
            .map(ProviderConfig::File),
        "webhook" => table(raw.webhook.as_ref(), name, used_at, problems)
            .and_then(|t| WebhookConfig::validate(t, problems))
            .map(ProviderConfig::Webhook),
        "twilio" => table(raw.twilio.as_ref(), name, used_at, problems)
            .and_then(|t| TwilioConfig::validate(t, problems))
            .map(ProviderConfig::Twilio),
        "msg91" => table(raw.msg91.as_ref(), name, used_at, problems)
            .and_then(|t| Msg91Config::validate(t, problems))
            .map(ProviderConfig::Msg91),
        "vonage" => table(raw.vonage.as_ref(), name, used_at, problems)
            .and_then(|t| VonageConfig::validate(t, problems))
            .map(ProviderConfig::Vonage),
        _ => None,
    }
}

/// The retry policy of one channel's chain (`[sms]`, `[whatsapp]`,
/// `[voice]`): `times` is `timeout`, `connect_timeout`, `budget` as written.
pub(crate) fn chain_policy(
    section: &str,
    times: [Option<&str>; 3],
    max_retries: Option<u32>,
    problems: &mut Problems,
) -> RetryPolicy {
    let [timeout, connect_timeout, budget] = times;
    let defaults = RetryPolicy::default();
    let total = duration(problems, &format!("{section}.timeout"), timeout)
        .unwrap_or(defaults.timeouts.total);
    let connect_key = format!("{section}.connect_timeout");
    let mut connect =
        duration(problems, &connect_key, connect_timeout).unwrap_or(defaults.timeouts.connect);
    if connect_timeout.is_none() {
        connect = connect.min(total);
    } else if connect > total {
        problems.push(
            connect_key,
            format!("must not be longer than {section}.timeout"),
        );
    }
    let budget_key = format!("{section}.budget");
    let budget = duration(problems, &budget_key, budget).unwrap_or(defaults.budget);
    if budget < total {
        problems.push(
            budget_key,
            format!("must be at least {section}.timeout, or no call could finish"),
        );
    }
    let max_retries = max_retries.unwrap_or(defaults.max_retries);
    if max_retries > 10 {
        problems.push(format!("{section}.max_retries"), "at most 10");
    }
    RetryPolicy {
        max_retries,
        budget,
        timeouts: CallTimeouts { connect, total },
        ..defaults
    }
}

/// `provider` then `fallback` of one channel's chain, each checked against
/// `known` (unknown: a suggestion; twice: an error). Returns the key each
/// name was written at, with the name.
pub(crate) fn chain_names<'a>(
    section: &str,
    provider: Option<&'a str>,
    fallback: Option<&'a Vec<String>>,
    known: &[&str],
    problems: &mut Problems,
) -> Vec<(String, &'a str)> {
    let mut names: Vec<(String, &str)> = Vec::new();
    match provider {
        Some(name) => names.push((format!("{section}.provider"), name)),
        None => problems.push(
            format!("{section}.provider"),
            format!("missing; one of {}", known.join(", ")),
        ),
    }
    for (i, name) in fallback.into_iter().flatten().enumerate() {
        names.push((format!("{section}.fallback[{i}]"), name));
    }
    let mut seen: Vec<&str> = Vec::new();
    names.retain(|(key, name)| {
        if !known.contains(name) {
            let hint = did_you_mean(name, known)
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            problems.push(
                key.clone(),
                format!(
                    "unknown provider \"{name}\" (one of {}){hint}",
                    known.join(", ")
                ),
            );
            return false;
        }
        if seen.contains(name) {
            problems.push(
                key.clone(),
                format!("provider \"{name}\" is already in the chain"),
            );
            return false;
        }
        seen.push(name);
        true
    });
    names
}
