//! The shared store: Redis, for several gateway instances behind one load
//! balancer. Every deciding operation is one Lua script, and Redis runs a
//! script alone from start to finish, so a script's read, check and write
//! are atomic across all instances (the same guarantee the memory store
//! gets from a shard lock). Redis TTLs only collect garbage; expiry is
//! decided by comparing the stored `expires_at` with the caller's `now_ms`,
//! exactly as the memory store does, so both stores answer alike.
//!
//! Keys: `otpgate:ch:{id}` (hash), `otpgate:cnt:{window start}:{key}`,
//! `otpgate:rev:{session id}`. Numbers that scripts store are computed in
//! Rust and passed as strings, so Lua's float formatting never touches them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::api::{Attempt, Challenge, Count, Resend, Store, StoreError};

/// The longest any one store call may take before it counts as a failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
const PING_TIMEOUT: Duration = Duration::from_millis(1000);
/// Garbage-collection slack on top of a logical expiry, for clock skew
/// between instances.
const GRACE_MS: u64 = 60_000;

/// Increment before compare: the attempt is counted first, then the keyed
/// hash compared, and the challenge is deleted on success or when the last
/// try is used. Plain `==` is not constant-time, but both sides are HMAC
/// outputs under the gateway's secret key; how many leading bytes of two
/// such MACs agree tells an attacker nothing about the code (they cannot
/// compute the MAC of a guess), and each comparison costs a counted try.
const ATTEMPT: &str = r"
local v = redis.call('HMGET', KEYS[1], 'hash', 'expires_at', 'attempts', 'phone')
if not v[1] then return {'missing'} end
if tonumber(v[2]) <= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1]) return {'missing'}
end
local max = tonumber(ARGV[2])
if tonumber(v[3]) >= max then redis.call('DEL', KEYS[1]) return {'exhausted'} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if v[1] == ARGV[1] then redis.call('DEL', KEYS[1]) return {'verified', v[4]} end
if max - attempts <= 0 then redis.call('DEL', KEYS[1]) return {'exhausted'} end
return {'wrong', tostring(max - attempts)}
";

/// Cooldown check and replacement in one step: two instances resending at
/// once cannot both pass the cooldown.
const REPLACE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'sent_at', 'expires_at')
if not v[1] then return {'missing'} end
local now = tonumber(ARGV[2])
if tonumber(v[2]) <= now then return {'missing'} end
local ready = tonumber(v[1]) + tonumber(ARGV[3])
if now < ready then return {'toosoon', tostring(ready - now)} end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'sent_at', ARGV[2], 'expires_at', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'sends', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'replaced'}
";

/// Check, then add, inside one script: the counter never passes `max`.
/// Returns the count, or -1 when limited.
const COUNT: &str = r"
local cost = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur + cost > tonumber(ARGV[2]) or (cost == 0 and cur >= tonumber(ARGV[2])) then
  return -1
end
if cost == 0 then return cur end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
";

/// Takes back at most what is there (never below zero, never creates).
const UNCOUNT: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local take = math.min(cur, tonumber(ARGV[1]))
if take > 0 then redis.call('DECRBY', KEYS[1], take) end
return 0
";

const PUT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'phone', ARGV[1], 'hash', ARGV[2], 'sent_at', ARGV[3],
  'expires_at', ARGV[4], 'attempts', ARGV[5], 'sends', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 0
";

pub struct RedisStore {
    conn: ConnectionManager,
    attempt: Script,
    replace: Script,
    count: Script,
    uncount: Script,
    put: Script,
}

/// `url` with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            format!("{}{shown}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn key(kind: &str, id: &str) -> String {
    format!("otpgate:{kind}:{id}")
}

fn window_start(now_ms: u64, window: Duration) -> u64 {
    let w = window.as_millis().max(1) as u64;
    now_ms - now_ms % w
}

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RedisStore {
    /// Connects once (failing if Redis cannot be reached within a few
    /// seconds); afterwards the connection manager reconnects by itself.
    /// Error messages never contain the URL's password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| unavailable(format!("{e} ({})", redact(url))))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CALL_TIMEOUT)
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        let conn = tokio::time::timeout(
            CALL_TIMEOUT * 3,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| unavailable(format!("no answer from {}", redact(url))))?
        .map_err(|e| unavailable(format!("{e} ({})", redact(url))))?;
        Ok(RedisStore {
            conn,
            attempt: Script::new(ATTEMPT),
            replace: Script::new(REPLACE),
            count: Script::new(COUNT),
            uncount: Script::new(UNCOUNT),
            put: Script::new(PUT),
        })
    }

    /// One command or script, bounded by [`CALL_TIMEOUT`].
    async fn run<T, F>(&self, f: impl FnOnce(ConnectionManager) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(CALL_TIMEOUT, f(self.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(unavailable("timed out")),
        }
    }
}

fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| unavailable("malformed challenge"))
}

fn num<T: std::str::FromStr>(v: &Option<Vec<u8>>) -> Result<T, StoreError> {
    v.as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unavailable("malformed challenge"))
}

#[async_trait]
impl Store for RedisStore {
    async fn put_challenge(&self, id: &str, ch: Challenge) -> Result<(), StoreError> {
        let px = ch.expires_at.saturating_sub(ch.sent_at) + GRACE_MS;
        let k = key("ch", id);
        self.run(|mut c| async move {
            self.put
                .key(k)
                .arg(ch.phone)
                .arg(&ch.code_hash[..])
                .arg(ch.sent_at)
                .arg(ch.expires_at)
                .arg(ch.attempts)
                .arg(ch.sends)
                .arg(px)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await?;
        Ok(())
    }

    async fn challenge(&self, id: &str, now_ms: u64) -> Result<Option<Challenge>, StoreError> {
        let k = key("ch", id);
        let v: Vec<Option<Vec<u8>>> = self
            .run(|mut c| async move {
                redis::cmd("HMGET")
                    .arg(k)
                    .arg(&[
                        "phone",
                        "hash",
                        "sent_at",
                        "expires_at",
                        "attempts",
                        "sends",
                    ])
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let (Some(phone), Some(hash)) = (&v[0], &v[1]) else {
            return Ok(None);
        };
        let ch = Challenge {
            phone: String::from_utf8_lossy(phone).into_owned(),
            code_hash: hash32(hash)?,
            sent_at: num(&v[2])?,
            expires_at: num(&v[3])?,
            attempts: num(&v[4])?,
            sends: num(&v[5])?,
        };
        Ok((ch.expires_at > now_ms).then_some(ch))
    }

    async fn attempt(
        &self,
        id: &str,
        candidate: [u8; 32],
        max_attempts: u32,
        now_ms: u64,
    ) -> Result<Attempt, StoreError> {
        let k = key("ch", id);
        let r: Vec<String> = self
            .run(|mut c| async move {
                self.attempt
                    .key(k)
                    .arg(&candidate[..])
                    .arg(max_attempts)
                    .arg(now_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(match (r.first().map(String::as_str), r.get(1)) {
            (Some("verified"), Some(phone)) => Attempt::Verified {
                phone: phone.clone(),
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
        code_hash: [u8; 32],
        resend_after: Duration,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Resend, StoreError> {
        let k = key("ch", id);
        let ttl_ms = ttl.as_millis() as u64;
        let r: Vec<String> = self
            .run(|mut c| async move {
                self.replace
                    .key(k)
                    .arg(&code_hash[..])
                    .arg(now_ms)
                    .arg(resend_after.as_millis() as u64)
                    .arg(now_ms + ttl_ms)
                    .arg(ttl_ms + GRACE_MS)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
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
        let k = key("cnt", &format!("{start}:{key_}"));
        let n: i64 = self
            .run(|mut c| async move {
                self.count
                    .key(k)
                    .arg(cost)
                    .arg(max)
                    .arg(px)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
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
        let k = key("cnt", &format!("{}:{key_}", window_start(now_ms, window)));
        self.run(|mut c| async move {
            self.uncount
                .key(k)
                .arg(cost)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await?;
        Ok(())
    }

    async fn revoke(&self, session_id: &str, until_ms: u64) -> Result<(), StoreError> {
        // `until_ms` decides (see `is_revoked`); the TTL only collects the
        // entry, so it is measured against the system clock with slack.
        let px = until_ms.saturating_sub(system_ms()) + GRACE_MS;
        let k = key("rev", session_id);
        self.run(|mut c| async move {
            redis::cmd("SET")
                .arg(k)
                .arg(until_ms)
                .arg("PX")
                .arg(px)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn is_revoked(&self, session_id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let k = key("rev", session_id);
        let until: Option<u64> = self
            .run(|mut c| async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
            .await?;
        Ok(until.is_some_and(|u| u > now_ms))
    }

    async fn healthy(&self) -> bool {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut c);
        matches!(tokio::time::timeout(PING_TIMEOUT, ping).await, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("redis://user:hunter2@db:6379/0"),
            "redis://user:***@db:6379/0"
        );
        assert_eq!(redact("rediss://:pw@db"), "rediss://:***@db");
        assert_eq!(redact("redis://db:6379"), "redis://db:6379");
    }
}
