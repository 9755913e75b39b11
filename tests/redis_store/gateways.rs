//! Two gateway instances sharing one Redis, as behind a load balancer: a
//! shopper's requests alternate between them.

use std::time::Duration;

use crate::redis_or_skip;
use crate::support::{gateway, upstream, Browser, Gw, Shop, H1, PHONE};

async fn instance(shop: &Shop, url: &str, extra: &[(&str, &str)]) -> Gw {
    let mut b = gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{url}\""));
    for (k, v) in extra {
        b = b.set(k, v);
    }
    b.run().await
}

/// Moves the shopper's cookies from one instance's client to the other's.
fn hop(from: &Browser, to: &mut Browser) {
    to.cookies = from.cookies.clone();
}

#[tokio::test]
async fn a_code_sent_by_one_instance_verifies_on_the_other() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url, &[]).await,
        instance(&shop, &redis.url, &[]).await,
    );
    let (mut on_a, mut on_b) = (a.browser(H1), b.browser(H1));
    assert_eq!(on_a.start(PHONE, "/checkout").await.status, 303);
    assert!(b.sms().is_empty(), "only A texted");
    let code = on_a.code_for(PHONE);
    // A copy of the pending cookie, kept to replay the code after it was used.
    let mut replay = a.browser(H1);
    hop(&on_a, &mut replay);
    hop(&on_a, &mut on_b);
    let done = on_b.enter_code(&code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/checkout");
    assert_eq!(on_b.get("/checkout").await.status, 200);
    hop(&on_b, &mut on_a);
    assert_eq!(on_a.get("/checkout").await.status, 200);
    // Single use across instances: the same code on the same challenge,
    // used on B, again on A.
    let csrf = replay.get("/.otpgate/login").await.csrf();
    let r = replay.enter_code_raw(&code, &csrf).await;
    assert_eq!(r.status, 410, "the used challenge is gone on A too: {r:?}");
    assert!(!replay.cookies.contains_key("__Host-otpgate"));
}

#[tokio::test]
async fn a_send_limit_is_shared() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let lim = [("limits.send_per_phone", "{ max = 3, window = \"10m\" }")];
    let (a, b) = (
        instance(&shop, &redis.url, &lim).await,
        instance(&shop, &redis.url, &lim).await,
    );
    let mut statuses = vec![];
    for i in 0..6 {
        let mut shopper = if i % 2 == 0 {
            a.browser(H1)
        } else {
            b.browser(H1)
        };
        statuses.push(shopper.start(PHONE, "/checkout").await.status);
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429, 429]);
    assert_eq!(a.sms().len() + b.sms().len(), 3, "three texts in all");
}

#[tokio::test]
async fn logout_on_one_instance_revokes_on_the_other() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url, &[]).await,
        instance(&shop, &redis.url, &[]).await,
    );
    let (mut on_a, mut on_b) = (a.browser(H1), b.browser(H1));
    on_a.log_in(PHONE, "/checkout").await;
    hop(&on_a, &mut on_b);
    assert_eq!(on_b.get("/checkout").await.status, 200);
    let page = on_a.get("/.otpgate/login").await;
    let out = on_a
        .post_form("/.otpgate/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    crate::status_within(
        &mut on_b,
        "/checkout",
        302,
        "B refuses the cookie A logged out",
    )
    .await;
}

#[tokio::test]
async fn readyz_follows_redis() {
    let mut redis = redis_or_skip!();
    let shop = upstream().await;
    let gw = instance(&shop, &redis.url, &[]).await;
    let admin = gw.running.as_ref().unwrap().admin_addr.unwrap();
    let readyz = || async move {
        reqwest::get(format!("http://{admin}/readyz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);
    redis.kill();
    let mut status = 0;
    for _ in 0..50 {
        status = readyz().await;
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 503, "not ready without Redis");
    // Sign-in fails closed while Redis is gone.
    let sent = gw.browser(H1).start(PHONE, "/checkout").await;
    assert!(sent.status >= 500, "{} {}", sent.status, sent.body);
    // Back on the same address: the connection manager reconnects.
    let port: u16 = redis.url.rsplit(':').next().unwrap().parse().unwrap();
    let _again = crate::RedisServer::start_on(port).unwrap();
    for _ in 0..100 {
        status = readyz().await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again once Redis is back");
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
}

#[tokio::test]
async fn startup_fails_naming_redis_url_when_unreachable() {
    let shop = upstream().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let b = gateway(&shop).set("store.backend", "\"redis\"").set(
        "store.redis_url",
        &format!("\"redis://:s3cret@127.0.0.1:{port}\""),
    );
    let cfg = otpgate::config::Config::parse(&b.config_text(), "test").unwrap();
    let err = otpgate::server::start(cfg, None)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("store.redis_url"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test]
async fn config_checks_the_redis_url() {
    let shop = upstream().await;
    let check = |url: Option<&str>| {
        let mut b = gateway(&shop).set("store.backend", "\"redis\"");
        if let Some(u) = url {
            b = b.set("store.redis_url", &format!("\"{u}\""));
        }
        otpgate::config::Config::parse(&b.config_text(), "test")
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let missing = check(None).unwrap_err();
    assert!(missing.contains("store.redis_url"), "{missing}");
    let wrong = check(Some("http://user:pw@127.0.0.1:6379")).unwrap_err();
    assert!(
        wrong.contains("store.redis_url") && !wrong.contains(":pw@"),
        "{wrong}"
    );
    check(Some("redis://127.0.0.1:6379/0")).unwrap();
    check(Some("rediss://user:pw@cache.example:6380")).unwrap();
}

/// Rotation: an instance whose secret list starts with a new key (sharing
/// the store, so the epoch is the same) still opens cookies sealed under
/// the old one, and seals new ones with the new key.
#[tokio::test]
async fn key_rotation_keeps_old_sessions_and_seals_with_the_new_key() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let old = instance(&shop, &redis.url, &[]).await;
    let mut b = old.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let old_cookie = b.cookies["__Host-otpgate"].clone();
    let secrets = format!(
        "[\"new-secret-new-secret-new-secret-new\", \"{}\"]",
        crate::support::SECRET
    );
    let rotated = instance(&shop, &redis.url, &[("session.secret", &secrets)]).await;
    let mut r = rotated.browser(H1);
    r.cookies.insert("__Host-otpgate".into(), old_cookie);
    assert_eq!(r.get("/checkout").await.status, 200, "old key still opens");
    let mut fresh = rotated.browser(H1);
    fresh.log_in(PHONE, "/checkout").await;
    let mut back = old.browser(H1);
    back.cookies.insert(
        "__Host-otpgate".into(),
        fresh.cookies["__Host-otpgate"].clone(),
    );
    assert_eq!(
        back.get("/checkout").await.status,
        302,
        "new cookies are sealed with the new key only"
    );
}

#[tokio::test]
async fn config_checks_the_sentinel_and_cluster_forms() {
    let shop = upstream().await;
    let check = |backend: &str, sets: &[(&str, &str)]| {
        let mut b = gateway(&shop).set("store.backend", &format!("\"{backend}\""));
        for (k, v) in sets {
            b = b.set(k, v);
        }
        otpgate::config::Config::parse(&b.config_text(), "test")
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let url = "store.redis_url";
    let cluster = "store.redis_cluster_urls";
    check(
        "redis",
        &[(url, "\"redis+sentinel://:pw@a:26379,b/mymaster\"")],
    )
    .unwrap();
    check(
        "redis",
        &[(cluster, "[\"redis://:pw@a:7000\", \"redis://b:7001\"]")],
    )
    .unwrap();
    let cases = [
        (
            "redis",
            vec![(url, "\"redis+sentinel://:hunter2@a:26379\"")],
            url,
        ),
        (
            "redis",
            vec![(url, "\"redis+sentinel://:hunter2@a:26379,,b/m\"")],
            url,
        ),
        ("redis", vec![(cluster, "[]")], cluster),
        (
            "redis",
            vec![(cluster, "[\"http://:hunter2@a:7000\"]")],
            cluster,
        ),
        (
            "redis",
            vec![(url, "\"redis://a\""), (cluster, "[\"redis://b:7000\"]")],
            cluster,
        ),
        // Forgetting `backend` would silently run each instance alone.
        ("memory", vec![(cluster, "[\"redis://b:7000\"]")], cluster),
        ("memory", vec![(url, "\"redis://a\"")], url),
    ];
    for (backend, sets, key) in cases {
        let e = check(backend, &sets).unwrap_err();
        assert!(e.contains(key) && !e.contains("hunter2"), "{sets:?}: {e}");
    }
}

#[tokio::test]
async fn startup_fails_naming_the_cluster_key_when_unreachable() {
    let shop = upstream().await;
    let port = crate::topology::free_port();
    let b = gateway(&shop).set("store.backend", "\"redis\"").set(
        "store.redis_cluster_urls",
        &format!("[\"redis://:s3cret@127.0.0.1:{port}\"]"),
    );
    let cfg = otpgate::config::Config::parse(&b.config_text(), "test").unwrap();
    let err = otpgate::server::start(cfg, None)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("store.redis_cluster_urls"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
