//! Cookies otpgate issues, sealed with AES-256-GCM (RustCrypto `aes-gcm`)
//! in the `cookie` crate's private-jar format: base64(nonce | ciphertext |
//! tag), the cookie name as associated data (so values cannot be swapped
//! between cookies), keys derived with `cookie::Key::derive_from`. The jar
//! itself is not used because it expands the AES key schedule on every call;
//! here each key is expanded once. Several keys open a cookie, the first
//! seals: key rotation without logging everyone out.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cookie::{Cookie, Key, SameSite};
use rand::RngCore;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

use crate::config::SessionConfig;

/// What a session cookie asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub phone: String,
    /// Unix seconds.
    pub verified_at: u64,
    pub expires_at: u64,
    /// The store epoch the session was issued under (see `store/epoch.rs`):
    /// a cookie from another epoch is refused, because its logout may be
    /// among what the store lost.
    pub epoch: u64,
}

impl Session {
    /// `v2` added the epoch. A `v1` cookie (issued before epochs existed)
    /// does not decode, so it is refused like any unreadable cookie: its
    /// logout could not be checked against an epoch.
    fn encode(&self) -> String {
        format!(
            "v2|{}|{}|{}|{}|{}",
            self.id, self.phone, self.verified_at, self.expires_at, self.epoch
        )
    }

    fn decode(s: &str) -> Option<Session> {
        let mut it = s.split('|');
        if it.next()? != "v2" {
            return None;
        }
        let s = Session {
            id: it.next()?.to_string(),
            phone: it.next()?.to_string(),
            verified_at: it.next()?.parse().ok()?,
            expires_at: it.next()?.parse().ok()?,
            epoch: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(s)
    }
}

pub struct CookieSealer {
    /// One expanded AES-256-GCM key per secret; the first seals.
    ciphers: Vec<Aes256Gcm>,
    pub session_name: String,
    pub pending_name: String,
    pub csrf_name: String,
}

impl CookieSealer {
    pub fn new(cfg: &SessionConfig) -> Self {
        CookieSealer {
            ciphers: cfg
                .secrets
                .iter()
                .map(|s| {
                    let key = Key::derive_from(s.expose().as_bytes());
                    Aes256Gcm::new_from_slice(key.encryption()).expect("32-byte key")
                })
                .collect(),
            pending_name: format!("{}-pending", cfg.cookie_name),
            csrf_name: format!("{}-csrf", cfg.cookie_name),
            session_name: cfg.cookie_name.clone(),
        }
    }

    /// Encrypts `plain` as the value of cookie `name`.
    pub fn seal(&self, name: &str, plain: &str) -> String {
        let mut data = vec![0u8; NONCE_LEN + plain.len() + TAG_LEN];
        let (nonce, rest) = data.split_at_mut(NONCE_LEN);
        let (msg, tag) = rest.split_at_mut(plain.len());
        rand::thread_rng().fill_bytes(nonce);
        msg.copy_from_slice(plain.as_bytes());
        let t = self.ciphers[0]
            .encrypt_in_place_detached(Nonce::from_slice(nonce), name.as_bytes(), msg)
            .expect("AES-GCM encrypts any cookie-sized input");
        tag.copy_from_slice(&t);
        STANDARD.encode(&data)
    }

    /// Decrypts with each key in turn; `None` for anything tampered, foreign
    /// or malformed.
    pub fn open(&self, name: &str, sealed: &str) -> Option<String> {
        self.open_with(name, sealed, |plain| plain.to_string())
    }

    /// Decrypts into a stack buffer and hands `read` the plaintext: the
    /// session check on every protected request allocates nothing here.
    fn open_with<T>(&self, name: &str, sealed: &str, read: impl FnOnce(&str) -> T) -> Option<T> {
        // Session cookies decode to ~100 bytes: a small stack buffer covers
        // them; anything larger (up to the 4 KiB cookie limit) uses the heap.
        let mut small = [0u8; 512];
        let mut large = Vec::new();
        if sealed.len() > 4096 {
            return None;
        }
        let buf: &mut [u8] = if sealed.len() <= 680 {
            &mut small
        } else {
            large.resize(3072, 0);
            &mut large
        };
        let len = STANDARD.decode_slice(sealed, &mut *buf).ok()?;
        if len < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (head, tag) = buf[..len].split_at_mut(len - TAG_LEN);
        let (nonce, msg) = head.split_at_mut(NONCE_LEN);
        let (nonce, tag) = (Nonce::from_slice(nonce), Tag::from_slice(tag));
        // The tag is checked before anything is decrypted, so a key that
        // fails leaves `msg` as it was for the next one.
        let opened = self.ciphers.iter().any(|c| {
            c.decrypt_in_place_detached(nonce, name.as_bytes(), msg, tag)
                .is_ok()
        });
        if !opened {
            return None;
        }
        std::str::from_utf8(msg).ok().map(read)
    }

    pub fn open_session(&self, sealed: &str, now_secs: u64) -> Option<Session> {
        let s = self.open_with(&self.session_name, sealed, Session::decode)??;
        (s.expires_at > now_secs && s.verified_at <= now_secs + 60).then_some(s)
    }

    pub fn session_cookie(&self, s: &Session, now_secs: u64) -> String {
        let max_age = s.expires_at.saturating_sub(now_secs);
        set_cookie(
            &self.session_name,
            &self.seal(&self.session_name, &s.encode()),
            max_age,
            SameSite::Lax,
        )
    }
}

/// `Set-Cookie` text for one of otpgate's cookies: always `Secure;
/// HttpOnly; Path=/` and no `Domain` (the `__Host-` prefix rules).
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, same_site: SameSite) -> String {
    Cookie::build((name.to_string(), value.to_string()))
        .secure(true)
        .http_only(true)
        .path("/")
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(max_age_secs as i64))
        .build()
        .to_string()
}

/// Clears a cookie (same attributes, empty, expired).
pub fn clear_cookie(name: &str) -> String {
    set_cookie(name, "", 0, SameSite::Lax)
}

/// 128 random bits from the OS CSPRNG, hex.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::time::Duration;

    fn sealer(secrets: &[&str]) -> CookieSealer {
        CookieSealer::new(&SessionConfig {
            secrets: secrets.iter().map(|s| Secret::new(s.to_string())).collect(),
            ttl: Duration::from_secs(3600),
            cookie_name: "__Host-otpgate".into(),
        })
    }

    /// A cookie is at most 4 KiB (RFC 6265 §6.1's minimum a browser keeps):
    /// a sealed value of exactly 4,096 characters opens, one a single
    /// block longer is refused before it is decoded.
    #[test]
    fn sealed_values_open_up_to_exactly_four_kib() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let at_limit = "p".repeat(4096 / 4 * 3 - NONCE_LEN - TAG_LEN);
        let sealed = k.seal("n", &at_limit);
        assert_eq!(sealed.len(), 4096);
        assert_eq!(k.open("n", &sealed).as_deref(), Some(at_limit.as_str()));
        let over = k.seal("n", &format!("{at_limit}ppp"));
        assert_eq!(over.len(), 4100);
        assert_eq!(k.open("n", &over), None);
    }

    #[test]
    fn round_trip_and_rotation() {
        let old = sealer(&["a".repeat(32).as_str()]);
        let s = Session {
            id: random_id(),
            phone: "+919812345678".into(),
            verified_at: 100,
            expires_at: 200,
            epoch: 42,
        };
        let sealed = old.seal("__Host-otpgate", &s.encode());
        assert_eq!(old.open_session(&sealed, 150), Some(s.clone()));
        assert_eq!(old.open_session(&sealed, 200), None, "expired");
        let rotated = sealer(&["b".repeat(32).as_str(), "a".repeat(32).as_str()]);
        assert_eq!(
            rotated.open_session(&sealed, 150),
            Some(s.clone()),
            "old key still opens"
        );
        let new = rotated.seal("__Host-otpgate", &s.encode());
        assert_eq!(
            old.open_session(&new, 150),
            None,
            "new cookies use the new key"
        );
        assert_eq!(
            sealer(&["c".repeat(32).as_str()]).open_session(&sealed, 150),
            None
        );
    }

    /// A session "verified" more than a minute in the future (an instance
    /// whose clock is far ahead, or a cookie sealed for later) is refused:
    /// it would otherwise stay fresh for a `max_age` that has not begun.
    /// A minute of skew between instances is tolerated.
    #[test]
    fn a_session_verified_in_the_future_is_refused_beyond_a_minute() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let now = 1_000_000;
        let at = |verified_at: u64| {
            let s = Session {
                id: random_id(),
                phone: "+919812345678".into(),
                verified_at,
                expires_at: now + 3600,
                epoch: 1,
            };
            k.open_session(&k.seal("__Host-otpgate", &s.encode()), now)
                .is_some()
        };
        assert!(at(now));
        assert!(at(now + 60), "a minute of skew");
        assert!(!at(now + 61));
        assert!(!at(now * 2));
    }

    /// The shortest sealed value (no plaintext at all) opens to the empty
    /// text; one byte shorter is no value.
    #[test]
    fn an_empty_plaintext_opens_and_a_shorter_value_does_not() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let sealed = k.seal("n", "");
        assert_eq!(k.open("n", &sealed).as_deref(), Some(""));
        let raw = STANDARD.decode(&sealed).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + TAG_LEN);
        assert_eq!(k.open("n", &STANDARD.encode(&raw[1..])), None);
    }

    /// Same format as the `cookie` crate's private jar, both ways.
    #[test]
    fn compatible_with_the_cookie_private_jar() {
        let secret = "a".repeat(32);
        let k = sealer(&[secret.as_str()]);
        let key = Key::derive_from(secret.as_bytes());
        let mut jar = cookie::CookieJar::new();
        jar.private_mut(&key).add(Cookie::new("n", "hello"));
        let by_jar = jar.get("n").unwrap().value().to_string();
        assert_eq!(k.open("n", &by_jar).as_deref(), Some("hello"));
        let mut jar = cookie::CookieJar::new();
        jar.add_original(Cookie::new("n", k.seal("n", "world")));
        assert_eq!(jar.private(&key).get("n").unwrap().value(), "world");
    }

    #[test]
    fn large_values_round_trip_and_oversized_are_refused() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let big = "x".repeat(1500);
        assert_eq!(
            k.open("n", &k.seal("n", &big)).as_deref(),
            Some(big.as_str())
        );
        assert_eq!(
            k.open("n", &k.seal("n", &"y".repeat(3500))),
            None,
            "over the 4 KiB cookie limit"
        );
    }

    /// A cookie in the format before epochs (`v1`, no epoch) is refused,
    /// even sealed with the right key: its logout cannot be checked.
    #[test]
    fn cookies_without_an_epoch_are_refused() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let v1 = k.seal("__Host-otpgate", "v1|abc|+919812345678|100|200");
        assert_eq!(k.open_session(&v1, 150), None);
        let no_epoch = k.seal("__Host-otpgate", "v2|abc|+919812345678|100|200");
        assert_eq!(k.open_session(&no_epoch, 150), None);
        let bad_epoch = k.seal("__Host-otpgate", "v2|abc|+919812345678|100|200|x");
        assert_eq!(k.open_session(&bad_epoch, 150), None);
        let good = k.seal("__Host-otpgate", "v2|abc|+919812345678|100|200|7");
        assert_eq!(k.open_session(&good, 150).map(|s| s.epoch), Some(7));
    }

    #[test]
    fn cookie_name_is_authenticated() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let sealed = k.seal("__Host-otpgate-pending", "v1|x|+1|1|999");
        assert_eq!(k.open("__Host-otpgate", &sealed), None);
    }
}
