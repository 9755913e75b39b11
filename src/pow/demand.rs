//! What the gate speaks in: the attempt it prices, the solution a client
//! brings, and a refusal with its reason and the challenge to solve.

use std::net::IpAddr;

use crate::phone::Phone;

/// Why a send's proof-of-work was not accepted. Each code (docs/api.md)
/// says what was wrong; every refusal comes with a fresh challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    #[error("This request needs a quick check by your browser first.")]
    Required,
    #[error("The browser check's answer was not readable.")]
    Malformed,
    #[error("The browser check was changed after it was issued.")]
    Altered,
    #[error("The browser check was for another phone number.")]
    OtherNumber,
    #[error("The browser check was issued to another browser.")]
    OtherBrowser,
    #[error("The browser check expired.")]
    Expired,
    #[error("The browser check is too easy for this request now.")]
    TooEasy,
    #[error("The browser check's answer is wrong.")]
    Unsolved,
    #[error("The browser check was already used.")]
    Used,
}

impl PowError {
    /// The JSON API's `error` and the pages' strings key (`error_<code>`).
    pub fn code(self) -> &'static str {
        match self {
            PowError::Required => "pow_required",
            PowError::Malformed => "pow_malformed",
            PowError::Altered => "pow_altered",
            PowError::OtherNumber => "pow_wrong_phone",
            PowError::OtherBrowser => "pow_wrong_browser",
            PowError::Expired => "pow_expired",
            PowError::TooEasy => "pow_too_easy",
            PowError::Unsolved => "pow_unsolved",
            PowError::Used => "pow_used",
        }
    }
}

/// A refusal and the challenge to solve instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub error: PowError,
    pub challenge: String,
    pub difficulty: u8,
    /// Seconds to solve and send it in.
    pub expires_in: u64,
}

/// One send attempt, as the gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub phone: &'a Phone,
    /// The connection's JA4, if its ClientHello parsed.
    pub ja4: Option<&'a str>,
    pub ip: IpAddr,
    /// The browser's cookie value the challenge is bound to.
    pub browser: &'a str,
}

/// What the client sent back: the challenge text and its nonce.
#[derive(Debug, Clone, Default)]
pub struct Solution {
    pub challenge: String,
    pub nonce: String,
}
