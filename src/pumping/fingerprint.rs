//! Conversion per client fingerprint: pumpers rotate addresses and number
//! ranges cheaply, but their client software (one automation stack, a
//! few browser builds) far less, and its JA4 is the same across all of
//! them. A JA4 that sent more than `fingerprint_min_sends` codes in
//! `window` with fewer than `min_conversion` of them verified is refused
//! for `block_for`, like a prefix.
//!
//! A common browser's JA4 is shared by many genuine shoppers, whose codes
//! convert (well above `min_conversion`): it is blocked only if unverified
//! sends outnumber its genuine ones about 2.5 to 1 (at the default 20%
//! floor and 70% genuine conversion). An attacker who can copy a popular
//! browser's hello and send that much could deny that browser for a
//! while; `fingerprint_mode = "shadow"` shows whether that ever happens
//! before the rule is enforced, and the admin API lists and lifts the
//! block (`ja4:…`).
//!
//! The block is a [`crate::store::Block`] named `ja4:<JA4>` (no prefix,
//! which starts with `+`, can take that name), so every instance sees it
//! and `GET /api/blocks` lists it with source `pumping_fingerprint`.

use crate::config::PumpingConfig;
use crate::pumping::window::sliding;
use crate::store::{Block, Store, StoreError};

/// Who set a fingerprint block, as the admin API lists it.
pub const SOURCE: &str = "pumping_fingerprint";

/// The store name of `ja4`'s counters and block.
pub fn block_name(ja4: &str) -> String {
    format!("ja4:{ja4}")
}

/// What the detector says about one send from a fingerprint.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Already blocked.
    Blocked,
    /// Counted (take it back with the key if no SMS goes out); `suspect`
    /// when this send passes the threshold.
    Counted { key: String, suspect: bool },
}

pub async fn is_blocked(store: &dyn Store, ja4: &str, now_ms: u64) -> Result<bool, StoreError> {
    Ok(store
        .blocked_until(&[block_name(ja4)], now_ms)
        .await?
        .is_some())
}

/// Counts a send from `ja4` and says whether it makes the fingerprint a
/// pumping suspect (counted before deciding: increment-before-check).
pub async fn admit(
    store: &dyn Store,
    cfg: &PumpingConfig,
    ja4: &str,
    now_ms: u64,
) -> Result<Verdict, StoreError> {
    let name = block_name(ja4);
    if is_blocked(store, ja4, now_ms).await? {
        return Ok(Verdict::Blocked);
    }
    let (sent, key) = sliding(store, "sent", &name, 1, cfg.window, now_ms).await?;
    let (verified, _) = sliding(store, "verified", &name, 0, cfg.window, now_ms).await?;
    let suspect = sent > cfg.fingerprint_min_sends as f64 && verified / sent < cfg.min_conversion;
    Ok(Verdict::Counted { key, suspect })
}

/// Blocks `ja4` for `block_for` (an enforced suspect).
pub async fn block_it(
    store: &dyn Store,
    cfg: &PumpingConfig,
    ja4: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    let b = Block {
        prefix: block_name(ja4),
        until_ms: now_ms + cfg.block_for.as_millis() as u64,
        source: SOURCE.to_string(),
    };
    store.put_block(&b).await
}

/// Counts a verified code for the fingerprint that verified it.
pub async fn verified(
    store: &dyn Store,
    cfg: &PumpingConfig,
    ja4: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    sliding(store, "verified", &block_name(ja4), 1, cfg.window, now_ms).await?;
    Ok(())
}
