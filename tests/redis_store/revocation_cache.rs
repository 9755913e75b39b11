//! The revocation cache (src/store/redis/cache.rs): the session check is
//! answered from memory — no round trip, counted with `INFO commandstats`
//! (the fallback is an `MGET`; the cache's own reads are scripts) — and a
//! revocation on one instance is enforced on another within 1 s and on
//! its own at once. Whatever breaks the subscription, the check falls back
//! to Redis (fail closed), and what was revoked meanwhile is still
//! enforced once the cache is back.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use otpgate::store::{RedisStore, Store};

use crate::support::PHONE;
use crate::topology::{Cluster, SentinelSet};
use crate::{command, redis_or_skip};

/// The staleness bound the cache promises (`cache::TRUST`), and a little
/// slack for a busy test machine.
const BOUND: Duration = Duration::from_millis(1_000);
const SLACK: Duration = Duration::from_millis(300);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `calls` of one command in `INFO commandstats`, summed over `ports`.
async fn calls(ports: &[u16], command: &str) -> u64 {
    let mut total = 0;
    for port in ports {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        total += info
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse::<u64>().unwrap());
    }
    total
}

/// Waits (bounded) until the store's cache answers.
async fn synced(store: &RedisStore, within: Duration) {
    let t = Instant::now();
    while !store.session_cache_ready() {
        assert!(t.elapsed() < within, "cache not synced within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long until `b` says `sid` is revoked (panics past the bound).
async fn enforced_within(b: &RedisStore, sid: &str, bound: Duration) -> Duration {
    let t = Instant::now();
    while !b.session_check(sid, PHONE, now_ms()).await.unwrap().revoked {
        assert!(t.elapsed() < bound, "{sid} not enforced within {bound:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    t.elapsed()
}

/// Two instances, a revocation and a phone's "not before" on A: A at
/// once, B within the bound, and neither asks Redis to find out.
async fn across_instances(a: &RedisStore, b: &RedisStore, ports: &[u16], sid: &str) {
    let (epoch, _) = a.epoch().await.unwrap();
    for s in [a, b] {
        // Synced, with the epoch (a snapshot may have come before it).
        let t = Instant::now();
        while !s.session_cache_ready()
            || s.session_check("", "", 0).await.unwrap().epoch != Some(epoch)
        {
            assert!(t.elapsed() < Duration::from_secs(5), "not synced");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let before = calls(ports, "mget").await;
    let now = now_ms();
    assert!(!b.session_check(sid, PHONE, now).await.unwrap().revoked);
    a.revoke(sid, now + 60_000).await.unwrap();
    assert!(
        a.session_check(sid, PHONE, now).await.unwrap().revoked,
        "enforced at once on the instance that revoked"
    );
    enforced_within(b, sid, BOUND).await;
    a.revoke_phone(PHONE, now, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        a.session_check("x", PHONE, now)
            .await
            .unwrap()
            .phone_not_before,
        Some(now)
    );
    let t = Instant::now();
    while b
        .session_check("x", PHONE, now)
        .await
        .unwrap()
        .phone_not_before
        != Some(now)
    {
        assert!(t.elapsed() < BOUND, "not-before not on B within the bound");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        calls(ports, "mget").await,
        before,
        "every check answered from the cache"
    );
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_the_other_within_a_second() {
    let redis = redis_or_skip!();
    let (a, b) = (redis.store().await, redis.store().await);
    across_instances(&a, &b, &[redis.port()], "sid").await;
}

#[tokio::test]
async fn the_hot_path_makes_no_round_trip() {
    let redis = redis_or_skip!();
    let s = redis.store().await;
    s.epoch().await.unwrap();
    synced(&s, Duration::from_secs(5)).await;
    let (mget, all) = (calls(&[redis.port()], "mget").await, total(redis.port()));
    let t = Instant::now();
    for i in 0..2_000 {
        let c = s.session_check(&format!("s{i}"), PHONE, now_ms()).await;
        assert!(!c.unwrap().revoked);
    }
    let heartbeats = t.elapsed().as_millis() as u64 / 250 + 2;
    assert_eq!(calls(&[redis.port()], "mget").await, mget, "no MGET");
    // Only the cache's heartbeats (and the INFO reads of this test).
    let commands = total(redis.port()) - all;
    assert!(
        commands <= heartbeats + 4,
        "{commands} commands for 2000 checks"
    );
}

fn total(port: u16) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"INFO stats\r\n").unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    while !text.contains("total_commands_processed:") || !text.ends_with("\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `CLIENT KILL TYPE pubsub`, and no new subscription allowed (ACL):
/// every check goes to Redis, and answers right, including a revocation
/// made while the cache was gone; once subscribing works again the cache
/// reads everything again and answers locally, that revocation included.
#[tokio::test]
async fn a_killed_subscription_fails_closed_until_resynced() {
    let redis = redis_or_skip!();
    let port = redis.port();
    let (a, b) = (redis.store().await, redis.store().await);
    a.epoch().await.unwrap();
    synced(&b, Duration::from_secs(5)).await;
    let now = now_ms();

    assert!(command(port, "ACL SETUSER default -subscribe").starts_with("+OK"));
    assert!(command(port, "CLIENT KILL TYPE pubsub").starts_with(':'));
    // Noticed (not merely a heartbeat late on a busy machine, which ends
    // the trust too but not the subscription).
    let t = Instant::now();
    while b.session_cache_synced() {
        assert!(t.elapsed() < BOUND + SLACK, "the drop went unnoticed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.revoke("during", now + 60_000).await.unwrap();
    let before = calls(&[port], "mget").await;
    assert!(b.session_check("during", PHONE, now).await.unwrap().revoked);
    assert!(!b.session_check("other", PHONE, now).await.unwrap().revoked);
    assert_eq!(
        calls(&[port], "mget").await,
        before + 2,
        "each check asked Redis while the cache was out"
    );
    assert!(!b.session_cache_synced(), "cannot subscribe: never synced");
    assert!(!b.session_cache_ready(), "cannot subscribe: never trusted");

    assert!(command(port, "ACL SETUSER default +subscribe").starts_with("+OK"));
    synced(&b, Duration::from_secs(5)).await;
    let before = calls(&[port], "mget").await;
    assert!(b.session_check("during", PHONE, now).await.unwrap().revoked);
    assert_eq!(calls(&[port], "mget").await, before, "local again");
}

/// A message that never arrives (written as the script would, but not
/// published): the heartbeat finds Redis ahead and the cache reads it
/// all again — the bound holds even when pub/sub silently loses one.
#[tokio::test]
async fn a_lost_message_is_found_by_the_heartbeat() {
    let redis = redis_or_skip!();
    let port = redis.port();
    let b = redis.store().await;
    b.epoch().await.unwrap();
    synced(&b, Duration::from_secs(5)).await;
    let until = now_ms() + 60_000;
    let ends = until + 60_000;
    let written = Instant::now();
    for cmd in [
        format!("SET otpgate:rev:lost {until} PX 120000"),
        format!("ZADD otpgate:revidx {ends} r|lost|{until}"),
        "INCR otpgate:revseq".to_string(),
    ] {
        assert!(!command(port, &cmd).starts_with('-'), "{cmd}");
    }
    let waited = written.elapsed();
    enforced_within(&b, "lost", BOUND + SLACK - waited).await;
    // And the cache read it all again: answered locally, the lost one too.
    synced(&b, Duration::from_secs(3)).await;
    let before = calls(&[port], "mget").await;
    assert!(
        b.session_check("lost", PHONE, now_ms())
            .await
            .unwrap()
            .revoked
    );
    assert_eq!(calls(&[port], "mget").await, before, "local again");
}

/// Revocations written before this version (plain keys, no index) are
/// indexed by the first snapshot: an upgrade never forgets a logout.
#[tokio::test]
async fn revocations_from_before_the_index_are_imported() {
    let redis = redis_or_skip!();
    let port = redis.port();
    let until = now_ms() + 60_000;
    for cmd in [
        "SET otpgate:epoch 77".to_string(),
        format!("SET otpgate:rev:legacy {until} PX 120000"),
        format!("SET otpgate:nb:{PHONE} 1234 PX 120000"),
    ] {
        assert!(command(port, &cmd).starts_with("+OK"), "{cmd}");
    }
    let b = redis.store().await;
    synced(&b, Duration::from_secs(5)).await;
    let before = calls(&[port], "mget").await;
    let c = b.session_check("legacy", PHONE, now_ms()).await.unwrap();
    assert!(c.revoked);
    assert_eq!(c.phone_not_before, Some(1234));
    assert_eq!(c.epoch, Some(77));
    assert_eq!(calls(&[port], "mget").await, before, "from the cache");
}

/// Redis restarts with its data: the cache reads it again and answers
/// locally. Restarts empty: the old epoch is never answered again (every
/// old cookie refused), within the bound.
#[tokio::test]
async fn redis_restarts() {
    let redis = redis_or_skip!();
    let b = redis.store().await;
    let (epoch, _) = b.epoch().await.unwrap();
    let until = now_ms() + 60_000;
    b.revoke("kept", until).await.unwrap();
    synced(&b, Duration::from_secs(5)).await;

    let redis = redis.restart_keeping_data();
    let t = Instant::now();
    while b.session_cache_ready() && t.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    synced(&b, Duration::from_secs(5)).await;
    let before = calls(&[redis.port()], "mget").await;
    let c = b.session_check("kept", PHONE, now_ms()).await.unwrap();
    assert!(c.revoked, "kept across the restart");
    assert_eq!(c.epoch, Some(epoch));
    assert_eq!(calls(&[redis.port()], "mget").await, before, "local");

    let _redis = redis.restart_empty();
    let t = Instant::now();
    while b
        .session_check("kept", PHONE, now_ms())
        .await
        .ok()
        .map(|c| c.epoch)
        == Some(Some(epoch))
    {
        assert!(t.elapsed() < BOUND + SLACK, "old epoch still answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn on_a_cluster_too() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let (a, b) = (cluster.store().await, cluster.store().await);
    across_instances(&a, &b, &ports, "sid").await;
}

/// Behind Sentinel, after a failover: the subscription to the old master
/// died with it; the cache follows the new master.
#[tokio::test]
async fn behind_sentinel_after_a_failover() {
    let Some(mut set) = SentinelSet::start() else {
        return;
    };
    let (a, b) = (set.store().await, set.store().await);
    a.epoch().await.unwrap();
    synced(&b, Duration::from_secs(5)).await;
    a.revoke("before", now_ms() + 60_000).await.unwrap();
    enforced_within(&b, "before", BOUND).await;
    set.replicated();
    set.master.kill();
    let t = Instant::now();
    while set.master_port() != set.replica.port || !b.session_cache_ready() {
        assert!(t.elapsed() < Duration::from_secs(30), "no failover");
        let _ = b.healthy().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ports = [set.replica.port];
    synced(&a, Duration::from_secs(10)).await;
    assert!(
        b.session_check("before", PHONE, now_ms())
            .await
            .unwrap()
            .revoked
    );
    across_instances(&a, &b, &ports, "after").await;
}
