//! Session-ticket keys shared by every instance behind a load balancer
//! (`[tls] ticket_key_file`), so a shopper sent to another instance still
//! resumes instead of paying a full handshake.
//!
//! rustls ships only `Ticketer::new()`, whose keys are random per process:
//! it offers no way to key a ticketer from a secret, so [`SharedTicketer`]
//! implements `ProducesTickets` itself (the idea of nginx's
//! `ssl_session_ticket_key`, with rotation built in).
//!
//! The key of rotation period `n` (`n = unix time / ticket_rotation`) is
//! HKDF-SHA256 (RFC 5869) of the shared secret with `n` in the info, so
//! every instance derives the same key for the same period without talking
//! to the others. A ticket is
//!
//! ```text
//! period (u64, big endian) || nonce (96 bits, random) || AES-256-GCM(state) || tag
//! ```
//!
//! with the period as associated data. Only the current and the previous
//! period open, so a ticket lives at most two periods; anything else
//! (another secret, a changed byte, an older period, a period from the
//! future) yields `None`, which rustls answers with a full handshake, never
//! an error (RFC 8446 §4.2.11: a server may refuse any PSK).
//!
//! Forward secrecy: a ticket holds the session's resumption secret (TLS
//! 1.3) or master secret (TLS 1.2). A period key leaked from memory opens
//! the tickets of at most two periods. The secret in the file derives every
//! period's key, so whoever reads the file reads every ticket sealed under
//! it: replace the file's secret to end that exposure (clients then make
//! one full handshake), and keep the file `chmod 600`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Prk, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

use crate::clock::Clock;
use crate::secret::Secret;

const PERIOD_LEN: usize = 8;
const HEADER_LEN: usize = PERIOD_LEN + NONCE_LEN;
/// Fixed HKDF salt: separates these keys from any other use of the secret.
const SALT: &[u8] = b"otpgate tls session ticket v1";

/// RFC 8446 §4.6.1: a ticket lifetime is at most seven days.
pub const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Seals and opens session tickets under keys derived from a secret every
/// instance shares.
pub struct SharedTicketer {
    /// HKDF's pseudorandom key from the secret; the secret itself is not kept.
    prk: Prk,
    rotation_secs: u64,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
}

impl fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTicketer")
            .field("rotation_secs", &self.rotation_secs)
            .finish_non_exhaustive()
    }
}

impl SharedTicketer {
    /// `rotation` is validated (config/validate/tls.rs) to lie between one
    /// second and half of [`MAX_LIFETIME`].
    pub fn new(secret: &Secret, rotation: Duration, clock: Arc<dyn Clock>) -> Self {
        SharedTicketer {
            prk: Salt::new(HKDF_SHA256, SALT).extract(secret.expose().as_bytes()),
            rotation_secs: rotation.as_secs().max(1),
            clock,
            rng: SystemRandom::new(),
        }
    }

    fn period_now(&self) -> u64 {
        self.clock.now_secs() / self.rotation_secs
    }

    /// Derived per call rather than cached: two HMACs and an AES key
    /// schedule, a few microseconds against a handshake's hundreds, and no
    /// lock shared by every handshake on every worker.
    fn key(&self, period: u64) -> Option<LessSafeKey> {
        let info = period.to_be_bytes();
        let info = [&info[..]];
        let okm = self.prk.expand(&info, &AES_256_GCM).ok()?;
        Some(LessSafeKey::new(UnboundKey::from(okm)))
    }
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    /// Issued in period `n`, a ticket opens until period `n + 1` ends: at
    /// most two periods.
    fn lifetime(&self) -> u32 {
        u32::try_from(2 * self.rotation_secs).unwrap_or(u32::MAX)
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let period = self.period_now();
        // Random nonces, not a counter: instances sharing the secret share
        // each period's key, and a counter would repeat across them (a
        // repeated GCM nonce leaks the authentication key). 96 random bits
        // keep a collision unlikely far beyond a period's ticket count.
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&period.to_be_bytes());
        out.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        self.key(period)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&out[..PERIOD_LEN]),
                &mut sealed,
            )
            .ok()?;
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < HEADER_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let (period_bytes, rest) = cipher.split_at(PERIOD_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let period = u64::from_be_bytes(period_bytes.try_into().ok()?);
        let now = self.period_now();
        if period != now && period.checked_add(1) != Some(now) {
            return None;
        }
        let mut buf = sealed.to_vec();
        let plain_len = self
            .key(period)?
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(period_bytes),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(plain_len);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::clock::ManualClock;

    const HOUR: Duration = Duration::from_secs(3600);

    fn ticketer(secret: &str, clock: &ManualClock) -> SharedTicketer {
        SharedTicketer::new(&Secret::new(secret), HOUR, Arc::new(clock.clone()))
    }

    fn clock() -> ManualClock {
        ManualClock::at(1_700_000_000_000)
    }

    #[test]
    fn nonces_never_repeat() {
        let c = clock();
        let t = ticketer("a-shared-secret-of-at-least-32-bytes", &c);
        let nonces: HashSet<Vec<u8>> = (0..10_000)
            .map(|_| t.encrypt(b"state").unwrap()[PERIOD_LEN..HEADER_LEN].to_vec())
            .collect();
        assert_eq!(nonces.len(), 10_000);
        // Same plaintext, same period: the tickets differ too.
        assert_ne!(t.encrypt(b"state"), t.encrypt(b"state"));
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let c = clock();
        let t = ticketer("a-shared-secret-of-at-least-32-bytes", &c);
        let ticket = t.encrypt(b"session state").unwrap();
        assert_eq!(t.decrypt(&ticket).as_deref(), Some(&b"session state"[..]));
        // Header (period and nonce), ciphertext and tag alike.
        for i in 0..ticket.len() {
            for flip in [0x01, 0x80] {
                let mut bad = ticket.clone();
                bad[i] ^= flip;
                assert_eq!(t.decrypt(&bad), None, "byte {i} ^ {flip:#x} opened");
            }
        }
        // A period moved back one stays inside the window: only the
        // authenticated header refuses it.
        let mut earlier = ticket.clone();
        let period = u64::from_be_bytes(ticket[..PERIOD_LEN].try_into().unwrap());
        earlier[..PERIOD_LEN].copy_from_slice(&(period - 1).to_be_bytes());
        assert_eq!(t.decrypt(&earlier), None, "period header not authenticated");
        assert_eq!(t.decrypt(&ticket[..ticket.len() - 1]), None);
        assert_eq!(t.decrypt(&[]), None);
        let mut longer = ticket.clone();
        longer.push(0);
        assert_eq!(t.decrypt(&longer), None);
    }

    #[test]
    fn shared_secret_opens_across_instances_other_secret_does_not() {
        let c = clock();
        let a = ticketer("a-shared-secret-of-at-least-32-bytes", &c);
        let b = ticketer("a-shared-secret-of-at-least-32-bytes", &c);
        let other = ticketer("another-secret-of-at-least-32-bytes!", &c);
        let ticket = a.encrypt(b"state").unwrap();
        assert_eq!(b.decrypt(&ticket).as_deref(), Some(&b"state"[..]));
        assert_eq!(other.decrypt(&ticket), None);
    }

    #[test]
    fn a_ticket_opens_for_two_periods_at_most() {
        let c = clock();
        let t = ticketer("a-shared-secret-of-at-least-32-bytes", &c);
        assert_eq!(t.lifetime(), 2 * 3600);
        let ticket = t.encrypt(b"state").unwrap();
        c.advance(HOUR);
        assert!(t.decrypt(&ticket).is_some(), "previous period refused");
        c.advance(HOUR);
        assert_eq!(t.decrypt(&ticket), None, "two periods ago opened");
        // A ticket claiming a future period (a forged header) is refused.
        let later = t.encrypt(b"state").unwrap();
        c.set_ms(1_700_000_000_000);
        assert_eq!(t.decrypt(&later), None, "future period opened");
    }
}
