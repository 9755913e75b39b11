//! The in-process store: sharded maps (dashmap). Each decision happens
//! under one shard's lock and no guard ever lives across an `.await`.
//!
//! Everything here dies with the process, logouts included. Each process
//! start therefore draws a new epoch: after an otpgate restart every
//! cookie issued before it is refused and its shopper verifies again —
//! the fail-closed choice (a logged-out cookie must never work again).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use subtle::ConstantTimeEq;

use super::api::{Attempt, Block, Challenge, Count, Resend, SessionCheck, Store, StoreError};
use super::compact::{Counter, CounterKeys, Id, Pending};
use super::epoch::random_epoch;

pub struct MemoryStore {
    /// Drawn at start: this process's data is a new epoch.
    epoch: u64,
    /// Challenge id -> challenge; the entry lock serializes attempts.
    /// Compact forms (store/compact.rs): what a pending challenge costs.
    challenges: DashMap<Id, Pending>,
    /// Counter key (hashed) -> window, count and end.
    counters: DashMap<u128, Counter>,
    counter_keys: CounterKeys,
    /// Revoked session id -> unix ms after which the cookie is dead anyway.
    revoked: DashMap<String, u64>,
    /// Held request key -> (unix ms it expires, sealed request); removing
    /// the entry is the claim, so two claims cannot both get it.
    held: DashMap<String, (u64, Vec<u8>)>,
    /// Set by the first revocation: until then, session checks on the hot
    /// path skip the map entirely.
    any_revoked: std::sync::atomic::AtomicBool,
    /// Phone -> (not-before ms, entry expiry ms): the admin API's revoke.
    phone_not_before: DashMap<String, (u64, u64)>,
    /// Prefix -> block (pumping detector or admin API).
    blocks: DashMap<String, Block>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            epoch: random_epoch(),
            challenges: DashMap::new(),
            counters: DashMap::new(),
            counter_keys: CounterKeys::default(),
            revoked: DashMap::new(),
            held: DashMap::new(),
            any_revoked: std::sync::atomic::AtomicBool::new(false),
            phone_not_before: DashMap::new(),
            blocks: DashMap::new(),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(MemoryStore::default())
    }

    /// Drops expired entries; run every few seconds by [`spawn_sweeper`].
    pub fn sweep(&self, now_ms: u64) {
        self.challenges.retain(|_, c| c.expires_at > now_ms);
        self.revoked.retain(|_, until| *until > now_ms);
        self.held.retain(|_, (until, _)| *until > now_ms);
        self.phone_not_before
            .retain(|_, (_, until)| *until > now_ms);
        self.blocks.retain(|_, b| b.until_ms > now_ms);
        // Each counter goes when its window and the next are over.
        self.counters.retain(|_, c| c.ends > now_ms);
    }

    pub fn len(&self) -> usize {
        self.challenges.len() + self.counters.len() + self.revoked.len() + self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn spawn_sweeper(
    store: Arc<MemoryStore>,
    clock: Arc<dyn crate::clock::Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            store.sweep(clock.now_ms());
        }
    })
}

fn window_start(now_ms: u64, window: Duration) -> u64 {
    let w = window.as_millis().max(1) as u64;
    now_ms - now_ms % w
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_challenge(&self, id: &str, ch: Challenge) -> Result<(), StoreError> {
        self.challenges.insert(Id::of(id), Pending::of(ch));
        Ok(())
    }

    async fn challenge(&self, id: &str, now_ms: u64) -> Result<Option<Challenge>, StoreError> {
        Ok(self
            .challenges
            .get(&Id::of(id))
            .filter(|c| c.expires_at > now_ms)
            .map(|c| c.challenge()))
    }

    async fn attempt(
        &self,
        id: &str,
        candidate: [u8; 32],
        max_attempts: u32,
        now_ms: u64,
    ) -> Result<Attempt, StoreError> {
        let Entry::Occupied(mut entry) = self.challenges.entry(Id::of(id)) else {
            return Ok(Attempt::Missing);
        };
        if entry.get().expires_at <= now_ms {
            entry.remove();
            return Ok(Attempt::Missing);
        }
        let ch = entry.get_mut();
        if ch.attempts >= max_attempts {
            entry.remove();
            return Ok(Attempt::Exhausted);
        }
        ch.attempts += 1;
        if bool::from(ch.code_hash.ct_eq(&candidate)) {
            let (_, ch) = entry.remove_entry();
            return Ok(Attempt::Verified {
                phone: ch.phone.text(),
            });
        }
        let remaining = max_attempts - ch.attempts;
        if remaining == 0 {
            entry.remove();
            return Ok(Attempt::Exhausted);
        }
        Ok(Attempt::Wrong { remaining })
    }

    async fn replace_code(
        &self,
        id: &str,
        code_hash: [u8; 32],
        resend_after: Duration,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Resend, StoreError> {
        let Some(mut ch) = self.challenges.get_mut(&Id::of(id)) else {
            return Ok(Resend::Missing);
        };
        if ch.expires_at <= now_ms {
            return Ok(Resend::Missing);
        }
        let ready_at = ch.sent_at + resend_after.as_millis() as u64;
        if now_ms < ready_at {
            return Ok(Resend::TooSoon {
                retry_after: Duration::from_millis(ready_at - now_ms),
            });
        }
        ch.code_hash = code_hash;
        ch.sent_at = now_ms;
        ch.expires_at = now_ms + ttl.as_millis() as u64;
        ch.sends += 1;
        Ok(Resend::Replaced)
    }

    async fn count(
        &self,
        key: &str,
        cost: u64,
        max: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<Count, StoreError> {
        let start = window_start(now_ms, window);
        let retry_after = Duration::from_millis(start + window.as_millis() as u64 - now_ms);
        let fresh = Counter {
            start,
            count: 0,
            ends: start + 2 * (window.as_millis() as u64).max(1),
        };
        if cost == 0 {
            // A read creates nothing (a probe must not grow the map).
            let n = self
                .counters
                .get(&self.counter_keys.of(key))
                .filter(|c| c.start == start)
                .map_or(0, |c| c.count);
            return Ok(if n >= max {
                Count::Limited { retry_after }
            } else {
                Count::Allowed { count: n }
            });
        }
        let mut slot = self
            .counters
            .entry(self.counter_keys.of(key))
            .or_insert(fresh);
        if slot.start != start {
            *slot = fresh;
        }
        if slot.count + cost > max {
            return Ok(Count::Limited { retry_after });
        }
        slot.count += cost;
        Ok(Count::Allowed { count: slot.count })
    }

    async fn uncount(
        &self,
        key: &str,
        cost: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let start = window_start(now_ms, window);
        if let Some(mut slot) = self.counters.get_mut(&self.counter_keys.of(key)) {
            if slot.start == start {
                slot.count = slot.count.saturating_sub(cost);
            }
        }
        Ok(())
    }

    async fn revoke(&self, session_id: &str, until_ms: u64) -> Result<(), StoreError> {
        self.any_revoked
            .store(true, std::sync::atomic::Ordering::Release);
        self.revoked.insert(session_id.to_string(), until_ms);
        Ok(())
    }

    async fn is_revoked(&self, session_id: &str, now_ms: u64) -> Result<bool, StoreError> {
        if !self.any_revoked.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(false);
        }
        Ok(self.revoked.get(session_id).is_some_and(|u| *u > now_ms))
    }

    async fn session_check(
        &self,
        session_id: &str,
        phone: &str,
        now_ms: u64,
    ) -> Result<SessionCheck, StoreError> {
        // Both behind `any_revoked`: the hot path stays one atomic load
        // until the first logout or admin revoke.
        let phone_not_before = match self.any_revoked.load(std::sync::atomic::Ordering::Acquire) {
            false => None,
            true => self
                .phone_not_before
                .get(phone)
                .filter(|e| e.1 > now_ms)
                .map(|e| e.0),
        };
        Ok(SessionCheck {
            revoked: self.is_revoked(session_id, now_ms).await?,
            phone_not_before,
            epoch: Some(self.epoch),
        })
    }

    async fn revoke_phone(
        &self,
        phone: &str,
        not_before_ms: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let until = not_before_ms + ttl.as_millis() as u64;
        self.phone_not_before
            .insert(phone.to_string(), (not_before_ms, until));
        self.any_revoked
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    async fn put_block(&self, block: &Block) -> Result<(), StoreError> {
        self.blocks.insert(block.prefix.clone(), block.clone());
        Ok(())
    }

    async fn remove_block(&self, prefix: &str) -> Result<bool, StoreError> {
        Ok(self.blocks.remove(prefix).is_some())
    }

    async fn blocks(&self, now_ms: u64) -> Result<Vec<Block>, StoreError> {
        let mut out: Vec<Block> = self
            .blocks
            .iter()
            .filter(|b| b.until_ms > now_ms)
            .map(|b| b.value().clone())
            .collect();
        out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(out)
    }

    async fn blocked_until(
        &self,
        prefixes: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(prefixes
            .iter()
            .filter_map(|p| self.blocks.get(p).map(|b| b.until_ms))
            .filter(|u| *u > now_ms)
            .max())
    }

    async fn epoch(&self) -> Result<(u64, bool), StoreError> {
        Ok((self.epoch, false))
    }

    async fn healthy(&self) -> bool {
        true
    }

    async fn hold(
        &self,
        key: &str,
        sealed: Vec<u8>,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let until = now_ms + ttl.as_millis() as u64;
        self.held.insert(key.to_string(), (until, sealed));
        Ok(())
    }

    async fn extend_held(&self, key: &str, ttl: Duration, now_ms: u64) -> Result<bool, StoreError> {
        // Under the entry's lock: a claim cannot slip in between.
        let Entry::Occupied(mut entry) = self.held.entry(key.to_string()) else {
            return Ok(false);
        };
        if entry.get().0 <= now_ms {
            entry.remove();
            return Ok(false);
        }
        entry.get_mut().0 = now_ms + ttl.as_millis() as u64;
        Ok(true)
    }

    async fn claim_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .held
            .remove(key)
            .and_then(|(_, (until, sealed))| (until > now_ms).then_some(sealed)))
    }

    async fn peek_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        // Cloned out: no map guard outlives this call.
        Ok(self
            .held
            .get(key)
            .and_then(|e| (e.0 > now_ms).then(|| e.1.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(hash: [u8; 32]) -> Challenge {
        Challenge {
            phone: "+919812345678".into(),
            code_hash: hash,
            sent_at: 0,
            expires_at: 10_000,
            attempts: 0,
            sends: 1,
        }
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_single_use() {
        let s = MemoryStore::new();
        s.put_challenge("c", ch([1; 32])).await.unwrap();
        assert_eq!(
            s.attempt("c", [2; 32], 3, 1).await.unwrap(),
            Attempt::Wrong { remaining: 2 }
        );
        assert!(matches!(
            s.attempt("c", [1; 32], 3, 1).await.unwrap(),
            Attempt::Verified { .. }
        ));
        assert_eq!(
            s.attempt("c", [1; 32], 3, 1).await.unwrap(),
            Attempt::Missing,
            "single use"
        );
        s.put_challenge("d", ch([1; 32])).await.unwrap();
        for _ in 0..2 {
            s.attempt("d", [2; 32], 3, 1).await.unwrap();
        }
        assert_eq!(
            s.attempt("d", [2; 32], 3, 1).await.unwrap(),
            Attempt::Exhausted
        );
        assert_eq!(
            s.attempt("d", [1; 32], 3, 1).await.unwrap(),
            Attempt::Missing
        );
        s.put_challenge("e", ch([1; 32])).await.unwrap();
        assert_eq!(
            s.attempt("e", [1; 32], 3, 10_000).await.unwrap(),
            Attempt::Missing,
            "expired"
        );
    }

    /// Expired entries are dropped, so the map cannot grow without bound.
    #[tokio::test]
    async fn sweep_drops_what_expired() {
        let s = MemoryStore::new();
        s.put_challenge("c", ch([1; 32])).await.unwrap();
        s.count("k", 1, 5, Duration::from_secs(60), 1_000)
            .await
            .unwrap();
        s.revoke("sid", 5_000).await.unwrap();
        assert_eq!(s.len(), 3);
        s.sweep(9_999);
        assert_eq!(
            s.len(),
            2,
            "the revocation ended at 5 s; the challenge lives until 10 s"
        );
        s.sweep(20_000);
        assert_eq!(s.len(), 1, "only the counter is left");
        s.sweep(119_999);
        assert_eq!(
            s.len(),
            1,
            "kept through the next window (pumping reads it)"
        );
        s.sweep(120_000);
        assert!(
            s.is_empty(),
            "a counter goes with its window, not days later"
        );
    }

    #[tokio::test]
    async fn counters_window_and_limit() {
        let s = MemoryStore::new();
        let w = Duration::from_secs(60);
        for i in 1..=3 {
            assert_eq!(
                s.count("k", 1, 3, w, 1_000).await.unwrap(),
                Count::Allowed { count: i }
            );
        }
        assert!(
            matches!(s.count("k", 1, 3, w, 1_000).await.unwrap(), Count::Limited { retry_after } if retry_after == Duration::from_secs(59))
        );
        assert_eq!(
            s.count("k", 1, 3, w, 61_000).await.unwrap(),
            Count::Allowed { count: 1 }
        );
    }

    #[tokio::test]
    async fn a_held_request_is_claimed_once_and_expires() {
        let s = MemoryStore::default();
        let ttl = Duration::from_secs(60);
        s.hold("h", b"sealed".to_vec(), ttl, 1_000).await.unwrap();
        assert!(!s.extend_held("nope", ttl, 2_000).await.unwrap());
        assert!(s.extend_held("h", ttl, 2_000).await.unwrap());
        assert_eq!(
            s.claim_held("h", 61_999).await.unwrap().as_deref(),
            Some(&b"sealed"[..]),
            "it lives 60 s from the extension"
        );
        assert_eq!(s.claim_held("h", 3_000).await.unwrap(), None, "once");
        assert_eq!(s.peek_held("h", 3_000).await.unwrap(), None, "claimed");
        s.hold("e", b"x".to_vec(), ttl, 0).await.unwrap();
        assert_eq!(s.claim_held("e", 60_000).await.unwrap(), None);
    }
}
