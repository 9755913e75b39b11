//! Retries and failover: what the gateway calls to get a code to a phone.
//!
//! For each provider in the chain (primary, then `fallback` in order):
//! - success: done;
//! - [`SmsError::Transient`]: retry the same provider up to `max_retries`
//!   times with jittered exponential backoff (or the provider's
//!   `Retry-After` when longer and still inside the budget), then fail over;
//! - [`SmsError::Permanent`] about the *number* (invalid, unsubscribed):
//!   stop, another provider would refuse it too (and an opt-out must be
//!   honoured everywhere);
//! - [`SmsError::Permanent`] about *us* (bad credentials, other rejections):
//!   fail over at once, never retry;
//! - [`SmsError::MaybeDelivered`]: stop and report success without a message
//!   id (see that variant for the double-SMS vs lost-SMS trade-off).
//!
//! With `[sms] skip_slow` (skip.rs), each send first orders the chain by
//! measured delivery: a provider found slow is tried after the others.
//!
//! Everything runs inside `budget` (default 10 s), measured with
//! `tokio::time`, so tests can pause the clock.

use std::sync::Arc;

use tokio::time::Instant;

use crate::sms::config::{ProviderConfig, SmsConfig};
use crate::sms::console::ConsoleSender;
use crate::sms::file::FileSender;
use crate::sms::http::client;
use crate::sms::message::{
    mask_phone, PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender,
};
use crate::sms::metrics::{FailureLabels, FallbackLabels, SmsMetrics};
use crate::sms::msg91::Msg91Sender;
pub use crate::sms::retry::RetryPolicy;
use crate::sms::skip::SkipRule;
use crate::sms::twilio::TwilioSender;
use crate::sms::vonage::VonageSender;
use crate::sms::webhook::WebhookSender;

/// What the shopper is told when no provider took the message. The core
/// maps each variant to a page with an exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The number cannot receive SMS: ask for another number.
    #[error("this number cannot receive text messages")]
    InvalidNumber,
    /// The number opted out of our messages (STOP) or is barred.
    #[error("this number does not accept messages from us")]
    OptedOut,
    /// Every provider failed for reasons that are not the shopper's fault
    /// (outage, rate limit, our credentials): try again later.
    #[error("text messages cannot be sent right now")]
    Unavailable,
}

/// The provider chain and the policy that drives it.
pub struct Delivery {
    /// Primary first, then fallbacks in order; never empty.
    chain: Vec<Arc<dyn SmsSender>>,
    policy: RetryPolicy,
    metrics: Arc<SmsMetrics>,
    /// `[sms] skip_slow`: the chain reordered by measured delivery.
    skip: Option<SkipRule>,
}

/// Builds the chain from a validated config, with its own metrics (reach
/// them through [`Delivery::metrics`] to register them).
pub fn build(cfg: &SmsConfig) -> Delivery {
    build_with_metrics(cfg, Arc::new(SmsMetrics::new()))
}

pub fn build_with_metrics(cfg: &SmsConfig, metrics: Arc<SmsMetrics>) -> Delivery {
    let http = client(cfg.policy.timeouts);
    let chain = cfg
        .chain
        .iter()
        .map(|provider| -> Arc<dyn SmsSender> {
            match provider {
                ProviderConfig::Console => Arc::new(ConsoleSender),
                ProviderConfig::File(c) => Arc::new(FileSender::new(c.clone())),
                ProviderConfig::Webhook(c) => Arc::new(WebhookSender::new(c.clone(), http.clone())),
                ProviderConfig::Twilio(c) => Arc::new(TwilioSender::new(c.clone(), http.clone())),
                ProviderConfig::Msg91(c) => Arc::new(Msg91Sender::new(c.clone(), http.clone())),
                ProviderConfig::Vonage(c) => Arc::new(VonageSender::new(c.clone(), http.clone())),
            }
        })
        .collect();
    Delivery::new(chain, cfg.policy, metrics).with_skip(cfg.skip_slow)
}

enum ProviderOutcome {
    Sent(SmsReceipt),
    /// Stop the chain with this answer for the shopper.
    Stop(DeliveryError),
    /// Try the next provider.
    Next,
}

impl Delivery {
    /// # Panics
    /// If `chain` is empty; [`validate`](crate::sms::validate) never yields one.
    pub fn new(
        chain: Vec<Arc<dyn SmsSender>>,
        policy: RetryPolicy,
        metrics: Arc<SmsMetrics>,
    ) -> Self {
        assert!(!chain.is_empty(), "an SMS delivery needs a provider");
        Delivery {
            chain,
            policy,
            metrics,
            skip: None,
        }
    }

    /// `[sms] skip_slow`: each send orders the chain by the delivery
    /// measured in [`SmsMetrics::delivery`] (skip.rs).
    pub fn with_skip(mut self, rule: Option<SkipRule>) -> Self {
        self.skip = rule;
        self
    }

    pub fn metrics(&self) -> &Arc<SmsMetrics> {
        &self.metrics
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Names of the chain, primary first.
    pub fn providers(&self) -> Vec<&'static str> {
        self.chain.iter().map(|s| s.name()).collect()
    }

    /// Sends `msg` through the chain within the budget.
    pub async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, DeliveryError> {
        let deadline = Instant::now() + self.policy.budget;
        let phone = mask_phone(&msg.to);
        let chain: Vec<&Arc<dyn SmsSender>> = match &self.skip {
            Some(rule) => self
                .metrics
                .delivery
                .order(rule, &self.providers())
                .into_iter()
                .map(|i| &self.chain[i])
                .collect(),
            None => self.chain.iter().collect(),
        };
        for (i, sender) in chain.iter().enumerate() {
            match self
                .try_provider(sender.as_ref(), msg, deadline, &phone)
                .await
            {
                ProviderOutcome::Sent(receipt) => return Ok(receipt),
                ProviderOutcome::Stop(err) => return Err(err),
                ProviderOutcome::Next => {}
            }
            if let Some(next) = chain.get(i + 1) {
                if Instant::now() >= deadline {
                    break;
                }
                self.metrics
                    .fallback
                    .get_or_create(&FallbackLabels {
                        from: sender.name().to_owned(),
                        to: next.name().to_owned(),
                    })
                    .inc();
                tracing::warn!(from = sender.name(), to = next.name(), %phone, "sms: falling back");
            }
        }
        tracing::error!(%phone, region = %msg.region, "sms: no provider took the message");
        Err(DeliveryError::Unavailable)
    }

    async fn try_provider(
        &self,
        sender: &dyn SmsSender,
        msg: &SmsMessage,
        deadline: Instant,
        phone: &str,
    ) -> ProviderOutcome {
        let name = sender.name();
        let labels = SmsMetrics::provider(name);
        let mut retry = 0;
        loop {
            // An attempt that cannot even finish connecting inside the budget
            // would only turn a clean failure into an unconfirmed one.
            if deadline.saturating_duration_since(Instant::now()) < self.policy.timeouts.connect {
                tracing::warn!(provider = name, %phone, "sms: budget exhausted");
                return ProviderOutcome::Next;
            }
            let started = Instant::now();
            let result = match tokio::time::timeout_at(deadline, sender.send(msg)).await {
                Ok(result) => result,
                Err(_) => Err(SmsError::MaybeDelivered),
            };
            self.metrics
                .latency
                .get_or_create(&labels)
                .observe(started.elapsed().as_secs_f64());
            let err = match result {
                Ok(receipt) => {
                    self.metrics.sent.get_or_create(&labels).inc();
                    tracing::info!(provider = name, %phone, region = %msg.region, "sms: sent");
                    return ProviderOutcome::Sent(receipt);
                }
                Err(err) => err,
            };
            self.metrics
                .failed
                .get_or_create(&FailureLabels {
                    provider: name.to_owned(),
                    reason: err.metric_reason().to_owned(),
                })
                .inc();
            tracing::warn!(provider = name, %phone, error = %err, attempt = retry + 1, "sms: attempt failed");
            match err {
                SmsError::MaybeDelivered => {
                    return ProviderOutcome::Sent(SmsReceipt {
                        provider: name,
                        message_id: None,
                    })
                }
                SmsError::Permanent(PermanentReason::InvalidNumber) => {
                    return ProviderOutcome::Stop(DeliveryError::InvalidNumber)
                }
                SmsError::Permanent(PermanentReason::Unsubscribed) => {
                    return ProviderOutcome::Stop(DeliveryError::OptedOut)
                }
                SmsError::Permanent(
                    PermanentReason::BadCredentials | PermanentReason::Rejected(_),
                ) => return ProviderOutcome::Next,
                SmsError::Transient { retry_after, .. } => {
                    if retry >= self.policy.max_retries {
                        return ProviderOutcome::Next;
                    }
                    let backoff = self.policy.jittered_backoff(retry);
                    let wait = retry_after.map_or(backoff, |ra| ra.max(backoff));
                    // Waiting past the budget helps nobody; the next
                    // provider may answer at once.
                    if Instant::now() + wait + self.policy.timeouts.connect > deadline {
                        return ProviderOutcome::Next;
                    }
                    tokio::time::sleep(wait).await;
                    retry += 1;
                    self.metrics.retried.get_or_create(&labels).inc();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
