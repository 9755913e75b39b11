//! How one store call reaches Redis: on the backend's connection, bounded
//! by [`CALL_TIMEOUT`], timed and counted, and tried again once when the
//! connection broke (see the store's module docs). Shared by the store
//! and the revocation cache's subscriber task (`redis/subscriber.rs`),
//! whose snapshot and heartbeat must reach the same master as every
//! other call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::{FromRedisValue, ScriptInvocation};

use super::conn::{Backend, Conn};
use crate::metrics::StoreMetrics;
use crate::store::api::StoreError;

/// The longest any one store call may take before it counts as a failure.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Garbage-collection slack on top of a logical expiry, for clock skew
/// between instances.
pub(super) const GRACE_MS: u64 = 60_000;

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

/// The system clock (unix ms): what Redis TTLs are measured against.
pub(super) fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(super) struct Calls {
    pub backend: Backend,
    pub metrics: StoreMetrics,
}

impl Calls {
    /// One command or script, each try bounded by [`CALL_TIMEOUT`], tried
    /// again once when the connection broke (every call made through here
    /// is safe to repeat: see the module docs). A timeout is not retried:
    /// Redis is slow or gone, and a second wait only doubles the shopper's.
    pub async fn run<T, F>(&self, op: &'static str, f: impl Fn(Conn) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let started = Instant::now();
        let mut result = self.try_once(&f).await;
        if let Err(Some(e)) = &result {
            let replica = e.kind() == redis::ErrorKind::ReadOnly;
            if e.is_connection_dropped() || e.is_unrecoverable_error() || replica {
                tracing::debug!(op, error = %e, "redis connection broke; trying again once");
                result = self.try_once(&f).await;
            }
        }
        self.metrics.observe(op, started.elapsed(), result.is_ok());
        match result {
            Ok(v) => Ok(v),
            Err(Some(e)) => Err(unavailable(e)),
            Err(None) => Err(unavailable("timed out")),
        }
    }

    /// `Err(None)` is a timeout. A failure tells the backend, so that a
    /// Sentinel deployment looks for the (new) master before the retry.
    async fn try_once<T, F>(&self, f: &impl Fn(Conn) -> F) -> Result<T, Option<redis::RedisError>>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let used = AtomicU64::new(0);
        let call = async {
            let lease = self.backend.lease().await?;
            used.store(lease.generation, Ordering::Relaxed);
            f(lease.conn).await
        };
        let result = tokio::time::timeout(CALL_TIMEOUT, call).await;
        let generation = used.load(Ordering::Relaxed);
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.backend.failed(generation, Some(&e));
                Err(Some(e))
            }
            Err(_) => {
                self.backend.failed(generation, None);
                Err(None)
            }
        }
    }

    pub async fn invoke<T: FromRedisValue>(
        &self,
        op: &'static str,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.run(op, |mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    pub async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        self.run(op, |mut c| async move { cmd.query_async(&mut c).await })
            .await
    }
}
