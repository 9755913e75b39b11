//! Cookies otpgate issues, sealed with AES-256-GCM by the `cookie` crate's
//! private jar (the cookie name is authenticated too). Several keys open a
//! cookie, the first seals: key rotation without logging everyone out.

use cookie::{Cookie, CookieJar, Key, SameSite};
use rand::RngCore;

use crate::config::SessionConfig;

/// What a session cookie asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub phone: String,
    /// Unix seconds.
    pub verified_at: u64,
    pub expires_at: u64,
}

impl Session {
    fn encode(&self) -> String {
        format!(
            "v1|{}|{}|{}|{}",
            self.id, self.phone, self.verified_at, self.expires_at
        )
    }

    fn decode(s: &str) -> Option<Session> {
        let mut it = s.split('|');
        if it.next()? != "v1" {
            return None;
        }
        let s = Session {
            id: it.next()?.to_string(),
            phone: it.next()?.to_string(),
            verified_at: it.next()?.parse().ok()?,
            expires_at: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(s)
    }
}

pub struct CookieSealer {
    keys: Vec<Key>,
    pub session_name: String,
    pub pending_name: String,
    pub csrf_name: String,
}

impl CookieSealer {
    pub fn new(cfg: &SessionConfig) -> Self {
        CookieSealer {
            keys: cfg
                .secrets
                .iter()
                .map(|s| Key::derive_from(s.expose().as_bytes()))
                .collect(),
            pending_name: format!("{}-pending", cfg.cookie_name),
            csrf_name: format!("{}-csrf", cfg.cookie_name),
            session_name: cfg.cookie_name.clone(),
        }
    }

    /// Encrypts `plain` as the value of cookie `name`.
    pub fn seal(&self, name: &str, plain: &str) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.keys[0])
            .add(Cookie::new(name.to_string(), plain.to_string()));
        jar.get(name)
            .map(|c| c.value().to_string())
            .unwrap_or_default()
    }

    /// Decrypts with each key in turn; `None` for anything tampered, foreign
    /// or malformed.
    pub fn open(&self, name: &str, sealed: &str) -> Option<String> {
        if sealed.len() > 4096 {
            return None;
        }
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.to_string(), sealed.to_string()));
        self.keys
            .iter()
            .find_map(|k| jar.private(k).get(name).map(|c| c.value().to_string()))
    }

    pub fn open_session(&self, sealed: &str, now_secs: u64) -> Option<Session> {
        let s = Session::decode(&self.open(&self.session_name, sealed)?)?;
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

    #[test]
    fn round_trip_and_rotation() {
        let old = sealer(&["a".repeat(32).as_str()]);
        let s = Session {
            id: random_id(),
            phone: "+919812345678".into(),
            verified_at: 100,
            expires_at: 200,
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

    #[test]
    fn cookie_name_is_authenticated() {
        let k = sealer(&["a".repeat(32).as_str()]);
        let sealed = k.seal("__Host-otpgate-pending", "v1|x|+1|1|999");
        assert_eq!(k.open("__Host-otpgate", &sealed), None);
    }
}
