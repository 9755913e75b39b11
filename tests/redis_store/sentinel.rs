//! The store behind Redis Sentinel (a master, its replica, three
//! sentinels): the same semantics as on one server, and a failover in the
//! middle of a sign-in. While there is no master, sign-ins fail closed
//! with a 503 and `/readyz` says not ready; once Sentinel has promoted
//! the replica, the same otpgate instance (never restarted) signs shoppers
//! in again, and what was replicated before — sessions, a logout, a
//! pending code — is still there.

use std::time::{Duration, Instant};

use crate::checks;
use crate::support::{gateway, upstream, Gw, Shop, H1, PHONE};
use crate::topology::{cli, SentinelSet};

const OTHER: &str = "+919812340001";

async fn instance(shop: &Shop, url: &str) -> Gw {
    // The one process-wide log subscriber, installed before any gateway
    // logs (a callsite first hit without it may stay silent for the tests
    // that read the log).
    crate::data_loss::operator_log();
    gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{url}\""))
        .run()
        .await
}

async fn readyz(gw: &Gw) -> u16 {
    let admin = gw.running.as_ref().unwrap().admin_addr.unwrap();
    reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn store_semantics_behind_sentinel() {
    let Some(set) = SentinelSet::start() else {
        return;
    };
    let (a, b) = (set.store().await, set.store().await);
    checks::every_check(&a, &b, || {
        assert_eq!(cli(set.master.port, &["FLUSHALL"]).trim(), "OK");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_mid_sign_in_fails_closed_then_recovers_without_restart() {
    let Some(mut set) = SentinelSet::start() else {
        return;
    };
    let shop = upstream().await;
    let gw = instance(&shop, &set.url()).await;
    assert_eq!(readyz(&gw).await, 200);

    // Before: one shopper signed in, one logged out (an attacker kept the
    // cookie), one halfway through (code sent, code page loaded).
    let mut signed_in = gw.browser(H1);
    signed_in.log_in(PHONE, "/checkout").await;
    let mut gone = gw.browser(H1);
    gone.log_in(OTHER, "/checkout").await;
    let kept = gone.cookies.clone();
    let page = gone.get("/.otpgate/login").await;
    let out = gone
        .post_form("/.otpgate/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    gone.cookies = kept;
    let mut halfway = gw.browser(H1);
    assert_eq!(halfway.start(PHONE, "/checkout").await.status, 303);
    let code = halfway.code_for(PHONE);
    let csrf = halfway.get("/.otpgate/verify").await.csrf();
    set.replicated();

    let old_master = set.master.port;
    set.master.kill();
    let killed = Instant::now();

    // No master: the in-flight sign-in fails closed, clearly, and the
    // probe takes the instance out of the load balancer.
    let refused = halfway.enter_code_raw(&code, &csrf).await;
    assert_eq!(
        refused.status,
        503,
        "{:?} {}",
        refused.header("location"),
        refused.body
    );
    assert_eq!(readyz(&gw).await, 503, "not ready without a master");

    // Sentinel promotes the replica (down after 1 s, then a vote).
    let mut status = 0;
    while killed.elapsed() < Duration::from_secs(25) {
        status = readyz(&gw).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again after the failover");
    // Each sentinel learns the new master on its own; the one asked here
    // may trail the one otpgate asked by a moment (bounded wait).
    let mut master = set.master_port();
    while master != set.replica.port && killed.elapsed() < Duration::from_secs(25) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        master = set.master_port();
    }
    assert_eq!(master, set.replica.port, "the replica is the master");
    assert_ne!(set.master_port(), old_master);

    // The same instance, never restarted: the pending code still works
    // (it was replicated; the refused try was never counted), the
    // signed-in shopper is still signed in, the logout still holds.
    let done = halfway.enter_code_raw(&code, &csrf).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(halfway.get("/checkout").await.status, 200);
    assert_eq!(signed_in.get("/checkout").await.status, 200, "same epoch");
    assert_eq!(gone.get("/checkout").await.status, 302, "logout survives");
    let mut fresh = gw.browser(H1);
    fresh.log_in(OTHER, "/checkout").await;
    assert_eq!(fresh.get("/checkout").await.status, 200);
}

#[tokio::test]
async fn unreachable_sentinels_are_an_error_without_the_password() {
    let dead: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", crate::topology::free_port()))
        .collect();
    let url = format!("redis+sentinel://:hunter2@{}/mymaster", dead.join(","));
    let err = otpgate::store::RedisStore::connect(&url)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("store unavailable"), "{err}");
}
