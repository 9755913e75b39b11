//! Held requests in Redis (own/held.rs): `otpgate:held:<id>` holds the
//! logical expiry (20 decimal digits, unix ms) then the sealed request, so
//! the caller's clock decides expiry as it does for challenges; the key's
//! TTL only collects garbage. Extending and claiming are one one-key
//! script each (scripts.rs): atomic across instances, one slot on a
//! Cluster.

use std::time::Duration;

use super::{unavailable, RedisStore, GRACE_MS};
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
        let mut value = format!("{:020}", now_ms + ttl_ms).into_bytes();
        value.extend_from_slice(&sealed);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.held(id))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms + GRACE_MS);
        self.query::<()>("hold", &cmd).await
    }

    pub(super) async fn extend_sealed(
        &self,
        id: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let ttl_ms = ttl.as_millis() as u64;
        let mut inv = self.extend_held.key(self.keys.held(id));
        inv.arg(format!("{:020}", now_ms + ttl_ms))
            .arg(ttl_ms + GRACE_MS)
            .arg(now_ms);
        let extended: i64 = self.invoke("extend_held", &inv).await?;
        Ok(extended == 1)
    }

    pub(super) async fn claim_sealed(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let inv = self.claim_held.key(self.keys.held(id));
        let v: Option<Vec<u8>> = self.invoke("claim_held", &inv).await?;
        live(v, now_ms)
    }

    /// A plain `GET`: reading changes nothing, so no script is needed.
    pub(super) async fn peek_sealed(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.keys.held(id));
        let v: Option<Vec<u8>> = self.query("peek_held", &cmd).await?;
        live(v, now_ms)
    }
}

/// The sealed request of a stored value, if its logical expiry is ahead.
fn live(v: Option<Vec<u8>>, now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(v) = v else { return Ok(None) };
    let until: u64 = v
        .get(..20)
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| unavailable("malformed held request"))?;
    Ok((until > now_ms).then(|| v[20..].to_vec()))
}
