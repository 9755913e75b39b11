//! The store's trait and the values it deals in, shared by both
//! implementations.

use std::time::Duration;

use async_trait::async_trait;

/// One outstanding code. Only a keyed hash of the code is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// E.164.
    pub phone: String,
    pub code_hash: crate::otp::CodeHash,
    /// Unix milliseconds.
    pub sent_at: u64,
    pub expires_at: u64,
    /// Wrong codes so far.
    pub attempts: u32,
    pub sends: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The code matched; the challenge is gone (single use).
    Verified { phone: String },
    /// Wrong code; `remaining` tries left.
    Wrong { remaining: u32 },
    /// This attempt used up the last try, or the challenge was already void.
    Exhausted,
    /// No such challenge, or it expired.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    Replaced,
    TooSoon { retry_after: Duration },
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Allowed { count: u64 },
    Limited { retry_after: Duration },
}

/// What the per-request session check learns in one store call (at most
/// one round trip; none while the Redis store's revocation cache is in
/// step: `redis/cache.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCheck {
    pub revoked: bool,
    /// Unix ms before which every session of the cookie's phone is ended
    /// (the admin API's revoke), if one was set within `session.ttl`.
    pub phone_not_before: Option<u64>,
    /// The store's epoch; `None` when it is missing (the store lost its
    /// data since the epoch was written).
    pub epoch: Option<u64>,
}

/// A number-prefix block, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Block {
    /// E.164 prefix with `+`.
    pub prefix: String,
    /// Unix ms.
    pub until_ms: u64,
    /// `"pumping"` (the detector) or `"admin"` (the API).
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn put_challenge(&self, id: &str, ch: Challenge) -> Result<(), StoreError>;
    async fn challenge(&self, id: &str, now_ms: u64) -> Result<Option<Challenge>, StoreError>;
    /// Counts the attempt, then compares: at most `max_attempts` guesses
    /// are ever evaluated, however many arrive at once.
    async fn attempt(
        &self,
        id: &str,
        candidate: crate::otp::CodeHash,
        max_attempts: u32,
        now_ms: u64,
    ) -> Result<Attempt, StoreError>;
    /// Replaces the code if `resend_after` has passed since the last send.
    async fn replace_code(
        &self,
        id: &str,
        code_hash: crate::otp::CodeHash,
        resend_after: Duration,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Resend, StoreError>;
    /// Adds `cost` to the fixed-window counter `key` unless that would pass
    /// `max`; `cost = 0` only reads.
    async fn count(
        &self,
        key: &str,
        cost: u64,
        max: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<Count, StoreError>;
    /// Takes back `cost` from a counter (a send that did not happen).
    async fn uncount(
        &self,
        key: &str,
        cost: u64,
        window: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    async fn revoke(&self, session_id: &str, until_ms: u64) -> Result<(), StoreError>;
    async fn is_revoked(&self, session_id: &str, now_ms: u64) -> Result<bool, StoreError>;
    /// The revocation check, the phone's not-before time and the epoch
    /// read together, in at most one round trip. A store shared by
    /// instances may answer from a cache that is at most 1 s behind writes
    /// made elsewhere (and never behind its own).
    async fn session_check(
        &self,
        session_id: &str,
        phone: &str,
        now_ms: u64,
    ) -> Result<SessionCheck, StoreError>;
    /// Ends every session of `phone` issued up to `not_before_ms`, on every
    /// instance sharing the store; kept for `ttl` (no older session can
    /// outlive it).
    async fn revoke_phone(
        &self,
        phone: &str,
        not_before_ms: u64,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Sets (or replaces) the block of `block.prefix`.
    async fn put_block(&self, block: &Block) -> Result<(), StoreError>;
    /// Lifts a block; `false` when there was none.
    async fn remove_block(&self, prefix: &str) -> Result<bool, StoreError>;
    /// The blocks that have not ended, by prefix.
    async fn blocks(&self, now_ms: u64) -> Result<Vec<Block>, StoreError>;
    /// The latest end of a live block on any of `prefixes` (one lookup:
    /// a number is checked against all its leading digits at once).
    async fn blocked_until(
        &self,
        prefixes: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError>;
    /// The store's epoch, written first (a random non-zero number, `SET
    /// NX`, so concurrent instances agree on one) when it is missing.
    /// Returns `(epoch, created)`.
    async fn epoch(&self) -> Result<(u64, bool), StoreError>;
    async fn healthy(&self) -> bool;
    /// Keeps a sealed held request (own/held.rs) under `key` until
    /// `now_ms + ttl`. Only ever ciphertext: the store never sees a body.
    async fn hold(
        &self,
        key: &str,
        sealed: Vec<u8>,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// Restarts the held request's lifetime: `ttl` from `now_ms` (the
    /// code was sent, or sent again: it lives as long as the code). `false`
    /// when there is none (expired, claimed, never held).
    async fn extend_held(&self, key: &str, ttl: Duration, now_ms: u64) -> Result<bool, StoreError>;
    /// Takes the held request under `key` out of the store, in one atomic
    /// step: of any number of concurrent calls, on any instance, at most
    /// one gets it. This is what makes a held request go out exactly once.
    async fn claim_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads the held request under `key`, leaving it there: what a
    /// transaction code is bound to, before the code is checked (the
    /// claim, after it, is still the one step that takes it).
    async fn peek_held(&self, key: &str, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Marks `key` used until `until_ms`, in one atomic step: of any
    /// number of concurrent calls with the same key, on any instance,
    /// exactly one gets `true` (a proof-of-work solution works once:
    /// pow.rs). After `until_ms` the mark may be forgotten.
    async fn use_once(&self, key: &str, until_ms: u64, now_ms: u64) -> Result<bool, StoreError>;
}
