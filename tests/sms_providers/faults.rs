//! Fault injection: retries, backoff, failover, budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use otpgate::sms::DeliveryError;

use crate::fake::{
    answer, delivery, fast_policy, india, msg91_table, provider, refused_base, twilio_created,
    twilio_table, vonage_ok, vonage_table, Reply,
};

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_success() {
    let fake = provider(vec![
        answer(500, json!({})),
        answer(503, json!({})),
        twilio_created(),
    ])
    .await;
    let d = delivery(json!({"provider": "twilio", "twilio": twilio_table(&fake.base)}));
    assert!(d.send(&india("x")).await.is_ok());
    assert_eq!(fake.requests().len(), 3);
    let policy = fast_policy();
    for (retry, gap) in fake.gaps().into_iter().enumerate() {
        let floor = policy.backoff_ceiling(retry as u32) / 2;
        assert!(gap >= floor, "retry {retry} after {gap:?}, floor {floor:?}");
    }
}

#[tokio::test]
async fn retries_are_bounded_then_the_fallback_answers() {
    let twilio = provider(vec![answer(503, json!({}))]).await;
    let vonage = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "twilio", "fallback": ["vonage"],
        "twilio": twilio_table(&twilio.base), "vonage": vonage_table(&vonage.base)}));
    assert_eq!(d.send(&india("x")).await.unwrap().provider, "vonage");
    assert_eq!(twilio.requests().len(), 3, "1 attempt + max_retries 2");
    assert_eq!(vonage.requests().len(), 1);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let limited = Reply::Answer(
        429,
        vec![("retry-after", "1".to_owned())],
        json!({"code": 20429, "status": 429}).to_string(),
    );
    let fake = provider(vec![limited, twilio_created()]).await;
    let d = delivery(json!({"provider": "twilio", "twilio": twilio_table(&fake.base)}));
    assert!(d.send(&india("x")).await.is_ok());
    let gap = fake.gaps()[0];
    assert!(gap >= Duration::from_secs(1), "{gap:?}");
    assert!(gap < Duration::from_secs(2), "{gap:?}");
}

#[tokio::test]
async fn a_silent_provider_is_unconfirmed_not_resent() {
    let hang = provider(vec![Reply::Hang]).await;
    let vonage = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "twilio", "fallback": ["vonage"],
        "twilio": twilio_table(&hang.base), "vonage": vonage_table(&vonage.base)}));
    let start = Instant::now();
    let receipt = d.send(&india("x")).await.unwrap();
    let waited = start.elapsed();
    assert_eq!((receipt.provider, receipt.message_id), ("twilio", None));
    assert_eq!(
        hang.requests().len(),
        1,
        "the request reached the provider once"
    );
    assert!(vonage.requests().is_empty(), "no second SMS");
    let timeout = fast_policy().timeouts.total;
    assert!(waited >= timeout && waited < timeout * 2, "{waited:?}");
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let fake = provider(vec![Reply::Drop, Reply::Drop, vonage_ok()]).await;
    let d = delivery(json!({"provider": "vonage", "vonage": vonage_table(&fake.base)}));
    assert!(d.send(&india("x")).await.is_ok());
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_refused_connection_fails_over_quickly() {
    let vonage = provider(vec![vonage_ok()]).await;
    let d = delivery(json!({"provider": "twilio", "fallback": ["vonage"],
        "twilio": twilio_table(&refused_base().await), "vonage": vonage_table(&vonage.base)}));
    let start = Instant::now();
    assert_eq!(d.send(&india("x")).await.unwrap().provider, "vonage");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn everything_down_answers_unavailable_within_the_budget() {
    let a = provider(vec![answer(503, json!({}))]).await;
    let b = provider(vec![Reply::Drop]).await;
    let c = provider(vec![answer(500, json!({}))]).await;
    let d = delivery(
        json!({"provider": "twilio", "fallback": ["msg91", "webhook"],
        "twilio": twilio_table(&a.base), "msg91": msg91_table(&b.base),
        "webhook": {"url": c.base}}),
    );
    let start = Instant::now();
    assert_eq!(d.send(&india("x")).await, Err(DeliveryError::Unavailable));
    assert!(
        start.elapsed() <= fast_policy().budget,
        "{:?}",
        start.elapsed()
    );
    for fake in [&a, &b, &c] {
        assert_eq!(fake.requests().len(), 3);
    }
}

#[tokio::test]
async fn many_shoppers_at_once_are_all_served() {
    let fake = provider(vec![answer(503, json!({})), twilio_created()]).await;
    let d = Arc::new(delivery(
        json!({"provider": "twilio", "twilio": twilio_table(&fake.base)}),
    ));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let d = d.clone();
            tokio::spawn(async move { d.send(&india("x")).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(fake.requests().len(), 21, "one 503, then one request each");
}
