//! The shared store: Redis, for several gateway instances behind one load
//! balancer. Every deciding operation is one Lua script (`redis/scripts.rs`),
//! and Redis runs a script alone from start to finish, so a script's read,
//! check and write are atomic across all instances (the same guarantee the
//! memory store gets from a shard lock). Redis TTLs only collect garbage;
//! expiry is decided by comparing the stored `expires_at` with the caller's
//! `now_ms`, exactly as the memory store does, so both stores answer alike.
//!
//! Key names and where they live on a Cluster: `redis/keys.rs`; the admin
//! API's keys (per-phone not-before, prefix blocks): `redis/admin.rs`;
//! held requests (sealed, ciphertext only): `redis/held.rs`.
//! Numbers that scripts store are computed in Rust and passed as strings,
//! so Lua's float formatting never touches them. One server, Sentinel or
//! Cluster: `store/target.rs` (configuration) and `redis/conn.rs`
//! (connections).
//!
//! A connection that Redis closed while the instance was idle (a Redis
//! restart) is only noticed when it is next used; that call fails with
//! "broken pipe" and the connection manager reconnects. Every call here is
//! safe to repeat (plain reads, idempotent writes, or scripts made
//! repeat-safe with an operation key), so [`RedisStore::run`] retries once
//! on a connection error: a healthy Redis never produces an error.

mod admin;
mod cache;
mod calls;
mod conn;
mod held;
mod keys;
mod packed;
mod revocations;
pub mod scripts;
mod subscriber;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{FromRedisValue, Script, ScriptInvocation};

use calls::{unavailable, Calls, CALL_TIMEOUT, GRACE_MS};
use revocations::Revocations;

use super::api::{Attempt, Block, Challenge, Count, Resend, SessionCheck, Store, StoreError};
use super::epoch::random_epoch;
pub use super::target::RedisTarget;
use crate::metrics::StoreMetrics;
use conn::Backend;
use keys::{Keys, CHANNEL, EPOCH};

const PING_TIMEOUT: Duration = Duration::from_millis(1000);
static PING: std::sync::LazyLock<redis::Cmd> = std::sync::LazyLock::new(|| redis::cmd("PING"));
static ROLE: std::sync::LazyLock<redis::Cmd> = std::sync::LazyLock::new(|| redis::cmd("ROLE"));

pub struct RedisStore {
    calls: Arc<Calls>,
    /// The session check's revocations, and the cache that answers it
    /// without a round trip (`redis/cache.rs`).
    revocations: Arc<Revocations>,
    /// The task that keeps the cache in step; ended with the store.
    subscriber: tokio::task::AbortHandle,
    keys: Keys,
    attempt: Script,
    replace: Script,
    count: Script,
    /// `COUNT` bare, for reads.
    read_count: Script,
    uncount: Script,
    put: Script,
    epoch: Script,
    extend_held: Script,
    extend_record: Script,
    hold_record: Script,
    claim_held: Script,
    claim_record: Script,
    use_once: Script,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

fn window_start(now_ms: u64, window: Duration) -> u64 {
    let w = window.as_millis().max(1) as u64;
    now_ms - now_ms % w
}

impl RedisStore {
    /// Connects once (failing if Redis cannot be reached within a few
    /// seconds); afterwards it reconnects by itself. `url` is any form
    /// [`RedisTarget::from_url`] takes. Error messages never contain the
    /// URL's password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let target = RedisTarget::from_url(url).map_err(unavailable)?;
        Self::connect_to(&target).await
    }

    /// [`Self::connect`] to a checked target (e.g. a Cluster's nodes).
    pub async fn connect_to(target: &RedisTarget) -> Result<Self, StoreError> {
        Self::open(target, StoreMetrics::default()).await
    }

    /// [`Self::connect`] to a checked target, counting errors and timing
    /// calls in `metrics`.
    pub async fn open(target: &RedisTarget, metrics: StoreMetrics) -> Result<Self, StoreError> {
        let backend = tokio::time::timeout(CALL_TIMEOUT * 3, Backend::open(target, CALL_TIMEOUT))
            .await
            .map_err(|_| unavailable(format!("no answer from {target}")))?
            .map_err(|e| unavailable(format!("{e} ({target})")))?;
        let keys = Keys {
            cluster: target.is_cluster(),
        };
        let calls = Arc::new(Calls { backend, metrics });
        let revocations = Arc::new(Revocations::new(calls.clone(), keys));
        let subscriber = subscriber::spawn(revocations.clone(), calls.clone(), target.clone());
        Ok(RedisStore {
            calls,
            revocations,
            subscriber,
            keys,
            attempt: Script::new(&scripts::once(scripts::ATTEMPT)),
            replace: Script::new(&scripts::once(scripts::REPLACE)),
            count: Script::new(&scripts::once(scripts::COUNT)),
            read_count: Script::new(scripts::COUNT),
            uncount: Script::new(&scripts::once(scripts::UNCOUNT)),
            put: Script::new(scripts::PUT),
            epoch: Script::new(scripts::EPOCH),
            extend_held: Script::new(scripts::EXTEND_HELD),
            extend_record: Script::new(scripts::EXTEND_RECORD),
            hold_record: Script::new(scripts::HOLD_RECORD),
            claim_held: Script::new(scripts::CLAIM_HELD),
            claim_record: Script::new(scripts::CLAIM_RECORD),
            use_once: Script::new(scripts::USE_ONCE),
        })
    }

    /// Whether the revocation cache answers session checks now, without
    /// a round trip (`redis/cache.rs`); `false` until it has synced, and
    /// whenever it is out of step.
    pub fn session_cache_ready(&self) -> bool {
        self.revocations.cache.trusted()
    }

    /// Whether the cache's subscriber holds a complete snapshot: `false`
    /// from the moment it notices a dropped subscription (or any doubt)
    /// until it has read everything again.
    pub fn session_cache_synced(&self) -> bool {
        self.revocations.cache.synced()
    }

    async fn invoke<T: FromRedisValue>(
        &self,
        op: &'static str,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.calls.invoke(op, inv).await
    }

    async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        self.calls.query(op, cmd).await
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put_challenge(&self, id: &str, ch: Challenge) -> Result<(), StoreError> {
        let px = ch.expires_at.saturating_sub(ch.sent_at) + GRACE_MS;
        let mut inv = self.put.key(self.keys.challenge(id));
        inv.arg(packed::pack(&ch)).arg(px);
        self.invoke::<i64>("put_challenge", &inv).await?;
        Ok(())
    }

    async fn challenge(&self, id: &str, now_ms: u64) -> Result<Option<Challenge>, StoreError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.keys.challenge(id)).arg("C");
        let v: Option<Vec<u8>> = self.query("challenge", &cmd).await?;
        let Some(v) = v else { return Ok(None) };
        let ch = packed::unpack(&v).ok_or_else(|| unavailable("malformed challenge"))?;
        Ok((ch.expires_at > now_ms).then_some(ch))
    }

    async fn attempt(
        &self,
        id: &str,
        candidate: crate::otp::CodeHash,
        max_attempts: u32,
        now_ms: u64,
    ) -> Result<Attempt, StoreError> {
        let k = self.keys.challenge(id);
        let mut inv = self.attempt.key(&k);
        inv.key(self.keys.operation_for(&k))
            .arg(&candidate[..])
            .arg(max_attempts)
            .arg(now_ms);
        let r: Vec<String> = self.invoke("attempt", &inv).await?;
        Ok(match (r.first().map(String::as_str), r.get(1)) {
            (Some("verified"), Some(phone)) => Attempt::Verified {
                phone: hex::decode(phone)
                    .ok()
                    .and_then(|b| packed::phone_text(&b))
                    .ok_or_else(|| unavailable("malformed challenge"))?,
            },
            (Some("wrong"), Some(n)) => Attempt::Wrong {
                remaining: n.parse().map_err(unavailable)?,
            },
            (Some("exhausted"), _) => Attempt::Exhausted,
            (Some("missing"), _) => Attempt::Missing,
            _ => return Err(unavailable("unexpected script answer")),
        })
    }

    async fn replace_code(
        &self,
        id: &str,
        code_hash: crate::otp::CodeHash,
        resend_after: Duration,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Resend, StoreError> {
        let ttl_ms = ttl.as_millis() as u64;
        let k = self.keys.challenge(id);
        let mut inv = self.replace.key(&k);
        inv.key(self.keys.operation_for(&k))
            .arg(packed::code_and_times(&code_hash, now_ms, now_ms + ttl_ms))
            .arg(now_ms)
            .arg(resend_after.as_millis() as u64)
            .arg(ttl_ms + GRACE_MS);
        let r: Vec<String> = self.invoke("replace_code", &inv).await?;
        Ok(match (r.first().map(String::as_str), r.get(1)) {
            (Some("replaced"), _) => Resend::Replaced,
            (Some("toosoon"), Some(ms)) => Resend::TooSoon {
                retry_after: Duration::from_millis(ms.parse().map_err(unavailable)?),
            },
            (Some("missing"), _) => Resend::Missing,
            _ => return Err(unavailable("unexpected script answer")),
        })
    }

    async fn count(
        &self,
        key_: &str,
        cost: u64,
        max: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<Count, StoreError> {
        let start = window_start(now_ms, window);
        let w = window.as_millis() as u64;
        let retry_after = Duration::from_millis(start + w - now_ms);
        // Kept through the following window too: pumping reads the
        // previous window's count.
        let px = start + 2 * w.max(1) - now_ms + GRACE_MS;
        let (k, field) = self.keys.counter(start, w, key_);
        // A read (cost 0) changes nothing, so repeating it is safe by
        // nature: no operation key for it to leave behind.
        let mut inv = if cost == 0 {
            self.read_count.key(&k)
        } else {
            let mut inv = self.count.key(&k);
            inv.key(self.keys.operation_for(k.as_bytes()));
            inv
        };
        inv.arg(&field[..]).arg(cost).arg(max).arg(px);
        let n: i64 = self.invoke("count", &inv).await?;
        Ok(match u64::try_from(n) {
            Ok(count) => Count::Allowed { count },
            Err(_) => Count::Limited { retry_after },
        })
    }

    async fn uncount(
        &self,
        key_: &str,
        cost: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let w = window.as_millis() as u64;
        let (k, field) = self.keys.counter(window_start(now_ms, window), w, key_);
        let mut inv = self.uncount.key(&k);
        inv.key(self.keys.operation_for(k.as_bytes()))
            .arg(&field[..])
            .arg(cost);
        self.invoke::<i64>("uncount", &inv).await?;
        Ok(())
    }

    async fn revoke(&self, session_id: &str, until_ms: u64) -> Result<(), StoreError> {
        self.revocations.revoke(session_id, until_ms).await
    }

    async fn is_revoked(&self, session_id: &str, now_ms: u64) -> Result<bool, StoreError> {
        // The same cache (or round trip) as the session check: a pumping
        // network block is a revocation too.
        let check = self.revocations.check(session_id, "", now_ms).await?;
        Ok(check.revoked)
    }

    async fn session_check(
        &self,
        session_id: &str,
        phone: &str,
        now_ms: u64,
    ) -> Result<SessionCheck, StoreError> {
        self.revocations.check(session_id, phone, now_ms).await
    }

    async fn revoke_phone(
        &self,
        phone: &str,
        not_before_ms: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.revocations
            .revoke_phone(phone, not_before_ms, ttl)
            .await
    }

    async fn put_block(&self, block: &Block) -> Result<(), StoreError> {
        self.add_block(block).await
    }

    async fn remove_block(&self, prefix: &str) -> Result<bool, StoreError> {
        self.delete_block(prefix).await
    }

    async fn blocks(&self, now_ms: u64) -> Result<Vec<Block>, StoreError> {
        self.list_blocks(now_ms).await
    }

    async fn blocked_until(
        &self,
        prefixes: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.block_end(prefixes, now_ms).await
    }

    async fn epoch(&self) -> Result<(u64, bool), StoreError> {
        let mut inv = self.epoch.key(EPOCH);
        inv.key(self.keys.rev_ready())
            .arg(random_epoch())
            .arg(CHANNEL);
        let (epoch, created): (u64, u8) = self.invoke("epoch", &inv).await?;
        Ok((epoch, created == 1))
    }

    async fn healthy(&self) -> bool {
        // Through `run`, so a connection Redis closed while this instance
        // was idle is replaced on the spot instead of failing the probe.
        // On a Cluster, PING goes to every master: one down is not ready.
        // Behind Sentinel, ROLE also notices a connection to an old master
        // that is a replica now (it answers reads, and would hold on to it).
        let probe = async {
            if self.calls.backend.is_sentinel() {
                let role: Vec<redis::Value> = self.query("ping", &ROLE).await?;
                let master =
                    matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master");
                if !master {
                    self.calls.backend.failed_role();
                }
                Ok::<bool, StoreError>(master)
            } else {
                self.query::<String>("ping", &PING).await.map(|_| true)
            }
        };
        matches!(
            tokio::time::timeout(PING_TIMEOUT, probe).await,
            Ok(Ok(true))
        )
    }

    async fn hold(
        &self,
        key_: &str,
        sealed: Vec<u8>,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.hold_sealed(key_, sealed, ttl, now_ms).await
    }

    async fn extend_held(
        &self,
        key_: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        self.extend_sealed(key_, ttl, now_ms).await
    }

    async fn claim_held(&self, key_: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.claim_sealed(key_, now_ms).await
    }

    async fn peek_held(&self, key_: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.peek_sealed(key_, now_ms).await
    }

    async fn use_once(&self, key_: &str, until_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        self.use_key(key_, until_ms, now_ms).await
    }
}
