//! Noticing that the store lost its data. The store keeps one random
//! number, its epoch, written once into an empty store; every session
//! cookie carries the epoch it was issued under. A cookie whose epoch is
//! not the store's is refused, so a logout (a revocation entry) that the
//! store forgot can never bring the cookie back: the loss of the entry
//! goes together with the loss of the epoch.
//!
//! The watch remembers the epoch this instance saw last, so that a change
//! is logged (WARN) and counted (`otpgate_store_epoch_changes_total`)
//! once per instance, whether it was found by a session check, the
//! readiness probe or the periodic check.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;

use super::api::{Store, StoreError};

/// Whether an observation changed what this instance knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochChange {
    Same,
    /// The store's data is not the data this instance used before:
    /// sessions, logouts, blocks and counters written earlier are gone.
    Changed,
}

pub struct EpochWatch {
    /// The epoch last seen in the store; 0 until the first look (no epoch
    /// is ever 0).
    known: AtomicU64,
    changes: Counter,
}

impl EpochWatch {
    pub fn new(changes: Counter) -> Self {
        EpochWatch {
            known: AtomicU64::new(0),
            changes,
        }
    }

    /// The epoch last seen (0 before the first look).
    pub fn known(&self) -> u64 {
        self.known.load(Ordering::Acquire)
    }

    /// Records the epoch the store answered with.
    pub fn observe(&self, seen: u64, created: bool) -> EpochChange {
        let before = self.known.swap(seen, Ordering::AcqRel);
        if before == seen {
            return EpochChange::Same;
        }
        if before == 0 {
            if created {
                tracing::info!(
                    "store epoch written (new or emptied store): sessions issued before it must verify again"
                );
            }
            return EpochChange::Same;
        }
        self.changes.inc();
        let cause = if created {
            "the store's epoch was missing (restarted empty, flushed, or failed over)"
        } else {
            "the store's epoch changed (another instance found it missing, or a failover to other data)"
        };
        tracing::warn!(
            cause,
            epoch = seen,
            "store lost its data: every session issued earlier is refused and must verify again; \
             logouts, pumping and admin blocks and rate counters written earlier are gone \
             (blocks this instance set are written again)"
        );
        EpochChange::Changed
    }

    /// Reads the store's epoch (writing one when it is missing) and
    /// observes it.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(u64, EpochChange), StoreError> {
        let (epoch, created) = store.epoch().await?;
        Ok((epoch, self.observe(epoch, created)))
    }

    /// Folds the epoch a session check found into the watch; a missing
    /// epoch is written again at once (fail closed: the answer is a fresh
    /// epoch, which no existing cookie carries).
    pub async fn found(
        &self,
        store: &dyn Store,
        found: Option<u64>,
    ) -> Result<(u64, EpochChange), StoreError> {
        match found {
            Some(epoch) => Ok((epoch, self.observe(epoch, false))),
            None => self.refresh(store).await,
        }
    }
}

/// A random non-zero epoch from the OS CSPRNG.
pub fn random_epoch() -> u64 {
    use rand::RngCore;
    loop {
        let e = rand::rngs::OsRng.next_u64();
        if e != 0 {
            return e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_look_is_not_a_change_later_ones_are_counted() {
        let c = Counter::default();
        let w = EpochWatch::new(c.clone());
        assert_eq!(w.observe(7, true), EpochChange::Same);
        assert_eq!(w.observe(7, false), EpochChange::Same);
        assert_eq!(w.observe(8, true), EpochChange::Changed);
        assert_eq!(w.observe(9, false), EpochChange::Changed);
        assert_eq!(w.known(), 9);
        assert_eq!(c.get(), 2);
    }
}
