//! The audit events of a send or a verify: who (client address, peer,
//! endpoint, the client's JA4), what, and on which number — told so that
//! `otpgate audit-replay` can run them through another configuration
//! (replay.rs) without the trail ever holding a phone number.
//!
//! Privacy: an event that names the number's `prefix` (the number without
//! its last four digits: the unit pumping blocks and `send_per_prefix`
//! key on, needed to replay them, and already shown by the admin API and
//! metrics) never also names its last four digits — together they are the
//! whole number. Such an event names the number by `phone_key` instead: an
//! HMAC-SHA256 of the E.164 number under a key derived from the session
//! secret, 16 hex digits. It tells two events of one number apart from
//! those of another (for per-number limits, and to match a verify to its
//! send), but without the secret it cannot be reversed or checked against
//! a guessed number. Rotating the first session secret changes every key.
//! Events with no prefix (`challenge_voided`, `verify_failed`) keep the
//! masked number (`+91******1234`) for support.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::conn::ConnInfo;
use crate::fingerprint::Ja4;
use crate::phone::{mask, Phone, PhoneError};

pub const TARGET: &str = "otpgate::audit";

/// Who asked, and where: carried by every flow event.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub conn: ConnInfo,
    /// The peer, or behind `trusted_proxies` the forwarded client.
    pub client_ip: IpAddr,
    pub endpoint: &'static str,
}

impl Who {
    /// The client's TLS fingerprint: the connection's JA4, unless the peer
    /// is a trusted proxy, whose hello is its own and not the shopper's
    /// (then there is none, and no fingerprint rule applies).
    pub fn fingerprint(&self) -> Option<Ja4> {
        self.conn.ja4.filter(|_| !self.conn.peer_trusted)
    }
}

/// What a limit was keyed on, shown without revealing a whole number.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Ip(IpAddr),
    /// E.164; its `phone_key` in the trail.
    Phone(&'a str),
    /// A number without its last four digits: not a subscriber, shown.
    Prefix(&'a str),
    Country(&'a str),
    /// A client's JA4.
    Fingerprint(&'a str),
    Global,
}

impl std::fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Ip(ip) => write!(f, "{ip}"),
            Scope::Phone(p) => f.write_str(&mask(p)),
            Scope::Prefix(p) | Scope::Country(p) | Scope::Fingerprint(p) => f.write_str(p),
            Scope::Global => f.write_str("global"),
        }
    }
}

/// The key of the trail's `phone_key` (see the top of this file).
#[derive(Clone)]
pub struct PhoneTags([u8; 32]);

impl PhoneTags {
    pub fn new(key: [u8; 32]) -> Self {
        PhoneTags(key)
    }

    /// 64 bits of HMAC-SHA256(key, E.164), hex.
    pub fn of(&self, e164: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(e164.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }
}

impl std::fmt::Debug for PhoneTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneTags(..)")
    }
}

macro_rules! audit {
    ($who:expr, $($fields:tt)*) => {
        tracing::info!(target: TARGET, client_ip = %$who.client_ip, peer = %$who.conn.peer.ip(), endpoint = $who.endpoint, ja4 = $who.fingerprint().as_ref().map(Ja4::as_str), $($fields)*)
    };
}

pub fn code_sent(phone: &Phone, provider: &str, tags: &PhoneTags, who: Who) {
    audit!(who, event = "code_sent", prefix = phone.prefix(), phone_key = %tags.of(phone.e164()), country = %phone.region_code(), provider);
}

pub fn phone_refused(e: PhoneError, who: Who) {
    audit!(who, event = "phone_refused", reason = e.code());
}

pub fn verified(phone: &Phone, tags: &PhoneTags, who: Who) {
    audit!(who, event = "verified", prefix = phone.prefix(), phone_key = %tags.of(phone.e164()), country = %phone.region_code());
}

/// A wrong code; `voided` when it used up the challenge's last try.
pub fn failed(phone: &Phone, reason: &'static str, who: Who) {
    audit!(who, event = "verify_failed", reason, phone = %phone.masked());
}

pub fn challenge_voided(phone: &Phone, who: Who) {
    audit!(who, event = "challenge_voided", reason = "too_many_attempts", phone = %phone.masked());
}

/// The `key` of a limit event: a number by its `phone_key`, so that it
/// cannot be joined with the event's `prefix`.
fn key_of(scope: Scope<'_>, tags: &PhoneTags) -> String {
    match scope {
        Scope::Phone(e164) => tags.of(e164),
        other => other.to_string(),
    }
}

/// A send or verify refused by `limit` (the rule's name).
pub fn rate_limited(
    limit: &'static str,
    scope: Scope<'_>,
    phone: Option<&Phone>,
    tags: &PhoneTags,
    who: Who,
) {
    let key = key_of(scope, tags);
    let phone_key = phone.map(|p| tags.of(p.e164()));
    let country = phone.map(Phone::region_code);
    audit!(who, event = "rate_limited", limit, key = %key, prefix = phone.map(Phone::prefix), phone_key = phone_key.as_deref(), country = country.as_deref());
}

/// A rule in shadow mode that would have refused this request (fraud.rs):
/// it went on as if the rule did not exist.
pub fn would_block(
    rule: &'static str,
    scope: Scope<'_>,
    phone: Option<&Phone>,
    tags: &PhoneTags,
    who: Who,
) {
    let key = key_of(scope, tags);
    let phone_key = phone.map(|p| tags.of(p.e164()));
    audit!(who, event = "would_block", limit = rule, key = %key, prefix = phone.map(Phone::prefix), phone_key = phone_key.as_deref());
}

pub fn prefix_blocked(phone: &Phone, block_for_secs: u64, tags: &PhoneTags, who: Who) {
    audit!(who, event = "prefix_blocked", prefix = phone.prefix(), country = %phone.region_code(), block_for_secs, phone_key = %tags.of(phone.e164()));
}

/// The pumping detector blocked a client fingerprint (pumping/fingerprint.rs).
pub fn fingerprint_blocked(ja4: &str, block_for_secs: u64, who: Who) {
    audit!(
        who,
        event = "fingerprint_blocked",
        key = ja4,
        block_for_secs
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_mask_numbers_only() {
        assert_eq!(Scope::Phone("+919812345678").to_string(), "+91******5678");
        assert_eq!(Scope::Prefix("+91981234").to_string(), "+91981234");
        assert_eq!(
            Scope::Ip("10.0.0.1".parse().unwrap()).to_string(),
            "10.0.0.1"
        );
    }

    #[test]
    fn phone_keys_are_keyed_and_tell_numbers_apart() {
        let a = PhoneTags::new([1; 32]);
        let b = PhoneTags::new([2; 32]);
        let n = "+919812345678";
        assert_eq!(a.of(n), a.of(n));
        assert_eq!(a.of(n).len(), 16);
        assert_ne!(a.of(n), a.of("+919812345679"));
        assert_ne!(a.of(n), b.of(n), "another secret, another key");
        assert!(!a.of(n).contains("5678"));
        assert_eq!(format!("{a:?}"), "PhoneTags(..)");
    }
}
