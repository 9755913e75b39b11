//! Redis restarts (keeping its data) while an instance is idle: the
//! instance's connection is dead and it only finds out on its next call.
//! That call must not fail — a healthy Redis never produces an error.

use std::time::{Duration, Instant};

use otpgate::store::{Count, Store};

use crate::redis_or_skip;
use crate::support::{gateway, upstream, Gw, Shop, H1, PHONE};

async fn instance(shop: &Shop, url: &str) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{url}\""))
        .run()
        .await
}

/// The store itself: the first call of each kind after a restart answers
/// (reads, and scripts that are not idempotent by nature).
#[tokio::test]
async fn first_calls_after_a_restart_succeed() {
    let redis = redis_or_skip!();
    let s = redis.store().await;
    let w = Duration::from_secs(60);
    assert_eq!(
        s.count("k", 1, 5, w, 1_000).await.unwrap(),
        Count::Allowed { count: 1 }
    );
    let redis = redis.restart_keeping_data();
    assert_eq!(
        s.count("k", 1, 5, w, 1_000).await.unwrap(),
        Count::Allowed { count: 2 },
        "counted once, on the restarted Redis"
    );
    let redis = redis.restart_keeping_data();
    assert!(!s.is_revoked("sid", 1).await.unwrap());
    let _redis = redis.restart_keeping_data();
    assert!(s.healthy().await);
}

/// A script that ran but whose answer was lost is not run again: its
/// retry gets the first run's answer (the counter moves once).
#[tokio::test]
async fn a_retried_count_is_counted_once() {
    let redis = redis_or_skip!();
    let s = redis.store().await;
    let w = Duration::from_secs(60);
    for want in 1..=3 {
        assert_eq!(
            s.count("once", 1, 5, w, 1_000).await.unwrap(),
            Count::Allowed { count: want }
        );
    }
    // Each call left its answer under its own operation key, briefly.
    let ops = crate::command(
        redis.port(),
        "EVAL \"return #redis.call('KEYS','otpgate:op:*')\" 0",
    );
    assert_eq!(ops.trim(), ":3", "{ops}");
}

/// Two instances; B is idle while Redis restarts. Once Redis answers
/// again, B's first requests — a signed-in shopper, a sign-in, the
/// readiness probe — all succeed.
#[tokio::test]
async fn an_idle_instance_serves_its_first_requests_after_a_restart() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url).await,
        instance(&shop, &redis.url).await,
    );
    let mut shopper = a.browser(H1);
    shopper.log_in(PHONE, "/checkout").await;
    let mut on_b = b.browser(H1);
    on_b.cookies = shopper.cookies.clone();
    assert_eq!(on_b.get("/checkout").await.status, 200);

    let started = Instant::now();
    let _redis = redis.restart_keeping_data();
    assert!(started.elapsed() < Duration::from_secs(10));
    // At once: B's connection is the one Redis closed.
    assert_eq!(on_b.get("/checkout").await.status, 200, "signed in on B");
    let mut new = b.browser(H1);
    assert_eq!(
        new.start("+919812340002", "/checkout").await.status,
        303,
        "a sign-in on B"
    );
    let admin = b.running.as_ref().unwrap().admin_addr.unwrap();
    let ready = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let m = b.metrics().await;
    assert!(
        !m.lines()
            .any(|l| l.starts_with("otpgate_store_errors_total{")),
        "no store error on B:\n{m}"
    );
    assert!(
        m.contains("otpgate_store_duration_seconds_count{op=\"session_check\"}"),
        "{m}"
    );
}
