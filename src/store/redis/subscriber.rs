//! The task that keeps this instance's revocation cache (`redis/cache.rs`)
//! in step with Redis: subscribe, see a probe of its own come through,
//! read a snapshot, then apply
//! every message and send a heartbeat every [`HEARTBEAT_EVERY`]. Whatever
//! goes wrong — the connection drops (`CLIENT KILL TYPE pubsub`, a Redis
//! restart, a failover), a message is missing, the epoch changes — the
//! cache forgets everything (every session check goes to Redis again) and
//! the task starts over; it never trusts what it held before a gap.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::cache::{Message, Verdict, HEARTBEAT_EVERY};
use super::calls::{system_ms, Calls, CALL_TIMEOUT};
use super::conn::subscriber;
use super::keys::CHANNEL;
use super::revocations::Revocations;
use crate::store::target::RedisTarget;

/// How long to wait before subscribing again after a failure, at most.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Heartbeats between two prunes of ended entries.
const PRUNE_EVERY: u32 = 40;

pub(super) fn spawn(
    revocations: Arc<Revocations>,
    calls: Arc<Calls>,
    target: RedisTarget,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(20);
        loop {
            revocations.cache.forget();
            let why = follow(&revocations, &calls, &target).await;
            revocations.cache.forget();
            calls.metrics.session_cache_synced.set(0);
            if why.synced {
                backoff = Duration::from_millis(20);
            }
            tracing::info!(
                reason = why.reason,
                "revocation cache out of step with redis; session checks ask redis until it is synced again"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
    .abort_handle()
}

struct Stop {
    reason: String,
    /// Whether the cache had been synced before this stop.
    synced: bool,
}

fn stop(reason: impl std::fmt::Display, synced: bool) -> Stop {
    Stop {
        reason: reason.to_string(),
        synced,
    }
}

/// One subscription, from connecting to its end.
async fn follow(r: &Revocations, calls: &Calls, target: &RedisTarget) -> Stop {
    let backend = &calls.backend;
    let subscribed = tokio::time::timeout(CALL_TIMEOUT, async {
        let mut pubsub = subscriber(backend, target).await?;
        // Confirmed when this returns: from here on nothing published is
        // missed, so a snapshot read after it is complete.
        pubsub.subscribe(CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub)
    })
    .await;
    let pubsub = match subscribed {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return stop(format!("subscribe: {e}"), false),
        Err(_) => return stop("subscribe: timed out", false),
    };
    let mut messages = pubsub.into_on_message();
    // The subscription is real only once a message comes through it: a
    // probe, published like a revocation. A refused SUBSCRIBE (an ACL), a
    // Cluster node cut off from the bus, a connection to a dead master all
    // end here, before anything is trusted.
    let nonce = rand::random::<u64>();
    let mut probe = redis::cmd("PUBLISH");
    probe.arg(CHANNEL).arg(format!("0|0|p|{nonce}"));
    if let Err(e) = calls.query::<i64>("revocation_probe", &probe).await {
        return stop(format!("probe: {e}"), false);
    }
    let confirmed = tokio::time::timeout(CALL_TIMEOUT, async {
        while let Some(m) = messages.next().await {
            // Anything else published meanwhile is in the snapshot below.
            let payload: String = m.get_payload().unwrap_or_default();
            if Message::parse(&payload) == Some(Message::Probe(nonce)) {
                return true;
            }
        }
        false
    })
    .await;
    if confirmed != Ok(true) {
        return stop("the subscription did not deliver its probe", false);
    }
    match r.snapshot().await {
        Ok((sent, snap)) => {
            r.cache.install(sent, snap);
            calls.metrics.session_cache_synced.set(1);
        }
        Err(e) => return stop(format!("snapshot: {e}"), false),
    }
    tracing::debug!("revocation cache synced with redis");
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut beats = 0u32;
    loop {
        tokio::select! {
            m = messages.next() => {
                let Some(m) = m else {
                    return stop("subscription closed", true);
                };
                let payload: String = m.get_payload().unwrap_or_default();
                let verdict = match Message::parse(&payload) {
                    Some(m) => r.cache.apply(m),
                    None => Verdict::Resync,
                };
                if verdict == Verdict::Resync {
                    return stop("a revocation message was missed, or a new epoch", true);
                }
            }
            _ = tick.tick() => {
                // A failed heartbeat changes nothing: the trust runs out
                // by itself within `cache::TRUST`.
                if let Ok((sent, epoch, seq)) = r.heartbeat().await {
                    if r.cache.beat(sent, epoch, seq) == Verdict::Resync {
                        return stop("redis holds other revocations than the cache", true);
                    }
                }
                beats += 1;
                if beats.is_multiple_of(PRUNE_EVERY) {
                    r.cache.prune(system_ms());
                }
            }
        }
    }
}
