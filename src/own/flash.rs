//! Post/redirect/get: a form post never answers with a page. It answers
//! `303 See Other` to a `GET` page and leaves what that page must say here,
//! in a short-lived sealed cookie: a message key (a flow error code or a
//! notice's strings key), never its text, so nothing a shopper reads can be
//! planted through a URL. The page that shows it clears it. Back and reload
//! then only ever repeat a `GET`: no "Confirm Form Resubmission", and no
//! second code check or SMS from a reload (RFC 9110 §15.4.4).

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::flow::FlowError;
use crate::headers;
use crate::pages::{Alert, PowView};
use crate::session::{clear_cookie, set_cookie, CookieSealer};

/// Long enough for the `GET` that follows the `303`; a flash is not a
/// message store.
const MAX_AGE_SECS: u64 = 60;

/// The longest typed number kept for the phone field (its `maxlength`).
const MAX_TYPED: usize = 32;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// A flow error code (`FlowError::code`) or, for a notice, a strings key.
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "n", default)]
    pub notice: bool,
    /// The refusal's status, carried by the page that shows it.
    #[serde(rename = "s", default)]
    pub status: u16,
    /// Wrong code: tries left.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// A wait's end (unix ms), so the page counts down from the right value.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// The number to put back in the phone field.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A proof-of-work to do before the send (pow.rs): the challenge and
    /// its difficulty, for the phone page's script.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<(String, u8)>,
}

impl Flash {
    /// A refusal to announce on the next page.
    pub fn error(e: &FlowError, now_ms: u64) -> Flash {
        Flash {
            key: e.code().to_string(),
            notice: false,
            status: e.status().as_u16(),
            remaining: match e {
                FlowError::WrongCode { remaining } => Some(*remaining),
                _ => None,
            },
            until_ms: e
                .retry_after()
                .map(|d| now_ms + (d.as_millis() as u64).max(1000)),
            phone: None,
            pow: match e {
                FlowError::Pow(d) => Some((d.challenge.clone(), d.difficulty)),
                _ => None,
            },
        }
    }

    /// A notice (a strings key such as `new_code_sent`).
    pub fn notice(key: &str) -> Flash {
        Flash {
            key: key.to_string(),
            notice: true,
            status: StatusCode::OK.as_u16(),
            ..Flash::default()
        }
    }

    /// Keeps what the shopper typed (only a field's worth).
    pub fn with_phone(mut self, typed: &str) -> Flash {
        let typed = typed.trim();
        if !typed.is_empty() && typed.len() <= MAX_TYPED {
            self.phone = Some(typed.to_string());
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK)
    }

    /// Seconds left of the wait, at least 1 while there is one.
    pub fn wait_secs(&self, now_ms: u64) -> Option<u64> {
        self.until_ms
            .map(|u| u.saturating_sub(now_ms).div_ceil(1000).max(1))
    }

    /// The proof-of-work the page asks the browser for, if any.
    pub fn pow(&self) -> Option<PowView<'_>> {
        self.pow.as_ref().map(|(challenge, difficulty)| PowView {
            challenge,
            difficulty: *difficulty,
        })
    }

    /// The error as the page announces it (none for a notice).
    pub fn alert(&self, now_ms: u64) -> Option<Alert<'_>> {
        (!self.notice).then(|| Alert {
            code: &self.key,
            retry_after_secs: self.wait_secs(now_ms),
            remaining: self.remaining,
        })
    }

    fn name(cookies: &CookieSealer) -> String {
        format!("{}-flash", cookies.session_name)
    }

    /// `Set-Cookie` carrying this flash to the next page.
    pub fn cookie(&self, cookies: &CookieSealer) -> String {
        let name = Flash::name(cookies);
        let plain = serde_json::to_string(self).expect("a flash serializes");
        set_cookie(
            &name,
            &cookies.seal(&name, &plain),
            MAX_AGE_SECS,
            cookie::SameSite::Strict,
        )
    }

    /// This browser's flash, if any, and the `Set-Cookie` that clears it
    /// (shown once: a reload shows the page without it).
    pub fn take(cookies: &CookieSealer, headers: &HeaderMap) -> (Option<Flash>, Option<String>) {
        let name = Flash::name(cookies);
        let Some(sealed) = headers::cookie(headers, &name) else {
            return (None, None);
        };
        let flash = cookies
            .open(&name, sealed)
            .and_then(|plain| serde_json::from_str(&plain).ok());
        (flash, Some(clear_cookie(&name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wait_counts_from_its_end_and_a_long_typed_number_is_dropped() {
        let e = FlowError::RateLimited {
            limit: "send_per_ip",
            retry_after: Duration::from_secs(45),
        };
        let f = Flash::error(&e, 1_000).with_phone(&"9".repeat(33));
        assert_eq!(f.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(f.wait_secs(1_000), Some(45));
        assert_eq!(f.wait_secs(31_500), Some(15));
        assert_eq!(f.wait_secs(99_000), Some(1), "never 0 while it shows");
        assert_eq!(f.phone, None);
        let a = f.alert(1_000).unwrap();
        assert_eq!((a.code, a.retry_after_secs), ("rate_limited", Some(45)));
        assert!(Flash::notice("new_code_sent").alert(0).is_none());
    }

    #[test]
    fn a_flash_round_trips_as_short_json() {
        let f = Flash::error(&FlowError::WrongCode { remaining: 2 }, 0).with_phone("98123 45678");
        let s = serde_json::to_string(&f).unwrap();
        assert!(s.len() < 80, "{s}");
        assert_eq!(serde_json::from_str::<Flash>(&s).unwrap(), f);
    }
}
