//! What goes to a provider and what comes back: the message, the receipt,
//! the classified failure. Shared by every sender and the delivery chain.

use std::time::Duration;

/// One OTP message, ready to send.
#[derive(Clone)]
pub struct SmsMessage {
    /// E.164 with `+`, e.g. `+919812345678` (already validated by the caller).
    pub to: String,
    /// ISO 3166 alpha-2 country of `to`, e.g. `IN`.
    pub region: String,
    /// The full rendered text (may need UCS-2, e.g. Hindi).
    pub body: String,
    /// The digits alone, for providers whose DLT templates take variables
    /// (and for WhatsApp templates and voice calls, which carry only it).
    pub code: String,
    /// The shopper's page language (`en`, `hi`): the WhatsApp template's
    /// language and the voice call's.
    pub lang: String,
}

// Written by hand so that a `{:?}` in a log can never print the code or body.
impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &mask_phone(&self.to))
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    pub provider: &'static str,
    /// The provider's id for the message (Twilio `SM…`, Vonage `message-id`,
    /// MSG91 request id). `None` for `console`/`file`, and when the outcome
    /// is unconfirmed (see [`SmsError::MaybeDelivered`]).
    pub message_id: Option<String>,
}

/// One provider, one attempt.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// The provider's config name (`"twilio"`, …), used in metrics and logs.
    fn name(&self) -> &'static str;
    /// Makes exactly one attempt; retries and failover belong to [`Delivery`].
    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError>;
}

/// Why one attempt failed. No variant carries text from the request, so
/// `Display` is always safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Nothing was delivered and trying again may work: connection refused or
    /// reset, a connect timeout, HTTP 5xx, or a rate limit (HTTP 429, Twilio
    /// 20429, Vonage status 1) with the provider's `Retry-After` if it sent one.
    #[error("provider temporarily unavailable ({kind})")]
    Transient {
        kind: TransientKind,
        retry_after: Option<Duration>,
    },
    /// The provider refused the message; the same request will fail again.
    #[error("provider refused the message ({0})")]
    Permanent(PermanentReason),
    /// The request was sent but no answer came within the timeout (or a 2xx
    /// answer could not be read). The SMS may or may not be on its way.
    ///
    /// [`Delivery`] does not retry or fail over after this: a second message
    /// would carry the same code, so a duplicate is harmless to the shopper
    /// but costs money and is exactly what a slow-but-working provider would
    /// produce; a lost message is recovered by the shopper's "resend" after
    /// `[otp] resend_after`, which is rate-limited. The receipt then has no
    /// `message_id` and the metric reason is `unconfirmed`.
    #[error("no answer after the request was sent; the SMS may have been delivered")]
    MaybeDelivered,
}

/// The transport-level cause of a [`SmsError::Transient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransientKind {
    #[error("connection failed")]
    Connect,
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("connection closed before an answer")]
    ConnectionClosed,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("rate limited")]
    RateLimited,
    #[error("provider-side error")]
    ProviderBusy,
    #[error("could not write the message")]
    Io,
}

/// Why a provider refused a message for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermanentReason {
    /// The number cannot receive SMS (bad format, not mobile, unroutable).
    #[error("invalid number")]
    InvalidNumber,
    /// The recipient opted out (replied STOP) or the number is barred.
    #[error("recipient unsubscribed or blocked")]
    Unsubscribed,
    /// Our credentials were refused: an operator problem, not the shopper's.
    #[error("credentials refused")]
    BadCredentials,
    /// Anything else the provider refused; holds only the provider's error
    /// code (digits and letters, at most 8), never its message text.
    #[error("rejected, provider code {0}")]
    Rejected(ProviderCode),
}

/// A provider's error code, reduced to `[A-Za-z0-9_-]` and 8 characters so
/// that nothing the provider echoes back (numbers, text) can reach a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCode(String);

impl ProviderCode {
    pub fn new(raw: &str) -> Self {
        let code: String = raw
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(8)
            .collect();
        if code.is_empty() {
            ProviderCode("unknown".to_owned())
        } else {
            ProviderCode(code)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl SmsError {
    pub(crate) fn transient(kind: TransientKind) -> Self {
        SmsError::Transient {
            kind,
            retry_after: None,
        }
    }

    pub(crate) fn rejected(code: &str) -> Self {
        SmsError::Permanent(PermanentReason::Rejected(ProviderCode::new(code)))
    }

    /// A short, fixed label for the `reason` metric label.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            SmsError::Transient { kind, .. } => match kind {
                TransientKind::Connect | TransientKind::ConnectionClosed => "connect",
                TransientKind::ConnectTimeout => "connect_timeout",
                TransientKind::Status(_) | TransientKind::ProviderBusy => "provider_error",
                TransientKind::RateLimited => "rate_limited",
                TransientKind::Io => "io",
            },
            SmsError::Permanent(reason) => match reason {
                PermanentReason::InvalidNumber => "invalid_number",
                PermanentReason::Unsubscribed => "unsubscribed",
                PermanentReason::BadCredentials => "bad_credentials",
                PermanentReason::Rejected(_) => "rejected",
            },
            SmsError::MaybeDelivered => "unconfirmed",
        }
    }
}

/// The one phone masker (phone/mask.rs), by its name here.
pub use crate::phone::mask::mask as mask_phone;

/// The number in the form most provider APIs want: digits only, no `+`.
pub(crate) fn e164_digits(e164: &str) -> String {
    e164.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::{mask_phone, ProviderCode, SmsMessage};

    #[test]
    fn masks_keep_country_and_last_four() {
        assert_eq!(mask_phone("+919812345678"), "+91******5678");
        assert_eq!(mask_phone("+14155550100"), "+1******0100");
        assert_eq!(mask_phone("+12"), "+***");
    }

    #[test]
    fn message_debug_hides_code_and_body() {
        let msg = SmsMessage {
            to: "+919812345678".into(),
            region: "IN".into(),
            body: "123456 is your code".into(),
            code: "123456".into(),
            lang: "en".into(),
        };
        let shown = format!("{msg:?}");
        assert!(!shown.contains("123456"), "{shown}");
        assert!(shown.contains("+91******5678"), "{shown}");
    }

    #[test]
    fn provider_codes_drop_everything_but_the_code() {
        assert_eq!(ProviderCode::new("21211").as_str(), "21211");
        assert_eq!(ProviderCode::new("bad code!").as_str(), "badcode");
        assert_eq!(ProviderCode::new("123456789012").as_str(), "12345678");
        assert_eq!(ProviderCode::new("").as_str(), "unknown");
    }
}
