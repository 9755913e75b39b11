//! Revocations in Redis and the session check that reads them: answered
//! from the revocation cache (`redis/cache.rs`) when it may, otherwise in
//! one round trip (an `MGET` of the epoch, the session's revocation and
//! the phone's not-before time). Writing a revocation (`scripts::REVOKE`)
//! keeps its own key, so the round trip stays exact, and also indexes,
//! numbers and publishes it for every instance's cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Script;

use super::cache::{Cache, Entry, Kind, Snapshot};
use super::calls::{system_ms, unavailable, Calls, GRACE_MS};
use super::keys::{untagged, Keys, CHANNEL, EPOCH};
use super::scripts;
use crate::store::api::{SessionCheck, StoreError};

pub(super) struct Revocations {
    calls: Arc<Calls>,
    keys: Keys,
    pub cache: Cache,
    revoke: Script,
    snapshot: Script,
    heartbeat: Script,
}

impl Revocations {
    pub fn new(calls: Arc<Calls>, keys: Keys) -> Self {
        Revocations {
            calls,
            keys,
            cache: Cache::default(),
            revoke: Script::new(scripts::REVOKE),
            snapshot: Script::new(scripts::SNAPSHOT),
            heartbeat: Script::new(scripts::HEARTBEAT),
        }
    }

    pub async fn check(
        &self,
        session_id: &str,
        phone: &str,
        now_ms: u64,
    ) -> Result<SessionCheck, StoreError> {
        if let Some(c) = self
            .cache
            .check(&untagged(session_id), &untagged(phone), now_ms)
        {
            return Ok(c);
        }
        // The cache may not answer (not yet synced, subscription lost,
        // trust ran out): ask Redis, as every request did before it.
        let mut cmd = redis::cmd("MGET");
        cmd.arg(EPOCH)
            .arg(self.keys.revocation(session_id))
            .arg(self.keys.not_before(phone));
        let (epoch, until, not_before): (Option<u64>, Option<u64>, Option<u64>) =
            self.calls.query("session_check", &cmd).await?;
        Ok(SessionCheck {
            revoked: until.is_some_and(|u| u > now_ms),
            phone_not_before: not_before,
            epoch,
        })
    }

    pub async fn revoke(&self, session_id: &str, until_ms: u64) -> Result<(), StoreError> {
        // `until_ms` decides; the key's TTL only collects it, so it is
        // measured against the system clock with slack.
        let px = until_ms.saturating_sub(system_ms()) + GRACE_MS;
        let key = self.keys.revocation(session_id);
        self.write("revoke", key, Kind::Revoked, session_id, until_ms, px)
            .await
    }

    pub async fn revoke_phone(
        &self,
        phone: &str,
        not_before_ms: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let px = ttl.as_millis() as u64 + GRACE_MS;
        let key = self.keys.not_before(phone);
        self.write(
            "revoke_phone",
            key,
            Kind::NotBefore,
            phone,
            not_before_ms,
            px,
        )
        .await
    }

    async fn write(
        &self,
        op: &'static str,
        key: String,
        kind: Kind,
        id: &str,
        value: u64,
        px: u64,
    ) -> Result<(), StoreError> {
        let now = system_ms();
        let entry = Entry {
            kind,
            id: untagged(id).into_owned(),
            value,
            ends: now + px,
        };
        let mut inv = self.revoke.key(key);
        inv.key(self.keys.rev_index())
            .key(self.keys.rev_seq())
            .arg(value)
            .arg(px)
            .arg(entry.ends)
            .arg(entry.member())
            .arg(CHANNEL)
            .arg(now);
        self.calls.invoke::<u64>(op, &inv).await?;
        // Enforced here before the caller answers; other instances learn
        // it from the channel.
        self.cache.apply_local(entry);
        Ok(())
    }

    /// Everything the cache holds, read in one script; `sent` is when the
    /// read was sent (the trust runs from then).
    pub async fn snapshot(&self) -> Result<(Instant, Snapshot), StoreError> {
        let now = system_ms();
        let mut inv = self.snapshot.key(EPOCH);
        inv.key(self.keys.rev_index())
            .key(self.keys.rev_seq())
            .key(self.keys.rev_ready())
            .arg(now)
            .arg(now)
            .arg(self.keys.revocation("*"))
            .arg(self.keys.not_before("*"));
        let sent = Instant::now();
        let (epoch, seq, index): (String, u64, Vec<String>) =
            self.calls.invoke("revocation_snapshot", &inv).await?;
        // `WITHSCORES`: member, score, member, score, ...
        let entries = index
            .chunks(2)
            .map(|pair| match pair {
                [member, ends] => Entry::parse(member, ends.parse().ok()?),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| unavailable("malformed revocation index"))?;
        Ok((
            sent,
            Snapshot {
                epoch: epoch_of(&epoch)?,
                seq,
                entries,
            },
        ))
    }

    /// The epoch and the last revocation's number, and when the read was
    /// sent.
    pub async fn heartbeat(&self) -> Result<(Instant, Option<u64>, u64), StoreError> {
        let mut inv = self.heartbeat.key(EPOCH);
        inv.key(self.keys.rev_seq());
        let sent = Instant::now();
        let (epoch, seq): (String, u64) = self.calls.invoke("revocation_heartbeat", &inv).await?;
        Ok((sent, epoch_of(&epoch)?, seq))
    }
}

/// `""` is a missing epoch (scripts cannot return nil inside a table).
fn epoch_of(s: &str) -> Result<Option<u64>, StoreError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| unavailable("malformed epoch"))
}
