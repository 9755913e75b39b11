//! Prometheus families for SMS delivery. One [`SmsMetrics`] is shared (in an
//! `Arc`) by the [`Delivery`](crate::sms::Delivery) and the receipt endpoint.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::sms::measure::DeliveryStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub provider: String,
    /// [`SmsError::metric_reason`](crate::sms::SmsError::metric_reason).
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FallbackLabels {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiptLabels {
    pub provider: String,
    pub country: String,
    /// `delivered`, `failed` or `undelivered`.
    pub status: String,
}

fn latency_histogram() -> Histogram {
    // 50 ms .. ~25 s: provider calls are bounded by the per-call timeout.
    Histogram::new(exponential_buckets(0.05, 2.0, 10))
}

/// Counters are per attempt except `sent_total`, which counts messages a
/// provider accepted (at most one per [`Delivery::send`](crate::sms::Delivery::send)).
#[derive(Clone)]
pub struct SmsMetrics {
    pub sent: Family<ProviderLabels, Counter>,
    pub failed: Family<FailureLabels, Counter>,
    pub retried: Family<ProviderLabels, Counter>,
    pub fallback: Family<FallbackLabels, Counter>,
    pub latency: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    pub receipts: Family<ReceiptLabels, Counter>,
    /// Send → receipt/verify times, outcomes, the p95 window (measure.rs).
    pub delivery: Arc<DeliveryStats>,
}

impl Default for SmsMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SmsMetrics {
    pub fn new() -> Self {
        Self::with_delivery(Arc::new(DeliveryStats::system()))
    }

    /// With delivery measurements on the gateway's clock.
    pub fn with_delivery(delivery: Arc<DeliveryStats>) -> Self {
        SmsMetrics {
            sent: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            fallback: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            receipts: Family::default(),
            delivery,
        }
    }

    /// Registers every family; counter names get `_total` from the encoder.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "otpgate_sms_sent",
            "SMS accepted by a provider",
            self.sent.clone(),
        );
        registry.register(
            "otpgate_sms_failed",
            "Failed provider attempts, by reason",
            self.failed.clone(),
        );
        registry.register(
            "otpgate_sms_retried",
            "Attempts repeated on the same provider after a transient failure",
            self.retried.clone(),
        );
        registry.register(
            "otpgate_sms_fallback",
            "Messages handed from one provider to the next",
            self.fallback.clone(),
        );
        registry.register(
            "otpgate_sms_latency_seconds",
            "Duration of one provider attempt",
            self.latency.clone(),
        );
        registry.register(
            "otpgate_sms_delivery_receipts",
            "Delivery receipts (status callbacks) received",
            self.receipts.clone(),
        );
        self.delivery.register(registry);
    }

    pub(crate) fn provider(name: &str) -> ProviderLabels {
        ProviderLabels {
            provider: name.to_owned(),
        }
    }
}
