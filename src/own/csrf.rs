//! The form token (double-submit, keyed): every otpgate form carries an
//! HMAC of the browser's CSRF cookie, so a page from another site can
//! neither read nor forge it (OWASP CSRF cheat sheet, "signed double-submit
//! cookie"). The cookie is also the browser's identity for a
//! proof-of-work challenge (own/pow.rs).

use cookie::SameSite;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use super::state::Own;
use crate::headers;
use crate::session::{random_id, set_cookie};

/// The form token: HMAC of the browser's CSRF cookie, so a page from
/// another site can neither read nor forge it.
pub fn csrf_for(own: &Own, cookie_token: &str) -> String {
    hex::encode(&crate::otp::derive_key(&own.csrf_key, cookie_token)[..16])
}

/// The browser's CSRF cookie, or a new one to set.
pub fn csrf_cookie(own: &Own, headers: &HeaderMap) -> (String, Option<String>) {
    match headers::cookie(headers, &own.cookies.csrf_name)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(t) => (t.to_string(), None),
        None => {
            let t = random_id();
            let c = set_cookie(
                &own.cookies.csrf_name,
                &t,
                own.flow.cfg.session_ttl.as_secs(),
                SameSite::Strict,
            );
            (t, Some(c))
        }
    }
}

pub fn csrf_valid(own: &Own, headers: &HeaderMap, form_token: Option<&str>) -> bool {
    let (Some(cookie), Some(token)) =
        (headers::cookie(headers, &own.cookies.csrf_name), form_token)
    else {
        return false;
    };
    bool::from(csrf_for(own, cookie).as_bytes().ct_eq(token.as_bytes()))
}
