//! Held requests (own/held.rs), the records kept beside a challenge
//! (flow/channels.rs, flow/measure.rs) and single-use marks (pow.rs) in
//! Redis. A held value is its logical end (8 bytes, big-endian unix ms)
//! then the bytes, so the caller's clock decides expiry as it does for
//! challenges; the key's TTL only collects garbage. A held request is a
//! key of its own (`otpgate:h:<hold id>`); a record (`m:<id>`, …) is a
//! field of its challenge's hash (redis/keys.rs `HeldAt`): no key of its
//! own to pay for. Extending, claiming and using are one one-key script
//! each (scripts.rs): atomic across instances, one slot on a Cluster.

use std::time::Duration;

use super::keys::HeldAt;
use super::{packed, unavailable, RedisStore, GRACE_MS};
use crate::store::StoreError;

impl RedisStore {
    pub(super) async fn hold_sealed(
        &self,
        id: &str,
        sealed: Vec<u8>,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let ttl_ms = ttl.as_millis() as u64;
        let mut value = Vec::with_capacity(8 + sealed.len());
        value.extend_from_slice(&(now_ms + ttl_ms).to_be_bytes());
        value.extend_from_slice(&sealed);
        match self.keys.held(id) {
            HeldAt::Key(key) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ttl_ms + GRACE_MS);
                self.query::<()>("hold", &cmd).await
            }
            HeldAt::Field(key, kind) => {
                let mut inv = self.hold_record.key(key);
                inv.arg(kind).arg(value).arg(ttl_ms + GRACE_MS);
                self.invoke::<i64>("hold", &inv).await.map(|_| ())
            }
        }
    }

    pub(super) async fn extend_sealed(
        &self,
        id: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let ttl_ms = ttl.as_millis() as u64;
        let (mut inv, kind) = match self.keys.held(id) {
            HeldAt::Key(key) => (self.extend_held.key(key), None),
            HeldAt::Field(key, kind) => (self.extend_record.key(key), Some(kind)),
        };
        inv.arg(&(now_ms + ttl_ms).to_be_bytes()[..])
            .arg(ttl_ms + GRACE_MS)
            .arg(now_ms);
        if let Some(kind) = kind {
            inv.arg(kind);
        }
        let extended: i64 = self.invoke("extend_held", &inv).await?;
        Ok(extended == 1)
    }

    /// `Store::use_once` (scripts::USE_ONCE).
    pub(super) async fn use_key(
        &self,
        id: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let px = until_ms.saturating_sub(now_ms) + GRACE_MS;
        let mut inv = self.use_once.key(self.keys.used(id));
        inv.arg(format!("{:032x}", rand::random::<u128>()))
            .arg(format!("{until_ms:020}"))
            .arg(now_ms)
            .arg(px);
        let fresh: i64 = self.invoke("use_once", &inv).await?;
        Ok(fresh == 1)
    }

    pub(super) async fn claim_sealed(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let inv = match self.keys.held(id) {
            HeldAt::Key(key) => self.claim_held.key(key),
            HeldAt::Field(key, kind) => {
                let mut inv = self.claim_record.key(key);
                inv.arg(kind);
                inv
            }
        };
        let v: Option<Vec<u8>> = self.invoke("claim_held", &inv).await?;
        live(v, now_ms)
    }

    /// A plain read: reading changes nothing, so no script is needed.
    pub(super) async fn peek_sealed(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let cmd = match self.keys.held(id) {
            HeldAt::Key(key) => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(key);
                cmd
            }
            HeldAt::Field(key, kind) => {
                let mut cmd = redis::cmd("HGET");
                cmd.arg(key).arg(kind);
                cmd
            }
        };
        let v: Option<Vec<u8>> = self.query("peek_held", &cmd).await?;
        live(v, now_ms)
    }
}

/// The bytes of a stored value, if its logical end is ahead.
fn live(v: Option<Vec<u8>>, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(v) = v else { return Ok(None) };
    let until = packed::until(&v).ok_or_else(|| unavailable("malformed held request"))?;
    Ok((until > now_ms).then(|| v[8..].to_vec()))
}
