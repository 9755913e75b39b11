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
use super::compact::{
    kind, live, set_until, stored, until, Counter, CounterKeys, Id, Pending, Place, Slot,
};
use super::epoch::random_epoch;

pub struct MemoryStore {
    /// Drawn at start: this process's data is a new epoch.
    epoch: u64,
    /// Challenge id -> the challenge and the records beside it; the entry
    /// lock serializes attempts. Compact forms (store/compact.rs): what a
    /// pending challenge costs.
    challenges: DashMap<Id, Box<Slot>>,
    /// Counter key (hashed) -> window, count and end.
    counters: DashMap<u64, Counter>,
    counter_keys: CounterKeys,
    /// Revoked session id -> unix ms after which the cookie is dead anyway.
    revoked: DashMap<String, u64>,
    /// Held key -> its end and bytes (`compact::stored`), for held keys
    /// that are not a challenge's record (`compact::Place`): held
    /// requests under their hold id, above all. Removing the entry (or
    /// the record) is the claim, so two claims cannot both get it.
    held: DashMap<Id, Box<[u8]>>,
    /// Used single-use key -> unix ms until which it stays used; the
    /// entry lock makes test-and-set one step.
    used: DashMap<String, u64>,
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
            used: DashMap::new(),
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
        self.challenges.retain(|_, slot| slot.sweep(now_ms));
        self.revoked.retain(|_, until| *until > now_ms);
        self.held.retain(|_, v| until(v) > now_ms);
        self.used.retain(|_, until| *until > now_ms);
        self.phone_not_before
            .retain(|_, (_, until)| *until > now_ms);
        self.blocks.retain(|_, b| b.until_ms > now_ms);
        // Each counter goes when its window and the next are over.
        self.counters.retain(|_, c| c.lives(now_ms));
    }

    pub fn len(&self) -> usize {
        let challenges: usize = self.challenges.iter().map(|s| s.len()).sum();
        challenges + self.counters.len() + self.revoked.len() + self.held.len()
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
        let mut slot = self.challenges.entry(Id::of(id)).or_default();
        slot.pending = Some(Pending::of(ch));
        Ok(())
    }

    async fn challenge(&self, id: &str, now_ms: u64) -> Result<Option<Challenge>, StoreError> {
        Ok(self
            .challenges
            .get(&Id::of(id))
            .and_then(|s| s.pending.as_ref().map(Pending::challenge))
            .filter(|c| c.expires_at > now_ms))
    }

    async fn attempt(
        &self,
        id: &str,
        candidate: crate::otp::CodeHash,
        max_attempts: u32,
        now_ms: u64,
    ) -> Result<Attempt, StoreError> {
        let Entry::Occupied(mut entry) = self.challenges.entry(Id::of(id)) else {
            return Ok(Attempt::Missing);
        };
        let slot = entry.get_mut();
        let (answer, done) = match slot.pending.as_mut() {
            None => (Attempt::Missing, false),
            Some(ch) if ch.expires_at <= now_ms => (Attempt::Missing, true),
            Some(ch) if ch.attempts() >= max_attempts => (Attempt::Exhausted, true),
            Some(ch) => {
                let remaining = max_attempts - ch.attempt();
                if bool::from(ch.code_hash.ct_eq(&candidate)) {
                    let phone = ch.phone.text();
                    (Attempt::Verified { phone }, true)
                } else if remaining == 0 {
                    (Attempt::Exhausted, true)
                } else {
                    (Attempt::Wrong { remaining }, false)
                }
            }
        };
        if done {
            // Single use: the challenge goes; its records stay theirs.
            slot.pending = None;
            if slot.is_empty() {
                entry.remove();
            }
        }
        Ok(answer)
    }

    async fn replace_code(
        &self,
        id: &str,
        code_hash: crate::otp::CodeHash,
        resend_after: Duration,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Resend, StoreError> {
        let Some(mut slot) = self.challenges.get_mut(&Id::of(id)) else {
            return Ok(Resend::Missing);
        };
        let Some(ch) = slot.pending.as_mut() else {
            return Ok(Resend::Missing);
        };
        if ch.expires_at <= now_ms {
            return Ok(Resend::Missing);
        }
        let ready_at = ch.sent_at() + resend_after.as_millis() as u64;
        if now_ms < ready_at {
            return Ok(Resend::TooSoon {
                retry_after: Duration::from_millis(ready_at - now_ms),
            });
        }
        ch.renew(code_hash, now_ms, now_ms + ttl.as_millis() as u64);
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
        let fresh = Counter::new(start, start + 2 * (window.as_millis() as u64).max(1));
        if cost == 0 {
            // A read creates nothing (a probe must not grow the map).
            let n = self
                .counters
                .get(&self.counter_keys.of(key))
                .filter(|c| c.start == start)
                .map_or(0, |c| c.count());
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
        // A counter holds a u32 (store/compact.rs): a `max` above it
        // counts as u32::MAX, so the limit holds early, never late.
        let max = max.min(u64::from(u32::MAX));
        let count = slot.count().saturating_add(cost);
        if count > max {
            return Ok(Count::Limited { retry_after });
        }
        slot.set(count);
        Ok(Count::Allowed {
            count: slot.count(),
        })
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
                let count = slot.count().saturating_sub(cost);
                slot.set(count);
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
        match Place::of(key) {
            Place::Record(id, k) => {
                self.challenges
                    .entry(id)
                    .or_default()
                    .records
                    .set(kind(&k), until, &sealed)
            }
            Place::Own(id) => {
                self.held.insert(id, stored(until, &sealed));
            }
        }
        Ok(())
    }

    async fn extend_held(&self, key: &str, ttl: Duration, now_ms: u64) -> Result<bool, StoreError> {
        // Under the entry's lock: a claim cannot slip in between.
        let extend = |v: &mut Box<[u8]>| {
            let live = until(v) > now_ms;
            if live {
                set_until(v, now_ms + ttl.as_millis() as u64);
            }
            live
        };
        Ok(match Place::of(key) {
            Place::Record(id, k) => self.challenges.get_mut(&id).is_some_and(|mut s| {
                let live = s.records.get(kind(&k)).is_some_and(|(u, _)| u > now_ms);
                live && s
                    .records
                    .set_until(kind(&k), now_ms + ttl.as_millis() as u64)
            }),
            Place::Own(id) => self.held.get_mut(&id).is_some_and(|mut v| extend(&mut v)),
        })
    }

    async fn claim_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let taken = match Place::of(key) {
            Place::Record(id, k) => {
                let Entry::Occupied(mut slot) = self.challenges.entry(id) else {
                    return Ok(None);
                };
                let v = slot.get_mut().records.take(kind(&k));
                if slot.get().is_empty() {
                    slot.remove();
                }
                return Ok(v.and_then(|(until, v)| (until > now_ms).then_some(v)));
            }
            Place::Own(id) => self.held.remove(&id).map(|(_, v)| v),
        };
        Ok(taken.and_then(|v| live(&v, now_ms)))
    }

    async fn peek_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        // Copied out: no map guard outlives this call.
        Ok(match Place::of(key) {
            Place::Record(id, k) => self.challenges.get(&id).and_then(|s| {
                let (until, v) = s.records.get(kind(&k))?;
                (until > now_ms).then(|| v.to_vec())
            }),
            Place::Own(id) => self.held.get(&id).and_then(|v| live(&v, now_ms)),
        })
    }

    async fn use_once(&self, key: &str, until_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        match self.used.entry(key.to_string()) {
            Entry::Occupied(mut e) if *e.get() <= now_ms => {
                e.insert(until_ms);
                Ok(true)
            }
            Entry::Occupied(_) => Ok(false),
            Entry::Vacant(e) => {
                e.insert(until_ms);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(hash: [u8; 16]) -> Challenge {
        Challenge {
            phone: "+919812345678".into(),
            code_hash: hash,
            sent_at: 0,
            expires_at: 10_000,
            attempts: 0,
            sends: 1,
        }
    }

    /// A challenge ends at `expires_at` exactly, for reading and for
    /// guessing alike (the code page and the verify step agree).
    #[tokio::test]
    async fn a_challenge_is_over_at_its_expiry_millisecond() {
        let s = MemoryStore::new();
        s.put_challenge("c", ch([1; 16])).await.unwrap();
        assert!(s.challenge("c", 9_999).await.unwrap().is_some());
        assert!(s.challenge("c", 10_000).await.unwrap().is_none());
        let late = s.attempt("c", [1; 16], 5, 10_000).await.unwrap();
        assert!(matches!(late, Attempt::Missing), "{late:?}");
    }

    /// A challenge whose attempts already reach the limit (the limit was
    /// lowered by a reload while it was pending) takes no more guesses,
    /// the right code included.
    #[tokio::test]
    async fn a_challenge_at_its_limit_refuses_even_the_right_code() {
        let s = MemoryStore::new();
        let spent = Challenge {
            attempts: 3,
            ..ch([1; 16])
        };
        s.put_challenge("c", spent.clone()).await.unwrap();
        let a = s.attempt("c", [1; 16], 3, 0).await.unwrap();
        assert!(matches!(a, Attempt::Exhausted), "{a:?}");
        assert!(
            s.challenge("c", 0).await.unwrap().is_none(),
            "and it is gone"
        );
        s.put_challenge(
            "d",
            Challenge {
                attempts: 5,
                ..spent
            },
        )
        .await
        .unwrap();
        let a = s.attempt("d", [1; 16], 3, 0).await.unwrap();
        assert!(matches!(a, Attempt::Exhausted), "{a:?}");
    }

    /// A resend waits `resend_after` from the last send (and says how
    /// long is left), then replaces the code, restarts the expiry from
    /// now and counts the send.
    #[tokio::test]
    async fn a_resend_waits_then_renews_code_expiry_and_count() {
        let s = MemoryStore::new();
        let first = Challenge {
            sent_at: 1_000,
            expires_at: 301_000,
            ..ch([1; 16])
        };
        s.put_challenge("c", first).await.unwrap();
        let (wait, ttl) = (Duration::from_secs(30), Duration::from_secs(300));
        let soon = s
            .replace_code("c", [2; 16], wait, ttl, 20_000)
            .await
            .unwrap();
        assert!(
            matches!(soon, Resend::TooSoon { retry_after } if retry_after == Duration::from_secs(11)),
            "{soon:?}"
        );
        let ready = s
            .replace_code("c", [2; 16], wait, ttl, 31_000)
            .await
            .unwrap();
        assert!(matches!(ready, Resend::Replaced), "{ready:?}");
        let now = s.challenge("c", 31_000).await.unwrap().unwrap();
        assert_eq!(
            (now.code_hash, now.sent_at, now.expires_at, now.sends),
            ([2; 16], 31_000, 331_000, 2)
        );
        let again = s
            .replace_code("c", [3; 16], wait, ttl, 60_999)
            .await
            .unwrap();
        assert!(matches!(again, Resend::TooSoon { .. }), "{again:?}");
        let old = s.attempt("c", [1; 16], 5, 61_000).await.unwrap();
        assert!(matches!(old, Attempt::Wrong { remaining: 4 }), "{old:?}");
    }

    /// A revocation and a phone's "not before" time hold until their
    /// end, exclusive, like every end in this store (the sweep keeps an
    /// entry while `end > now`); before the first one the check reads
    /// nothing.
    #[tokio::test]
    async fn revocations_and_not_before_times_hold_until_their_end() {
        let s = MemoryStore::new();
        let check = |now| s.session_check("sid", "+919812345678", now);
        let fresh = check(0).await.unwrap();
        assert!(!fresh.revoked && fresh.phone_not_before.is_none());
        s.revoke("sid", 5_000).await.unwrap();
        s.revoke_phone("+919812345678", 1_000, Duration::from_secs(9))
            .await
            .unwrap();
        for (now, revoked, not_before) in [
            (0, true, Some(1_000)),
            (4_999, true, Some(1_000)),
            (5_000, false, Some(1_000)),
            (9_999, false, Some(1_000)),
            (10_000, false, None),
        ] {
            let c = check(now).await.unwrap();
            assert_eq!(
                (c.revoked, c.phone_not_before),
                (revoked, not_before),
                "at {now}"
            );
            assert_eq!(s.is_revoked("sid", now).await.unwrap(), revoked, "at {now}");
        }
        let other = s.session_check("other", "+919800000000", 0).await.unwrap();
        assert!(!other.revoked && other.phone_not_before.is_none());
    }

    /// Extending a held value (a held request under its own id, a record
    /// beside a challenge) works while it lives, from now, and not at or
    /// after its end.
    #[tokio::test]
    async fn a_held_value_extends_from_now_while_it_lives() {
        let s = MemoryStore::new();
        let record = format!("m:{}", crate::session::random_id());
        for key in ["held-request", record.as_str()] {
            let ttl = Duration::from_secs(10);
            s.hold(key, b"v".to_vec(), ttl, 0).await.unwrap();
            assert!(s
                .extend_held(key, Duration::from_secs(20), 9_999)
                .await
                .unwrap());
            assert!(s.peek_held(key, 29_998).await.unwrap().is_some(), "{key}");
            assert!(s.peek_held(key, 29_999).await.unwrap().is_none(), "{key}");
            assert!(
                !s.extend_held(key, ttl, 29_999).await.unwrap(),
                "{key}: over"
            );
            assert!(!s.extend_held("never-held", ttl, 0).await.unwrap());
        }
    }

    /// A claim takes a held value once, while it lives; at its end it
    /// is gone (and claimed away all the same: nothing lingers).
    #[tokio::test]
    async fn a_held_value_is_claimed_once_while_it_lives() {
        let s = MemoryStore::new();
        let record = format!("m:{}", crate::session::random_id());
        let ttl = Duration::from_secs(10);
        for key in ["held-request", record.as_str()] {
            s.hold(key, b"v".to_vec(), ttl, 0).await.unwrap();
            assert_eq!(s.claim_held(key, 9_999).await.unwrap(), Some(b"v".to_vec()));
            assert_eq!(s.claim_held(key, 9_999).await.unwrap(), None, "{key}: once");
            s.hold(key, b"w".to_vec(), ttl, 0).await.unwrap();
            assert_eq!(
                s.claim_held(key, 10_000).await.unwrap(),
                None,
                "{key}: ended"
            );
            assert_eq!(s.peek_held(key, 0).await.unwrap(), None, "{key}: taken");
        }
    }

    /// The admin API's blocks: listed while they last (sorted), removed
    /// once (the second removal says there was none).
    #[tokio::test]
    async fn blocks_list_while_they_last_and_remove_once() {
        let s = MemoryStore::new();
        for (prefix, until_ms) in [("+9198", 5_000), ("+9170", 9_000)] {
            let b = Block {
                prefix: prefix.into(),
                until_ms,
                source: "admin".into(),
            };
            s.put_block(&b).await.unwrap();
        }
        let s = &s;
        let listed = |now| async move {
            let b = s.blocks(now).await.unwrap();
            b.into_iter().map(|b| b.prefix).collect::<Vec<_>>()
        };
        assert_eq!(listed(4_999).await, ["+9170", "+9198"]);
        assert_eq!(listed(5_000).await, ["+9170"]);
        assert!(listed(9_000).await.is_empty());
        assert!(s.remove_block("+9170").await.unwrap());
        assert!(!s.remove_block("+9170").await.unwrap(), "already gone");
        assert!(!s.remove_block("+1").await.unwrap(), "never there");
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_single_use() {
        let s = MemoryStore::new();
        s.put_challenge("c", ch([1; 16])).await.unwrap();
        assert_eq!(
            s.attempt("c", [2; 16], 3, 1).await.unwrap(),
            Attempt::Wrong { remaining: 2 }
        );
        assert!(matches!(
            s.attempt("c", [1; 16], 3, 1).await.unwrap(),
            Attempt::Verified { .. }
        ));
        assert_eq!(
            s.attempt("c", [1; 16], 3, 1).await.unwrap(),
            Attempt::Missing,
            "single use"
        );
        s.put_challenge("d", ch([1; 16])).await.unwrap();
        for _ in 0..2 {
            s.attempt("d", [2; 16], 3, 1).await.unwrap();
        }
        assert_eq!(
            s.attempt("d", [2; 16], 3, 1).await.unwrap(),
            Attempt::Exhausted
        );
        assert_eq!(
            s.attempt("d", [1; 16], 3, 1).await.unwrap(),
            Attempt::Missing
        );
        s.put_challenge("e", ch([1; 16])).await.unwrap();
        assert_eq!(
            s.attempt("e", [1; 16], 3, 10_000).await.unwrap(),
            Attempt::Missing,
            "expired"
        );
    }

    /// Expired entries are dropped, so the map cannot grow without bound.
    #[tokio::test]
    async fn sweep_drops_what_expired() {
        let s = MemoryStore::new();
        s.put_challenge("c", ch([1; 16])).await.unwrap();
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

    #[tokio::test]
    async fn a_key_is_used_once_until_its_end() {
        let s = MemoryStore::new();
        assert!(s.use_once("p", 5_000, 1_000).await.unwrap());
        assert!(!s.use_once("p", 5_000, 1_001).await.unwrap());
        assert!(!s.use_once("p", 9_000, 4_999).await.unwrap());
        assert!(s.use_once("p", 9_000, 5_000).await.unwrap(), "ended");
    }
}
