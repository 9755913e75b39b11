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
/// retry (same operation key) gets the first run's answer, and the
/// counter moves once. The bare script would count twice.
#[tokio::test]
async fn a_repeated_count_script_counts_once() {
    use otpgate::store::redis_scripts::{once, COUNT};
    let redis = redis_or_skip!();
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let wrapped = redis::Script::new(&once(COUNT));
    assert_eq!(eval(&mut c, &wrapped, &["cnt", "op:1"]).await, 1);
    assert_eq!(
        eval(&mut c, &wrapped, &["cnt", "op:1"]).await,
        1,
        "the same operation again"
    );
    assert_eq!(
        eval(&mut c, &wrapped, &["cnt", "op:2"]).await,
        2,
        "a new operation counts"
    );
    let n: i64 = redis::cmd("HGET")
        .arg("cnt")
        .arg("field")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let bare = redis::Script::new(COUNT);
    eval(&mut c, &bare, &["bare"]).await;
    assert_eq!(
        eval(&mut c, &bare, &["bare"]).await,
        2,
        "why the wrapper exists"
    );
}

async fn eval(
    c: &mut redis::aio::MultiplexedConnection,
    script: &redis::Script,
    keys: &[&str],
) -> i64 {
    let mut inv = script.prepare_invoke();
    for k in keys {
        inv.key(*k);
    }
    // The counter's field in its bucket, cost, max, PX (scripts::COUNT).
    inv.arg("field").arg(1).arg(5).arg(60_000);
    inv.invoke_async(c).await.unwrap()
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
    // B's checks asked Redis (a round trip, or the revocation cache's
    // snapshot after the restart closed its subscription).
    assert!(
        ["session_check", "revocation_snapshot"]
            .iter()
            .any(|op| m.contains(&format!(
                "otpgate_store_duration_seconds_count{{op=\"{op}\"}}"
            ))),
        "{m}"
    );
}

/// Store trouble shows in metrics: failed calls by operation, and every
/// call's latency.
#[tokio::test]
async fn store_errors_and_latency_are_in_the_metrics() {
    let mut redis = redis_or_skip!();
    let shop = upstream().await;
    let gw = instance(&shop, &redis.url).await;
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
    let m = gw.metrics().await;
    for op in [
        "count",
        "put_challenge",
        "attempt",
        "revocation_snapshot",
        "epoch",
    ] {
        assert!(
            m.contains(&format!(
                "otpgate_store_duration_seconds_count{{op=\"{op}\"}}"
            )),
            "{op}:\n{m}"
        );
    }
    assert!(!m.contains("otpgate_store_errors_total{"), "{m}");
    redis.kill();
    // The revocation cache notices the dropped subscription (or its trust
    // runs out) and the check asks Redis, which fails: no session.
    crate::status_within(&mut b, "/checkout", 302, "no store: no session").await;
    let m = gw.metrics().await;
    let errors = |op: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("otpgate_store_errors_total{{op=\"{op}\"}} ")))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    assert!(errors("session_check") >= 1, "{m}");
}
