//! Delivery, measured: how long a code takes to arrive and to be entered,
//! per provider × channel × country × operator prefix, and what became of
//! each send. The flow feeds it (flow/measure.rs); the receipt endpoints
//! reach it through [`SmsMetrics`](crate::sms::SmsMetrics).
//!
//! Label cardinality is bounded by construction: labels are taken from
//! *our own* sends (never from a receipt's `To`), the country is an ISO
//! region, and the operator prefix is a fixed number of digits after the
//! calling code ([`operator_prefix`]): 4 for India (the operator/circle
//! series), 2 elsewhere. The phone number itself is never a label.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::clock::{Clock, SystemClock};
use crate::sms::skip::{SkipRule, Skipped, DEFAULT_WINDOW};
use crate::sms::window::Window;

/// Where one send went: the labels of every delivery series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub provider: String,
    pub channel: String,
    pub country: String,
    pub prefix: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub provider: String,
    pub channel: String,
    pub country: String,
    pub prefix: String,
    /// `delivered`, `failed` or `expired`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    pub provider: String,
}

/// The country (ISO region, from libphonenumber's metadata) and operator
/// prefix of an E.164 number: the national number's first 4 digits in
/// India (the operator series), 2 elsewhere. `unknown` and no prefix for
/// what does not parse (otpgate only sends to parsed numbers).
pub fn operator_prefix(e164: &str) -> (String, String) {
    let Ok(number) = phonenumber::parse(None, e164) else {
        return ("unknown".into(), String::new());
    };
    let Some(region) = number.country().id() else {
        return ("unknown".into(), String::new());
    };
    let region = format!("{region:?}");
    let len = if region == "IN" { 4 } else { 2 };
    let national = number.national().value().to_string();
    let prefix = national.chars().take(len).collect();
    (region, prefix)
}

fn seconds_histogram() -> Histogram {
    // Receipts and typed codes take seconds to minutes (a grey route
    // 15–60 s); the OTP lives minutes.
    Histogram::new(crate::sms::window::BOUNDS.into_iter())
}

/// A send still waiting to be verified, to count `expired` once.
pub struct Pending {
    pub challenge: String,
    pub sent_at: u64,
    /// When the challenge ends: `sent_at + otp.ttl`.
    pub deadline: u64,
}

/// More pending sends than this (per instance) are not followed to
/// their expiry: memory stays bounded under a flood of sends.
pub const MAX_PENDING: usize = 100_000;

pub struct DeliveryStats {
    pub receipt_seconds: Family<SendLabels, Histogram, fn() -> Histogram>,
    pub verify_seconds: Family<SendLabels, Histogram, fn() -> Histogram>,
    pub outcomes: Family<OutcomeLabels, Counter>,
    pub sent: Family<SendLabels, Counter>,
    pub verified: Family<SendLabels, Counter>,
    pub p95: Family<ProviderLabel, Gauge<f64, AtomicU64>>,
    pub skipped_gauge: Family<ProviderLabel, Gauge>,
    pub window: Mutex<Window>,
    pub skipped: Mutex<Skipped>,
    pub pending: Mutex<VecDeque<Pending>>,
    pub clock: Arc<dyn Clock>,
}

impl DeliveryStats {
    pub fn new(clock: Arc<dyn Clock>, window: Option<SkipRule>) -> Self {
        let span = window.map_or(DEFAULT_WINDOW, |r| r.window);
        DeliveryStats {
            receipt_seconds: Family::new_with_constructor(seconds_histogram),
            verify_seconds: Family::new_with_constructor(seconds_histogram),
            outcomes: Family::default(),
            sent: Family::default(),
            verified: Family::default(),
            p95: Family::default(),
            skipped_gauge: Family::default(),
            window: Mutex::new(Window::new(span)),
            skipped: Mutex::new(Skipped::default()),
            pending: Mutex::new(VecDeque::new()),
            clock,
        }
    }

    pub fn system() -> Self {
        Self::new(Arc::new(SystemClock), None)
    }

    pub fn outcome(&self, l: &SendLabels, outcome: &'static str) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                provider: l.provider.clone(),
                channel: l.channel.clone(),
                country: l.country.clone(),
                prefix: l.prefix.clone(),
                outcome,
            })
            .inc();
    }

    /// Recomputes every provider's p95 gauge from the window (an idle
    /// provider's gauge falls to 0 as its minutes leave the window).
    pub fn refresh_p95(&self, now_ms: u64) {
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        for p in window.providers() {
            let p95 = window.measured(p, now_ms).p95.unwrap_or(0.0);
            self.p95
                .get_or_create(&ProviderLabel {
                    provider: p.to_owned(),
                })
                .set(p95);
        }
    }

    /// The order of `chain` for the next send under `rule` (skip.rs),
    /// logging and publishing each change.
    pub fn order(&self, rule: &SkipRule, chain: &[&'static str]) -> Vec<usize> {
        let now = self.clock.now_ms();
        let mut changes = Vec::new();
        let order = {
            let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
            let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
            skipped.order(rule, &window, chain, now, &mut changes)
        };
        for c in changes {
            let label = ProviderLabel {
                provider: c.provider.to_owned(),
            };
            self.skipped_gauge
                .get_or_create(&label)
                .set(i64::from(c.skipped));
            if c.skipped {
                tracing::warn!(
                    provider = c.provider,
                    "sms: provider slow, moved to the end of its chain"
                );
            } else {
                tracing::info!(
                    provider = c.provider,
                    "sms: provider recovered, back in its place"
                );
            }
        }
        order
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "otpgate_delivery_receipt_seconds",
            "Send to delivery receipt, by provider, channel, country, operator prefix",
            self.receipt_seconds.clone(),
        );
        registry.register(
            "otpgate_delivery_verify_seconds",
            "Send to code entered correctly",
            self.verify_seconds.clone(),
        );
        registry.register(
            "otpgate_deliveries",
            "What became of each send: delivered, failed (receipts) or expired (never verified, no delivered receipt)",
            self.outcomes.clone(),
        );
        registry.register(
            "otpgate_delivery_sent",
            "Codes sent; rate(verified) / rate(sent) is the conversion",
            self.sent.clone(),
        );
        registry.register(
            "otpgate_delivery_verified",
            "Codes entered correctly, by the send they came by",
            self.verified.clone(),
        );
        registry.register(
            "otpgate_delivery_p95_seconds",
            "p95 of send to receipt (or to code entered, without receipts) over the window",
            self.p95.clone(),
        );
        registry.register(
            "otpgate_provider_skipped",
            "1 while [sms] skip_slow moves the provider to the end of its chain",
            self.skipped_gauge.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::operator_prefix;

    #[test]
    fn prefix_is_fixed_length_after_the_calling_code() {
        let p = |e164| operator_prefix(e164);
        assert_eq!(p("+919812345678"), ("IN".into(), "9812".into()));
        assert_eq!(p("+447400123456"), ("GB".into(), "74".into()));
        // A three-digit calling code is not part of the prefix.
        assert_eq!(p("+971501234567"), ("AE".into(), "50".into()));
        assert_eq!(p("+14158675309"), ("US".into(), "41".into()));
        assert_eq!(p("garbage"), ("unknown".into(), "".into()));
    }
}
