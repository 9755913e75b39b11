//! The pending cookie: which challenge this browser is answering and where
//! it goes afterwards. Sealed (AES-GCM, session.rs) so a browser can
//! neither read another's challenge id nor point `rd` off-site; written and
//! read only here, for the forms and the JSON API alike.

use cookie::SameSite;
use http::HeaderMap;

use super::state::Own;
use crate::headers;
use crate::phone::Phone;
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
    /// The challenge's number (E.164), to fill the phone field again when
    /// the code is used up; empty once the shopper is verified (then the
    /// challenge id is empty too, and the cookie only keeps `rd`).
    pub phone: String,
}

impl Pending {
    /// `id|phone|rd`, or `h2|id|held|phone|rd` with a held request (ids
    /// are hex and phones E.164, so none contains `|`; `rd` may, and comes
    /// last).
    pub fn encode(&self) -> String {
        match &self.held {
            None => format!("{}|{}|{}", self.challenge_id, self.phone, self.rd),
            Some(h) => format!("h2|{}|{h}|{}|{}", self.challenge_id, self.phone, self.rd),
        }
    }
    pub fn decode(s: &str) -> Option<Pending> {
        if let Some(rest) = s.strip_prefix("h2|") {
            let mut it = rest.splitn(4, '|');
            let (id, held, phone, rd) = (it.next()?, it.next()?, it.next()?, it.next()?);
            return Some(Pending {
                challenge_id: id.to_string(),
                held: Some(held.to_string()).filter(|h| !h.is_empty()),
                rd: rd.to_string(),
                phone: phone.to_string(),
            });
        }
        let (id, rest) = s.split_once('|')?;
        // `rd` always starts with `/`; a cookie from before the number was
        // kept is `id|rd`.
        let (phone, rd) = match rest.split_once('|') {
            Some((phone, rd)) if !phone.starts_with('/') => (phone, rd),
            _ => ("", rest),
        };
        Some(Pending {
            challenge_id: id.to_string(),
            held: None,
            rd: rd.to_string(),
            phone: phone.to_string(),
        })
    }

    /// The browser's pending challenge, if its cookie opens.
    pub fn of(cookies: &CookieSealer, headers: &HeaderMap) -> Option<Pending> {
        let sealed = headers::cookie(headers, &cookies.pending_name)?;
        Pending::decode(&cookies.open(&cookies.pending_name, sealed)?)
    }

    /// The browser's challenge for this same number, if it is younger than
    /// `otp.resend_after`: the resend delay holds for any new code to the
    /// number in this browser, not only for the resend button, so going back
    /// to the phone page and sending again texts nothing new (issue 11).
    pub async fn young_for(own: &Own, headers: &HeaderMap, number: &str) -> Option<Pending> {
        let pending = Pending::of(&own.cookies, headers).filter(|p| !p.challenge_id.is_empty())?;
        let now = own.flow.clock.now_ms();
        let ch = own
            .flow
            .store
            .challenge(&pending.challenge_id, now)
            .await
            .ok()??;
        let phone = Phone::parse(number, &own.flow.cfg.phone).ok()?;
        let ready_at = ch.sent_at + own.flow.cfg.otp.resend_after.as_millis() as u64;
        (phone.e164() == ch.phone && now < ready_at).then_some(pending)
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
    fn the_number_is_kept_and_an_older_cookie_still_reads() {
        let p = Pending {
            challenge_id: "c1".into(),
            held: None,
            rd: "/a?x=|y".into(),
            phone: "+919812345678".into(),
        };
        let back = Pending::decode(&p.encode()).unwrap();
        assert_eq!(
            (back.challenge_id, back.phone, back.rd),
            ("c1".into(), "+919812345678".into(), "/a?x=|y".into())
        );
        let old = Pending::decode("c1|/a?x=|y").unwrap();
        assert_eq!((old.phone.as_str(), old.rd.as_str()), ("", "/a?x=|y"));
        let done = Pending::decode("||/cart").unwrap();
        assert_eq!(
            (done.challenge_id.as_str(), done.rd.as_str()),
            ("", "/cart")
        );
    }

    #[test]
    fn a_held_request_round_trips() {
        for phone in ["", "+919812345678"] {
            let p = Pending {
                challenge_id: "c1".into(),
                held: Some("h1".into()),
                rd: "/a|b?x=1".into(),
                phone: phone.into(),
            };
            let q = Pending::decode(&p.encode()).unwrap();
            assert_eq!(
                (
                    q.challenge_id.as_str(),
                    q.held.as_deref(),
                    q.rd.as_str(),
                    q.phone.as_str()
                ),
                ("c1", Some("h1"), "/a|b?x=1", phone)
            );
        }
    }
}
