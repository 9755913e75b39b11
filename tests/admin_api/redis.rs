//! The admin API across two instances sharing a real `redis-server`: a
//! revoke on one ends the cookie on the other at its next request, and
//! blocks set on one are listed and enforced on the other.

use std::time::Duration;

use otpgate::clock::ManualClock;
use serde_json::json;

use super::support::redis::redis;
use super::support::{upstream, Gw, Shop, H1, PHONE};
use super::{signed_in, with_token, Api};

async fn on_redis(shop: &Shop, url: &str, clock: &ManualClock) -> Gw {
    with_token(shop)
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("{url:?}"))
        .clock(clock.clone())
        .run()
        .await
}

#[tokio::test]
async fn revoke_on_one_instance_ends_the_cookie_on_the_other_within_a_second() {
    let Some(redis) = redis() else { return };
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let (a, b) = (
        on_redis(&shop, &redis.url, &clock).await,
        on_redis(&shop, &redis.url, &clock).await,
    );
    let on_a = signed_in(&a).await;
    let mut on_b = b.browser(H1);
    on_b.cookies = on_a.cookies.clone();
    assert_eq!(
        on_b.get("/checkout").await.status,
        200,
        "the cookie works on B"
    );
    clock.advance(Duration::from_secs(2));

    let (status, v) = Api::of(&a)
        .admin(
            "POST",
            "/api/sessions/revoke",
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // B learns it from its revocation cache: within 1 s (the bound; slack
    // for a busy machine), and nothing on B asks Redis to find out.
    let t = std::time::Instant::now();
    while on_b.get("/checkout").await.status == 200 {
        assert!(
            t.elapsed() < Duration::from_millis(1_300),
            "not ended on B within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Blocks are shared too: set on B, listed and enforced on A.
    let (status, _) = Api::of(&b)
        .admin(
            "POST",
            "/api/blocks",
            Some(json!({"prefix": "+9198123", "for": "1h"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, list) = Api::of(&a).admin("GET", "/api/blocks", None).await;
    assert_eq!(list["blocks"][0]["prefix"], "+9198123", "{list}");
    let mut shopper = a.browser(H1);
    assert_eq!(shopper.start(PHONE, "/checkout").await.status, 429);
    assert_eq!(
        Api::of(&a)
            .admin("DELETE", "/api/blocks/%2B9198123", None)
            .await
            .0,
        200
    );
    let mut shopper = b.browser(H1);
    assert_eq!(shopper.start(PHONE, "/checkout").await.status, 303);
}

/// Store calls by operation, from `/metrics`.
fn store_calls(metrics: &str) -> std::collections::BTreeMap<String, u64> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("otpgate_store_duration_seconds_count{op=\""))
        .filter_map(|l| {
            let (op, rest) = l.split_once('"')?;
            Some((op.to_string(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// The phone's not-before time rides with the revocations: once the
/// revocation cache is in step, a protected request costs no store call
/// at all, revoke or not; the admin API's revoke is enforced on the spot
/// on the instance that made it.
#[tokio::test]
async fn the_session_check_makes_no_round_trip() {
    let Some(redis) = redis() else { return };
    let shop = upstream().await;
    let clock = ManualClock::starting_now();
    let gw = on_redis(&shop, &redis.url, &clock).await;
    let mut shopper = signed_in(&gw).await;
    let t = std::time::Instant::now();
    while !gw
        .metrics()
        .await
        .contains("otpgate_store_session_cache_synced 1")
    {
        assert!(t.elapsed() < Duration::from_secs(5), "cache never synced");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = store_calls(&gw.metrics().await);
    for _ in 0..5 {
        assert_eq!(shopper.get("/checkout").await.status, 200);
    }
    let after = store_calls(&gw.metrics().await);
    let per_request: Vec<(String, u64)> = after
        .iter()
        // The epoch look and the cache's heartbeat run on their own.
        .filter(|(op, _)| !["epoch", "revocation_heartbeat"].contains(&op.as_str()))
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(per_request, [], "no store call for five protected requests");
    clock.advance(Duration::from_secs(2));
    let (status, v) = Api::of(&gw)
        .admin(
            "POST",
            "/api/sessions/revoke",
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_ne!(shopper.get("/checkout").await.status, 200, "at once here");
}
