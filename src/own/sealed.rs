//! A held request as the store keeps it: method, target, `Content-Type` and
//! body, sealed with AES-256-GCM under a key derived from the session
//! secret (`otp::derive_key(secret, "held-request")`), so a store dump
//! (a Redis `GET`, a backup, a replica) shows no body, and a value that
//! was altered or planted in the store never opens.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use bytes::Bytes;
use http::header::HeaderValue;
use http::Method;
use rand::RngCore;

use crate::money::Amount;

const NONCE_LEN: usize = 12;
/// Associated data: a held request's ciphertext opens only as one (v2:
/// with the transaction line; a v1 value, minutes old at an upgrade, no
/// longer opens and the shopper submits again).
const AAD: &[u8] = b"otpgate held request v2";

/// What is kept of a request while the shopper gets a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRequest {
    pub method: Method,
    /// Path and query, normalized as for forwarding (the checked path).
    pub target: String,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    /// Held by a `confirm = "transaction"` route: its code is bound to
    /// this request ([`HeldRequest::digest`]).
    pub transaction: Option<Transaction>,
}

/// What a transaction route learnt of a held request when it was held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Read from the route's `amount_field` (own/amount.rs).
    pub amount: Option<Amount>,
}

impl HeldRequest {
    /// SHA-256 of method, target, `Content-Type` and body, each
    /// length-prefixed (no two requests share an encoding): what a
    /// transaction code is bound to (otp.rs `code_hash`). The
    /// `Content-Type` is in it because the same bytes read as a form and
    /// as JSON are different orders.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let ct = self
            .content_type
            .as_ref()
            .map_or(&b""[..], |v| v.as_bytes());
        let mut h = Sha256::new();
        h.update(b"otpgate transaction v1");
        for part in [
            self.method.as_str().as_bytes(),
            self.target.as_bytes(),
            ct,
            &self.body,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// What its code confirms, for a request a transaction route held.
    pub fn confirm(&self) -> Option<crate::otp::Confirm> {
        let t = self.transaction.as_ref()?;
        Some(crate::otp::Confirm {
            digest: self.digest(),
            amount: t.amount.as_ref().map(Amount::to_string),
        })
    }

    /// `method \n target \n content-type \n transaction \n body`: none of
    /// the first four can contain a newline (RFC 9110 §5.5 field values; a
    /// normalized target has no control characters; the transaction line
    /// is empty, `t`, or `t CUR minor`).
    fn encode(&self) -> Vec<u8> {
        let ct = self
            .content_type
            .as_ref()
            .map_or(&b""[..], |v| v.as_bytes());
        let mut out = Vec::with_capacity(self.target.len() + ct.len() + self.body.len() + 16);
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b'\n');
        out.extend_from_slice(self.target.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(ct);
        out.push(b'\n');
        match &self.transaction {
            None => {}
            Some(Transaction { amount: None }) => out.push(b't'),
            Some(Transaction { amount: Some(a) }) => {
                out.extend_from_slice(format!("t {} {}", a.currency, a.minor).as_bytes())
            }
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(mut plain: Vec<u8>) -> Option<HeldRequest> {
        let line = |from: usize| -> Option<usize> {
            plain[from..]
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| from + i)
        };
        let a = line(0)?;
        let b = line(a + 1)?;
        let c = line(b + 1)?;
        let d = line(c + 1)?;
        let method = Method::from_bytes(&plain[..a]).ok()?;
        let target = std::str::from_utf8(&plain[a + 1..b]).ok()?.to_string();
        let ct = &plain[b + 1..c];
        let content_type = match ct.is_empty() {
            true => None,
            false => Some(HeaderValue::from_bytes(ct).ok()?),
        };
        let transaction = match std::str::from_utf8(&plain[c + 1..d]).ok()? {
            "" => None,
            "t" => Some(Transaction { amount: None }),
            t => {
                let mut it = t.strip_prefix("t ")?.split(' ');
                let (currency, minor) = (it.next()?.to_string(), it.next()?.parse().ok()?);
                Some(Transaction {
                    amount: Some(Amount { minor, currency }),
                })
            }
        };
        let body = Bytes::from(plain.split_off(d + 1));
        Some(HeldRequest {
            method,
            target,
            content_type,
            body,
            transaction,
        })
    }
}

/// Seals and opens held requests; one expanded key, built at start-up.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    /// `secret` is the first session secret (the one that seals cookies).
    /// A held request lives minutes (`otp.ttl`): rotating the secret in
    /// that window drops it (the shopper submits again), never opens it
    /// with a key it was not sealed with.
    pub fn new(secret: &[u8]) -> Self {
        let key = crate::otp::derive_key(secret, "held-request");
        Sealer {
            cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key"),
        }
    }

    /// nonce | ciphertext | tag. A fresh random nonce per request (96 bits,
    /// NIST SP 800-38D §8.2.2: safe far beyond the number of holds).
    pub fn seal(&self, held: &HeldRequest) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                aes_gcm::aead::Payload {
                    msg: &held.encode(),
                    aad: AAD,
                },
            )
            .expect("AES-GCM encrypts any held-sized input");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// `None` for anything tampered, foreign or malformed.
    pub fn open(&self, sealed: &[u8]) -> Option<HeldRequest> {
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                aes_gcm::aead::Payload { msg: ct, aad: AAD },
            )
            .ok()?;
        HeldRequest::decode(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> HeldRequest {
        HeldRequest {
            method: Method::POST,
            target: "/checkout/place-order?x=1".into(),
            content_type: Some(HeaderValue::from_static("multipart/form-data; boundary=zz")),
            body: Bytes::from_static(b"--zz\r\nline\nwith\nnewlines\r\n\x00\xff--zz--"),
            transaction: None,
        }
    }

    #[test]
    fn a_transaction_round_trips_and_its_digest_covers_every_part() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        for amount in [
            None,
            Some(Amount {
                minor: 129_900,
                currency: "INR".into(),
            }),
        ] {
            let t = HeldRequest {
                transaction: Some(Transaction { amount }),
                ..order()
            };
            assert_eq!(s.open(&s.seal(&t)), Some(t));
        }
        let d = order().digest();
        let variants = [
            HeldRequest {
                method: Method::PUT,
                ..order()
            },
            HeldRequest {
                target: "/checkout/place-order?x=2".into(),
                ..order()
            },
            HeldRequest {
                content_type: None,
                ..order()
            },
            HeldRequest {
                body: Bytes::from_static(b"other"),
                ..order()
            },
            // The same bytes split differently between target and body.
            HeldRequest {
                target: "/checkout/place-order?x=1-".into(),
                body: Bytes::from_static(b"-zz\r\nline\nwith\nnewlines\r\n\x00\xff--zz--"),
                ..order()
            },
        ];
        for v in variants {
            assert_ne!(v.digest(), d, "{v:?}");
        }
    }

    #[test]
    fn opens_what_it_sealed_and_hides_the_body() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let sealed = s.seal(&order());
        assert_eq!(s.open(&sealed), Some(order()));
        assert!(!sealed.windows(8).any(|w| w == b"newlines"));
        let bare = HeldRequest {
            content_type: None,
            body: Bytes::new(),
            ..order()
        };
        assert_eq!(s.open(&s.seal(&bare)), Some(bare));
    }

    #[test]
    fn refuses_tampered_foreign_and_short_values() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let mut sealed = s.seal(&order());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(s.open(&sealed), None);
        let other = Sealer::new(b"another secret, 32 bytes or more!!");
        assert_eq!(other.open(&s.seal(&order())), None);
        assert_eq!(s.open(b"short"), None);
    }
}
