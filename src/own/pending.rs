//! The pending cookie: which challenge this browser is answering and where
//! it goes afterwards. Sealed (AES-GCM, session.rs) so a browser can
//! neither read another's challenge id nor point `rd` off-site; written and
//! read only here, for the forms and the JSON API alike.

use cookie::SameSite;
use http::HeaderMap;

use crate::headers;
use crate::session::{set_cookie, CookieSealer};

/// What the browser's pending cookie holds.
pub struct Pending {
    pub challenge_id: String,
    pub rd: String,
}

impl Pending {
    pub fn encode(&self) -> String {
        format!("{}|{}", self.challenge_id, self.rd)
    }
    pub fn decode(s: &str) -> Option<Pending> {
        let (id, rd) = s.split_once('|')?;
        Some(Pending {
            challenge_id: id.to_string(),
            rd: rd.to_string(),
        })
    }

    /// The browser's pending challenge, if its cookie opens.
    pub fn of(cookies: &CookieSealer, headers: &HeaderMap) -> Option<Pending> {
        let sealed = headers::cookie(headers, &cookies.pending_name)?;
        Pending::decode(&cookies.open(&cookies.pending_name, sealed)?)
    }

    /// `Set-Cookie` for this challenge, living as long as its code.
    pub fn cookie(&self, cookies: &CookieSealer, ttl_secs: u64) -> String {
        let sealed = cookies.seal(&cookies.pending_name, &self.encode());
        set_cookie(&cookies.pending_name, &sealed, ttl_secs, SameSite::Strict)
    }
}
