//! Why a step of the flow did not succeed, and the one mapping from that
//! to a status, a stable code (docs/api.md) and a message for the shopper.

use std::time::Duration;

use http::StatusCode;

use crate::phone::PhoneError;

/// Why a step did not succeed; one mapping to status, code and message.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Phone(#[from] PhoneError),
    #[error("Too many attempts. Please wait and try again.")]
    RateLimited {
        limit: &'static str,
        retry_after: Duration,
    },
    #[error("We couldn't send the text message just now. Please try again in a minute.")]
    SmsFailed,
    #[error("That number has opted out of text messages from us (reply START to the sender to opt back in), or can't receive them.")]
    OptedOut,
    #[error("Your code has expired. Please ask for a new one.")]
    NoChallenge,
    #[error("That code isn't right. Please check it and try again.")]
    WrongCode { remaining: u32 },
    #[error("Too many wrong codes. Please ask for a new code.")]
    Exhausted,
    #[error("Enter the digits from the text message.")]
    BadCode,
    #[error("Something went wrong on our side. Please try again.")]
    Store,
    /// A channel this number's region does not offer, one without budget
    /// left, or one that cannot reach the number (not on WhatsApp).
    #[error("We can't send the code that way. Please choose another way or ask for a new text.")]
    ChannelUnavailable,
    /// Registered-number mode: the storefront knows no signed-in customer.
    #[error("Please sign in to your account first, then try again.")]
    NotSignedIn,
}

impl FlowError {
    pub fn status(&self) -> StatusCode {
        match self {
            FlowError::Phone(_)
            | FlowError::BadCode
            | FlowError::OptedOut
            | FlowError::ChannelUnavailable => StatusCode::UNPROCESSABLE_ENTITY,
            // 422, not 401: a form field was wrong, not the HTTP
            // credentials (401 needs WWW-Authenticate, RFC 9110 §15.5.2).
            FlowError::WrongCode { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            FlowError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            FlowError::SmsFailed | FlowError::Store => StatusCode::SERVICE_UNAVAILABLE,
            FlowError::NotSignedIn => StatusCode::FORBIDDEN,
            FlowError::NoChallenge | FlowError::Exhausted => StatusCode::GONE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            FlowError::Phone(p) => p.code(),
            FlowError::RateLimited { .. } => "rate_limited",
            FlowError::SmsFailed => "sms_failed",
            FlowError::OptedOut => "opted_out",
            FlowError::NoChallenge => "expired",
            FlowError::WrongCode { .. } => "wrong_code",
            FlowError::Exhausted => "too_many_attempts",
            FlowError::BadCode => "bad_code",
            FlowError::Store => "unavailable",
            FlowError::NotSignedIn => "not_signed_in",
            FlowError::ChannelUnavailable => "channel_unavailable",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlowError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}
