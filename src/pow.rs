//! Adaptive proof-of-work instead of a CAPTCHA (issue 15). A send whose
//! risk is elevated (risk.rs: low prefix conversion, a fast fingerprint or
//! address, a new country for the address) needs a hashcash-style proof
//! the shopper's browser computes — a few hundred milliseconds at the
//! base level, more as the risk rises — before any SMS can cost money.
//! Low-risk sends are not asked for anything.
//!
//! A challenge (challenge.rs) is bound to the browser (its CSRF cookie:
//! own/pow.rs) and to the number, carries its difficulty and expiry under
//! a MAC keyed from the session secret, and works once: its id is marked
//! used in the store (`Store::use_once`, atomic on Redis too) until it
//! expires. Checking costs the same at any difficulty: a few HMACs and one
//! SHA-256. It prices out pumping at scale; it does not stop one patient
//! attacker with native code (2^12 hashes take a millisecond there), which
//! is why it rises with the velocity signals and sits beside the limits
//! and the pumping detector rather than replacing them.

mod challenge;
mod demand;
pub mod risk;

use self::challenge::Binding;
pub use self::demand::{Attempt, Demand, PowError, Solution};
use crate::config::{PowConfig, PumpingConfig};
use crate::fraud;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Why the gate did not admit a send.
#[derive(Debug)]
pub enum Refused {
    Pow(Demand),
    Store(StoreError),
}

/// `[pow]` with its key.
pub struct Pow {
    cfg: PowConfig,
    pumping: PumpingConfig,
    key: [u8; 32],
}

impl Pow {
    /// `key` is derived from the session secret for this purpose alone.
    pub fn new(cfg: &PowConfig, pumping: &PumpingConfig, key: [u8; 32]) -> Pow {
        Pow {
            cfg: cfg.clone(),
            pumping: *pumping,
            key,
        }
    }

    /// Whether `solution` pays for this send at its current risk, or the
    /// challenge to solve instead. `Ok(Some(e))`: shadow mode let through
    /// a send it would have refused for `e`. With `[pow]` off nothing is
    /// counted.
    pub async fn admit(
        &self,
        store: &dyn Store,
        metrics: &Metrics,
        now_ms: u64,
        a: &Attempt<'_>,
        solution: Option<&Solution>,
    ) -> Result<Option<PowError>, Refused> {
        if !self.cfg.enabled {
            return Ok(None);
        }
        let signals = risk::assess(store, &self.cfg, &self.pumping, a, now_ms)
            .await
            .map_err(Refused::Store)?;
        let points = risk::points(&self.cfg, &signals);
        let Some(bits) = risk::difficulty(&self.cfg, points) else {
            fraud::decide(metrics, "pow", self.cfg.mode, false);
            risk::admitted(store, a, now_ms).await;
            return Ok(None);
        };
        let verdict = match solution {
            None => Err(PowError::Required),
            Some(s) => {
                // The attempt bringing the work is itself counted in the
                // velocities: it owes what was asked before it, or a
                // shopper at a threshold would be asked again and again.
                let before = risk::points(&self.cfg, &signals.before_this());
                let owed = risk::difficulty(&self.cfg, before).unwrap_or(0);
                self.redeem(store, a, s, owed, now_ms).await?
            }
        };
        // One decision per send (fraud.rs, rule "pow"): in shadow a send
        // that would need the work is let through and counted.
        let blocked = fraud::decide(metrics, "pow", self.cfg.mode, verdict.is_err());
        let error = match verdict {
            Err(e) if blocked => e,
            shadowed => {
                risk::admitted(store, a, now_ms).await;
                return Ok(shadowed.err());
            }
        };
        tracing::info!(
            code = error.code(),
            bits,
            points,
            ?signals,
            phone = %a.phone.masked(),
            "proof-of-work demanded"
        );
        Err(Refused::Pow(self.demand(error, a, bits, now_ms)))
    }

    /// Checks a solution against the difficulty required now and uses it.
    async fn redeem(
        &self,
        store: &dyn Store,
        a: &Attempt<'_>,
        s: &Solution,
        bits: u8,
        now_ms: u64,
    ) -> Result<Result<(), PowError>, Refused> {
        let to = Binding {
            browser: a.browser,
            phone: a.phone.e164(),
        };
        let checked = match challenge::check(&self.key, to, &s.challenge, &s.nonce, now_ms) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        // Issued when the risk was lower: the risk now decides.
        if checked.bits < bits {
            return Ok(Err(PowError::TooEasy));
        }
        let fresh = store
            .use_once(
                &format!("pow:{}", checked.id),
                checked.expires_at_ms,
                now_ms,
            )
            .await
            .map_err(Refused::Store)?;
        Ok(if fresh { Ok(()) } else { Err(PowError::Used) })
    }

    fn demand(&self, error: PowError, a: &Attempt<'_>, bits: u8, now_ms: u64) -> Demand {
        let ttl = self.cfg.ttl.as_secs().max(1);
        let expires = now_ms / 1000 + ttl;
        let to = Binding {
            browser: a.browser,
            phone: a.phone.e164(),
        };
        Demand {
            error,
            challenge: challenge::issue(&self.key, to, bits, expires),
            difficulty: bits,
            expires_in: ttl,
        }
    }
}
