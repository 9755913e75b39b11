//! Retry and failover policy against scripted senders, on tokio's paused
//! clock: spacing and budgets are asserted exactly, without sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Delivery, DeliveryError, RetryPolicy};
use crate::sms::http::CallTimeouts;
use crate::sms::message::{
    PermanentReason, SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind,
};
use crate::sms::metrics::{FailureLabels, FallbackLabels, SmsMetrics};

type Step = (Duration, Result<SmsReceipt, SmsError>);

/// Answers each attempt with the next scripted step (after its latency) and
/// records when each attempt started.
struct Scripted {
    name: &'static str,
    steps: Mutex<VecDeque<Step>>,
    attempts: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn new(name: &'static str, steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            steps: Mutex::new(steps.into()),
            attempts: Mutex::new(Vec::new()),
        })
    }

    fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl SmsSender for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn send(&self, _msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        self.attempts.lock().unwrap().push(Instant::now());
        let step = self.steps.lock().unwrap().pop_front();
        let (latency, result) = step.expect("more attempts than the script has");
        tokio::time::sleep(latency).await;
        result
    }
}

fn ok(name: &'static str) -> Step {
    (
        Duration::from_millis(100),
        Ok(SmsReceipt {
            provider: name,
            message_id: Some("id-1".into()),
        }),
    )
}

fn err(e: SmsError) -> Step {
    (Duration::from_millis(100), Err(e))
}

fn unavailable() -> Step {
    err(SmsError::transient(TransientKind::Status(503)))
}

fn msg() -> SmsMessage {
    SmsMessage {
        to: "+919812345678".into(),
        region: "IN".into(),
        body: "123456 is your code".into(),
        code: "123456".into(),
        lang: "en".into(),
    }
}

fn delivery(chain: &[&Arc<Scripted>]) -> Delivery {
    let chain = chain
        .iter()
        .map(|s| Arc::clone(s) as Arc<dyn SmsSender>)
        .collect();
    Delivery::new(chain, RetryPolicy::default(), Arc::new(SmsMetrics::new()))
}

fn gaps(attempts: &[Instant]) -> Vec<Duration> {
    attempts.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_growing_jittered_backoff() {
    let primary = Scripted::new("twilio", vec![unavailable(), unavailable(), ok("twilio")]);
    let d = delivery(&[&primary]);
    let receipt = d.send(&msg()).await.unwrap();
    assert_eq!(receipt.provider, "twilio");
    let gaps = gaps(&primary.attempts());
    assert_eq!(gaps.len(), 2);
    // gap = 100 ms answer + backoff in [ceiling/2, ceiling].
    let answer = Duration::from_millis(100);
    for (retry, gap) in gaps.iter().enumerate() {
        let ceiling = d.policy.backoff_ceiling(retry as u32);
        assert!(
            *gap >= answer + ceiling / 2 && *gap <= answer + ceiling,
            "{gap:?}"
        );
    }
    let retried = d
        .metrics
        .retried
        .get_or_create(&SmsMetrics::provider("twilio"));
    assert_eq!(retried.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_then_the_fallback_is_tried() {
    let primary = Scripted::new("twilio", vec![unavailable(), unavailable(), unavailable()]);
    let fallback = Scripted::new("msg91", vec![ok("msg91")]);
    let d = delivery(&[&primary, &fallback]);
    let receipt = d.send(&msg()).await.unwrap();
    assert_eq!(receipt.provider, "msg91");
    assert_eq!(primary.attempts().len(), 3, "1 + max_retries");
    assert_eq!(fallback.attempts().len(), 1);
    let fell = d.metrics.fallback.get_or_create(&FallbackLabels {
        from: "twilio".into(),
        to: "msg91".into(),
    });
    assert_eq!(fell.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_bad_number_stops_everything_without_retry_or_fallback() {
    for (reason, expected) in [
        (PermanentReason::InvalidNumber, DeliveryError::InvalidNumber),
        (PermanentReason::Unsubscribed, DeliveryError::OptedOut),
    ] {
        let primary = Scripted::new("twilio", vec![err(SmsError::Permanent(reason))]);
        let fallback = Scripted::new("vonage", vec![]);
        let d = delivery(&[&primary, &fallback]);
        assert_eq!(d.send(&msg()).await, Err(expected));
        assert_eq!(primary.attempts().len(), 1);
        assert!(fallback.attempts().is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn our_own_misconfiguration_fails_over_at_once() {
    let primary = Scripted::new(
        "twilio",
        vec![err(SmsError::Permanent(PermanentReason::BadCredentials))],
    );
    let fallback = Scripted::new("vonage", vec![err(SmsError::rejected("15"))]);
    let d = delivery(&[&primary, &fallback]);
    assert_eq!(d.send(&msg()).await, Err(DeliveryError::Unavailable));
    assert_eq!(primary.attempts().len(), 1);
    assert_eq!(fallback.attempts().len(), 1);
    let failed = d.metrics.failed.get_or_create(&FailureLabels {
        provider: "twilio".into(),
        reason: "bad_credentials".into(),
    });
    assert_eq!(failed.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_when_it_fits_and_skipped_when_it_does_not() {
    let limited = |secs| {
        err(SmsError::Transient {
            kind: TransientKind::RateLimited,
            retry_after: Some(Duration::from_secs(secs)),
        })
    };
    let primary = Scripted::new("twilio", vec![limited(3), ok("twilio")]);
    let d = delivery(&[&primary]);
    d.send(&msg()).await.unwrap();
    let gap = gaps(&primary.attempts())[0];
    assert!(gap >= Duration::from_secs(3), "{gap:?}");
    assert!(
        gap <= Duration::from_millis(3100) + Duration::from_millis(250),
        "{gap:?}"
    );

    // 60 s is beyond the 10 s budget: go to the fallback now, not later.
    let primary = Scripted::new("twilio", vec![limited(60)]);
    let fallback = Scripted::new("msg91", vec![ok("msg91")]);
    let d = delivery(&[&primary, &fallback]);
    let start = Instant::now();
    assert_eq!(d.send(&msg()).await.unwrap().provider, "msg91");
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn maybe_delivered_is_not_resent_anywhere() {
    let primary = Scripted::new("twilio", vec![err(SmsError::MaybeDelivered)]);
    let fallback = Scripted::new("msg91", vec![]);
    let d = delivery(&[&primary, &fallback]);
    let receipt = d.send(&msg()).await.unwrap();
    assert_eq!(
        receipt,
        SmsReceipt {
            provider: "twilio",
            message_id: None
        }
    );
    assert_eq!(primary.attempts().len(), 1);
    assert!(fallback.attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_the_whole_wait_even_with_hanging_providers() {
    let slow = |name| {
        Scripted::new(
            name,
            vec![
                (
                    Duration::from_secs(4),
                    Err(SmsError::transient(TransientKind::ConnectTimeout)),
                );
                3
            ],
        )
    };
    let (a, b) = (slow("twilio"), slow("vonage"));
    let hanging = Scripted::new(
        "msg91",
        vec![(Duration::from_secs(3600), Err(SmsError::MaybeDelivered))],
    );
    let d = delivery(&[&a, &b, &hanging]);
    let start = Instant::now();
    let result = d.send(&msg()).await;
    let waited = start.elapsed();
    assert!(waited <= d.policy.budget, "{waited:?}");
    // twilio: attempts at 0 and ~4.2 s; then at ~8.5 s less than the connect
    // timeout is left, so nothing new starts and the shopper hears at once.
    assert_eq!(a.attempts().len(), 2);
    assert!(b.attempts().len() + hanging.attempts().len() <= 1);
    assert!(result == Err(DeliveryError::Unavailable) || result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_call_cut_by_the_budget_counts_as_unconfirmed() {
    let hanging = Scripted::new(
        "webhook",
        vec![(Duration::from_secs(3600), Err(SmsError::MaybeDelivered))],
    );
    let mut d = delivery(&[&hanging]);
    d.policy = RetryPolicy {
        budget: Duration::from_secs(3),
        timeouts: CallTimeouts {
            connect: Duration::from_secs(1),
            total: Duration::from_secs(3),
        },
        ..RetryPolicy::default()
    };
    let start = Instant::now();
    let receipt = d.send(&msg()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(receipt.message_id, None);
}

/// `[sms] skip_slow`: a primary measured slow is tried after the fallback,
/// with the gauge at 1, until its window empties; one provider alone is
/// never skipped.
#[tokio::test(start_paused = true)]
async fn a_measured_slow_primary_is_tried_last_until_it_recovers() {
    use crate::clock::{Clock, ManualClock};
    use crate::sms::measure::{DeliveryStats, ProviderLabel};
    use crate::sms::skip::SkipRule;

    let clock = ManualClock::at(1_000_000_000);
    let stats = Arc::new(DeliveryStats::new(Arc::new(clock.clone()), None));
    let rule = SkipRule {
        p95_above: Some(Duration::from_secs(30)),
        conversion_below: None,
        window: Duration::from_secs(900),
        min_sends: 3,
    };
    {
        let mut w = stats.window.lock().unwrap();
        for _ in 0..3 {
            w.sent("slow", clock.now_ms());
            w.receipt("slow", clock.now_ms(), 55.0);
        }
    }
    let slow = Scripted::new("slow", vec![ok("slow")]);
    let fast = Scripted::new("fast", vec![ok("fast")]);
    let metrics = Arc::new(SmsMetrics::with_delivery(stats.clone()));
    let d = Delivery::new(
        vec![slow.clone() as Arc<dyn SmsSender>, fast.clone()],
        RetryPolicy::default(),
        metrics,
    )
    .with_skip(Some(rule));
    let gauge = |p: &str| {
        stats
            .skipped_gauge
            .get_or_create(&ProviderLabel { provider: p.into() })
            .get()
    };

    assert_eq!(d.send(&msg()).await.unwrap().provider, "fast");
    assert!(
        slow.attempts().is_empty(),
        "the slow one was not tried first"
    );
    assert_eq!((gauge("slow"), gauge("fast")), (1, 0));

    // Fifteen minutes without its slow receipts: first again.
    clock.advance(Duration::from_secs(900));
    assert_eq!(d.send(&msg()).await.unwrap().provider, "slow");
    assert_eq!(gauge("slow"), 0);

    // Alone in its chain it is never skipped, however slow.
    {
        let mut w = stats.window.lock().unwrap();
        for _ in 0..3 {
            w.sent("alone", clock.now_ms());
            w.receipt("alone", clock.now_ms(), 300.0);
        }
    }
    let alone = Scripted::new("alone", vec![ok("alone")]);
    let d = Delivery::new(
        vec![alone.clone() as Arc<dyn SmsSender>],
        RetryPolicy::default(),
        Arc::new(SmsMetrics::with_delivery(stats.clone())),
    )
    .with_skip(Some(rule));
    assert_eq!(d.send(&msg()).await.unwrap().provider, "alone");
    assert_eq!(gauge("alone"), 0);
}
