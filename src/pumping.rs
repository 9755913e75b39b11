//! SMS pumping (toll fraud) detector. Pumpers rent a block of premium or
//! partner numbers, make a site text them, and share the operator's fee;
//! nobody ever types the codes. So the signal is conversion (verified /
//! sent) per number prefix, the number without its last four digits (the
//! unit Twilio Verify's Fraud Guard blocks): a prefix that sends more than
//! `min_sends` within `window` with conversion below `min_conversion` is
//! refused for `block_for`. Conversion per country is exported as a gauge.
//!
//! All state is in the [`Store`], so every instance sees the same counts
//! and blocks once a shared store is used:
//! - counts are fixed-window counters named by window number, read as a
//!   sliding window (the previous window weighted by how much of it still
//!   overlaps, plus the current one: Cloudflare's "sliding window counter");
//! - a block is an entry in the store's expiring deny set (`revoke`),
//!   under a name no session id can take.
//!
//! A send is counted before the decision (increment-before-check), so
//! parallel sends cannot slip past the threshold together.

use std::time::Duration;

use crate::config::PumpingConfig;
use crate::phone::Phone;
use crate::store::{Count, Store, StoreError};

/// What the detector says about one send.
#[derive(Debug)]
pub enum Admission {
    /// Counted; take it back with [`forget`] if no SMS goes out.
    Allowed(Ticket),
    /// The prefix is blocked. `newly` is true for the send that tripped it.
    Blocked { newly: bool },
}

/// Which counters a send was added to, for [`forget`].
#[derive(Debug)]
pub struct Ticket {
    keys: [String; 2],
    now_ms: u64,
}

fn block_key(prefix: &str) -> String {
    format!("pumping-block:{prefix}")
}

fn key(kind: &str, scope: &str, window_no: u64) -> String {
    format!("pumping:{kind}:{scope}:{window_no}")
}

/// Weighted sum of the previous and current window of `kind:scope`,
/// optionally adding `cost` to the current one first.
async fn sliding(
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

fn count_of(c: Count) -> u64 {
    match c {
        Count::Allowed { count } => count,
        Count::Limited { .. } => u64::MAX,
    }
}

/// Whether the prefix of `phone` is blocked.
pub async fn is_blocked(store: &dyn Store, phone: &Phone, now_ms: u64) -> Result<bool, StoreError> {
    store.is_revoked(&block_key(phone.prefix()), now_ms).await
}

/// Writes a block again (after the store lost its data).
pub async fn restore_block(
    store: &dyn Store,
    prefix: &str,
    until_ms: u64,
) -> Result<(), StoreError> {
    store.revoke(&block_key(prefix), until_ms).await
}

/// Counts a send to `phone` and decides whether it may go out.
pub async fn admit(
    store: &dyn Store,
    cfg: &PumpingConfig,
    phone: &Phone,
    now_ms: u64,
) -> Result<Admission, StoreError> {
    let prefix = phone.prefix();
    if is_blocked(store, phone, now_ms).await? {
        return Ok(Admission::Blocked { newly: false });
    }
    let (sent, prefix_key) = sliding(store, "sent", prefix, 1, cfg.window, now_ms).await?;
    let (verified, _) = sliding(store, "verified", prefix, 0, cfg.window, now_ms).await?;
    if sent > cfg.min_sends as f64 && verified / sent < cfg.min_conversion {
        store.uncount(&prefix_key, 1, cfg.window, now_ms).await?;
        store
            .revoke(
                &block_key(prefix),
                now_ms + cfg.block_for.as_millis() as u64,
            )
            .await?;
        return Ok(Admission::Blocked { newly: true });
    }
    let (_, country_key) =
        sliding(store, "sent", &phone.region_code(), 1, cfg.window, now_ms).await?;
    Ok(Admission::Allowed(Ticket {
        keys: [prefix_key, country_key],
        now_ms,
    }))
}

/// Takes back a send that did not happen (refused later, or not delivered).
pub async fn forget(store: &dyn Store, cfg: &PumpingConfig, ticket: Ticket) {
    for k in &ticket.keys {
        let _ = store.uncount(k, 1, cfg.window, ticket.now_ms).await;
    }
}

/// Counts a verified code for the prefix and country of `phone`.
pub async fn verified(
    store: &dyn Store,
    cfg: &PumpingConfig,
    phone: &Phone,
    now_ms: u64,
) -> Result<(), StoreError> {
    sliding(store, "verified", phone.prefix(), 1, cfg.window, now_ms).await?;
    sliding(
        store,
        "verified",
        &phone.region_code(),
        1,
        cfg.window,
        now_ms,
    )
    .await?;
    Ok(())
}

/// Verified / sent for a country over the window; `None` before any send.
pub async fn country_conversion(
    store: &dyn Store,
    cfg: &PumpingConfig,
    country: &str,
    now_ms: u64,
) -> Result<Option<f64>, StoreError> {
    let (sent, _) = sliding(store, "sent", country, 0, cfg.window, now_ms).await?;
    let (verified, _) = sliding(store, "verified", country, 0, cfg.window, now_ms).await?;
    Ok((sent > 0.0).then(|| (verified / sent).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn cfg() -> PumpingConfig {
        PumpingConfig {
            enabled: true,
            window: Duration::from_secs(3600),
            min_sends: 5,
            min_conversion: 0.5,
            block_for: Duration::from_secs(86_400),
        }
    }

    fn phone(n: u32) -> Phone {
        Phone::from_e164(&format!("+9198123{n:05}")).unwrap()
    }

    const T0: u64 = 1_000 * 3_600_000;

    #[tokio::test]
    async fn blocks_a_prefix_that_sends_without_verifying() {
        let s = MemoryStore::new();
        for n in 0..5 {
            assert!(matches!(
                admit(&*s, &cfg(), &phone(n), T0).await.unwrap(),
                Admission::Allowed(_)
            ));
        }
        assert!(matches!(
            admit(&*s, &cfg(), &phone(5), T0).await.unwrap(),
            Admission::Blocked { newly: true }
        ));
        assert!(matches!(
            admit(&*s, &cfg(), &phone(6), T0).await.unwrap(),
            Admission::Blocked { newly: false }
        ));
        assert!(is_blocked(&*s, &phone(7), T0 + 86_399_000).await.unwrap());
        assert!(
            !is_blocked(&*s, &phone(7), T0 + 86_400_000).await.unwrap(),
            "the block ends"
        );
        let other_prefix = Phone::from_e164("+919876500001").unwrap();
        assert!(!is_blocked(&*s, &other_prefix, T0).await.unwrap());
        assert_eq!(
            country_conversion(&*s, &cfg(), "IN", T0).await.unwrap(),
            Some(0.0)
        );
    }

    #[tokio::test]
    async fn verified_codes_keep_a_busy_prefix_open() {
        let s = MemoryStore::new();
        for n in 0..40 {
            let p = phone(n);
            assert!(
                matches!(
                    admit(&*s, &cfg(), &p, T0).await.unwrap(),
                    Admission::Allowed(_)
                ),
                "send {n}"
            );
            verified(&*s, &cfg(), &p, T0).await.unwrap();
        }
        assert_eq!(
            country_conversion(&*s, &cfg(), "IN", T0).await.unwrap(),
            Some(1.0)
        );
    }

    #[tokio::test]
    async fn the_window_slides_and_forget_takes_a_send_back() {
        let s = MemoryStore::new();
        for n in 0..5 {
            let Admission::Allowed(t) = admit(&*s, &cfg(), &phone(n), T0).await.unwrap() else {
                panic!()
            };
            if n == 4 {
                forget(&*s, &cfg(), t).await;
            }
        }
        // 4 counted; at 3/4 of the next window a quarter of them still count.
        let later = T0 + 3_600_000 + 2_700_000;
        for n in 0..4 {
            assert!(
                matches!(
                    admit(&*s, &cfg(), &phone(n), later).await.unwrap(),
                    Admission::Allowed(_)
                ),
                "send {n}"
            );
        }
        assert!(matches!(
            admit(&*s, &cfg(), &phone(9), later).await.unwrap(),
            Admission::Blocked { newly: true }
        ));
    }
}
