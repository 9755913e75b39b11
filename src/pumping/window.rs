//! The detector's counters: fixed-window counters named by window number,
//! read as a sliding window (the previous window weighted by how much of it
//! still overlaps, plus the current one: Cloudflare's "sliding window
//! counter").

use std::time::Duration;

use crate::store::{Count, Store, StoreError};

pub fn key(kind: &str, scope: &str, window_no: u64) -> String {
    format!("pumping:{kind}:{scope}:{window_no}")
}

/// Weighted sum of the previous and current window of `kind:scope`,
/// optionally adding `cost` to the current one first.
pub async fn sliding(
    store: &dyn Store,
    kind: &str,
    scope: &str,
    cost: u64,
    window: Duration,
    now_ms: u64,
) -> Result<(f64, String), StoreError> {
    let w = window.as_millis().max(1) as u64;
    let no = now_ms / w;
    let current_key = key(kind, scope, no);
    let current = count_of(
        store
            .count(&current_key, cost, u64::MAX, window, now_ms)
            .await?,
    );
    // Read the previous window at its own time, so the store finds it
    // still current and returns its count.
    let previous = match no.checked_sub(1) {
        Some(prev) => count_of(
            store
                .count(&key(kind, scope, prev), 0, u64::MAX, window, now_ms - w)
                .await?,
        ),
        None => 0,
    };
    let overlap = 1.0 - (now_ms % w) as f64 / w as f64;
    Ok((previous as f64 * overlap + current as f64, current_key))
}

/// Empties the previous and current window of `kind:scope`.
pub async fn clear(
    store: &dyn Store,
    kind: &str,
    scope: &str,
    window: Duration,
    now_ms: u64,
) -> Result<(), StoreError> {
    let w = window.as_millis().max(1) as u64;
    let no = now_ms / w;
    for (n, at) in [
        (Some(no), now_ms),
        (no.checked_sub(1), now_ms.wrapping_sub(w)),
    ] {
        let Some(n) = n else { continue };
        let k = key(kind, scope, n);
        let c = count_of(store.count(&k, 0, u64::MAX, window, at).await?);
        store.uncount(&k, c, window, at).await?;
    }
    Ok(())
}

/// The current window's count of `kind:scope`, after adding `cost`.
pub async fn current(
    store: &dyn Store,
    kind: &str,
    scope: &str,
    cost: u64,
    window: Duration,
    now_ms: u64,
) -> Result<(u64, String), StoreError> {
    let k = key(kind, scope, now_ms / window.as_millis().max(1) as u64);
    let c = count_of(store.count(&k, cost, u64::MAX, window, now_ms).await?);
    Ok((c, k))
}

pub fn count_of(c: Count) -> u64 {
    match c {
        Count::Allowed { count } => count,
        Count::Limited { .. } => u64::MAX,
    }
}
