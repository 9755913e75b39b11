//! Channels: a code goes by SMS, WhatsApp or a voice call.
//!
//! `[channels]` says which, in what order, per region; `[whatsapp]` and
//! `[voice]` are provider chains shaped like `[sms]` (provider, fallback,
//! timeouts, retries) and run through the same [`Delivery`], so retries and
//! failover follow one rule whatever the channel (delivery.rs).
//!
//! A channel is only ever *offered*: the first one in the region's order
//! carries a new code; the others are a resend of the same code, which
//! the shopper asks for (or `auto_fallback` asks for them) once the
//! resend delay has passed or the first one is reported undelivered.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::sms::chain::{chain, ChainConfig};
use crate::sms::delivery::Delivery;
use crate::sms::http::client;
use crate::sms::message::SmsSender;
use crate::sms::metrics::SmsMetrics;
use crate::sms::voice::{RawVoice, VoiceProvider};
use crate::sms::whatsapp::{RawWhatsapp, WhatsappProvider};
use crate::validation::{did_you_mean, duration, Problems};

/// How one code reaches the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Sms,
    Whatsapp,
    Voice,
}

pub const CHANNELS: [&str; 3] = ["sms", "whatsapp", "voice"];

impl Channel {
    pub fn parse(name: &str) -> Option<Channel> {
        match name {
            "sms" => Some(Channel::Sms),
            "whatsapp" => Some(Channel::Whatsapp),
            "voice" => Some(Channel::Voice),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Voice => "voice",
        }
    }

    /// The `[limits]` budget this channel's sends are counted against
    /// (besides every per-phone, per-IP … limit, which all channels share).
    pub fn budgets(self) -> &'static [&'static str] {
        match self {
            Channel::Sms => &["sms_per_hour", "sms_per_day"],
            Channel::Whatsapp => &["whatsapp_per_hour"],
            Channel::Voice => &["voice_per_hour"],
        }
    }
}

/// `[channels]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannels {
    pub order: Option<Vec<String>>,
    /// ISO 3166 alpha-2 region → its own order, e.g. `IN = ["whatsapp", "sms"]`.
    pub regions: Option<BTreeMap<String, Vec<String>>>,
    /// No code entered and no delivery receipt this long after a send: the
    /// next channel is offered (or sent, with `auto_fallback`).
    pub fallback_after: Option<String>,
    pub auto_fallback: Option<bool>,
}

/// `[channels]`, `[whatsapp]` and `[voice]`, validated.
#[derive(Debug, Clone)]
pub struct ChannelsConfig {
    pub order: Vec<Channel>,
    pub regions: BTreeMap<String, Vec<Channel>>,
    pub fallback_after: Duration,
    pub auto_fallback: bool,
    pub whatsapp: Option<ChainConfig<WhatsappProvider>>,
    pub voice: Option<ChainConfig<VoiceProvider>>,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            order: vec![Channel::Sms],
            regions: BTreeMap::new(),
            fallback_after: Duration::from_secs(30),
            auto_fallback: false,
            whatsapp: None,
            voice: None,
        }
    }
}

impl ChannelsConfig {
    /// The channels for a number of `region`, first one first.
    pub fn order_for(&self, region: &str) -> &[Channel] {
        self.regions.get(region).unwrap_or(&self.order)
    }
}

/// Validates the three sections together: every channel an order names
/// needs its section (SMS always has one: `[sms]` is required).
pub fn validate(
    raw: &RawChannels,
    whatsapp: Option<&RawWhatsapp>,
    voice: Option<&RawVoice>,
) -> Result<ChannelsConfig, Vec<(String, String)>> {
    let mut problems = Problems::default();
    let whatsapp = whatsapp.and_then(|w| chain(w, &mut problems));
    let voice = voice.and_then(|v| chain(v, &mut problems));
    let configured = |c: Channel| match c {
        Channel::Sms => true,
        Channel::Whatsapp => whatsapp.is_some(),
        Channel::Voice => voice.is_some(),
    };
    let default_order: Vec<Channel> = [Channel::Sms, Channel::Whatsapp, Channel::Voice]
        .into_iter()
        .filter(|c| configured(*c))
        .collect();
    let list = |key: &str, names: &[String], problems: &mut Problems| -> Vec<Channel> {
        let mut out = Vec::new();
        if names.is_empty() {
            problems.push(key, "name at least one channel (sms, whatsapp, voice)");
        }
        for (i, name) in names.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let Some(c) = Channel::parse(name) else {
                let hint = did_you_mean(name, &CHANNELS)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                problems.push(
                    at,
                    format!("unknown channel \"{name}\" (sms, whatsapp or voice){hint}"),
                );
                continue;
            };
            if out.contains(&c) {
                problems.push(at, format!("channel \"{name}\" is listed twice"));
            } else if !configured(c) {
                problems.push(
                    at,
                    format!("channel \"{name}\" has no provider: add a [{name}] table with provider = …"),
                );
            } else {
                out.push(c);
            }
        }
        out
    };
    let order = match &raw.order {
        Some(names) => list("channels.order", names, &mut problems),
        None => default_order,
    };
    let mut regions = BTreeMap::new();
    for (region, names) in raw.regions.iter().flatten() {
        let key = format!("channels.regions.{region}");
        if region.len() != 2 || !region.chars().all(|c| c.is_ascii_uppercase()) {
            problems.push(&key, "a region is an ISO 3166 alpha-2 code such as IN");
            continue;
        }
        regions.insert(region.clone(), list(&key, names, &mut problems));
    }
    let fallback_after = duration(
        &mut problems,
        "channels.fallback_after",
        raw.fallback_after.as_deref(),
    )
    .unwrap_or(Duration::from_secs(30));
    if problems.0.is_empty() {
        Ok(ChannelsConfig {
            order,
            regions,
            fallback_after,
            auto_fallback: raw.auto_fallback.unwrap_or(false),
            whatsapp,
            voice,
        })
    } else {
        Err(problems.0)
    }
}

/// The WhatsApp and voice chains, built; SMS stays `FlowCtx::sms`.
pub struct ChannelSet {
    pub cfg: ChannelsConfig,
    whatsapp: Option<Delivery>,
    voice: Option<Delivery>,
}

impl ChannelSet {
    /// Senders share the SMS metrics (their names, `meta_whatsapp`,
    /// `twilio_voice`, …, keep the series apart).
    pub fn build(cfg: &ChannelsConfig, metrics: Arc<SmsMetrics>) -> ChannelSet {
        let whatsapp = cfg.whatsapp.as_ref().map(|c| {
            let http = client(c.policy.timeouts);
            let chain: Vec<Arc<dyn SmsSender>> =
                c.chain.iter().map(|p| p.sender(http.clone())).collect();
            Delivery::new(chain, c.policy, metrics.clone())
        });
        let voice = cfg.voice.as_ref().map(|c| {
            let http = client(c.policy.timeouts);
            let chain: Vec<Arc<dyn SmsSender>> =
                c.chain.iter().map(|p| p.sender(http.clone())).collect();
            Delivery::new(chain, c.policy, metrics.clone())
        });
        ChannelSet {
            cfg: cfg.clone(),
            whatsapp,
            voice,
        }
    }

    /// The chain of a non-SMS channel; `None` for SMS or one not configured.
    pub fn delivery(&self, channel: Channel) -> Option<&Delivery> {
        match channel {
            Channel::Sms => None,
            Channel::Whatsapp => self.whatsapp.as_ref(),
            Channel::Voice => self.voice.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{validate, Channel, RawChannels};

    #[test]
    fn orders_name_only_configured_channels() {
        let raw = RawChannels {
            order: Some(vec!["sms".into(), "voice".into(), "fax".into()]),
            ..RawChannels::default()
        };
        let err = validate(&raw, None, None).unwrap_err();
        let keys: Vec<&str> = err.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["channels.order[1]", "channels.order[2]"], "{err:?}");
        assert!(err[0].1.contains("[voice]"), "{err:?}");
    }

    #[test]
    fn the_default_is_sms_alone() {
        let cfg = validate(&RawChannels::default(), None, None).unwrap();
        assert_eq!(cfg.order_for("IN"), [Channel::Sms]);
    }
}
