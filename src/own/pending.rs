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
    /// Empty while a held request waits for the shopper to ask for a code.
    pub challenge_id: String,
    /// Where this browser's held request is in the store (own/held.rs):
    /// its hold id until the code is sent, then the challenge id. Only
    /// this sealed cookie names it, so only this browser can have it sent.
    pub held: Option<String>,
    pub rd: String,
}

impl Pending {
    /// `id|rd`, or `h2|id|held|rd` with a held request (ids are hex, so
    /// neither contains `|`; `rd` may, and comes last).
    pub fn encode(&self) -> String {
        match &self.held {
            None => format!("{}|{}", self.challenge_id, self.rd),
            Some(h) => format!("h2|{}|{h}|{}", self.challenge_id, self.rd),
        }
    }
    pub fn decode(s: &str) -> Option<Pending> {
        if let Some(rest) = s.strip_prefix("h2|") {
            let mut it = rest.splitn(3, '|');
            let (id, held, rd) = (it.next()?, it.next()?, it.next()?);
            return Some(Pending {
                challenge_id: id.to_string(),
                held: Some(held.to_string()).filter(|h| !h.is_empty()),
                rd: rd.to_string(),
            });
        }
        let (id, rd) = s.split_once('|')?;
        Some(Pending {
            challenge_id: id.to_string(),
            held: None,
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

#[cfg(test)]
mod tests {
    use super::Pending;

    #[test]
    fn round_trips_with_and_without_a_held_request() {
        for held in [None, Some("abc".to_string())] {
            let p = Pending {
                challenge_id: "c1".into(),
                held: held.clone(),
                rd: "/a|b?x=1".into(),
            };
            let q = Pending::decode(&p.encode()).unwrap();
            assert_eq!(
                (q.challenge_id.as_str(), q.held, q.rd.as_str()),
                ("c1", held, "/a|b?x=1")
            );
        }
    }
}
