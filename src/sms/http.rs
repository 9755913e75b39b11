//! The HTTP plumbing the provider senders share: one client with bounded
//! waits, and one place that turns transport failures into [`SmsError`]s.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{RequestBuilder, StatusCode};

use crate::sms::message::{PermanentReason, SmsError, TransientKind};

/// Provider answers are small JSON documents; anything bigger is not one.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Per-call limits for provider HTTP calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    /// TCP + TLS setup. A failure here means nothing was sent: retryable.
    pub connect: Duration,
    /// The whole call, connect to last body byte.
    pub total: Duration,
}

/// Builds the client every provider sender uses.
///
/// Redirects are not followed: no provider API redirects a send, and
/// following one would re-post credentials to wherever it pointed.
pub fn client(timeouts: CallTimeouts) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("otpgate/", env!("CARGO_PKG_VERSION")))
        .build()
        // Only fails when the TLS backend cannot initialise, i.e. a broken
        // build; there is no configuration that reaches this.
        .expect("the HTTP client for SMS providers must build")
}

/// A provider's answer, read in full (up to [`MAX_RESPONSE_BYTES`]).
#[derive(Debug)]
pub struct ProviderResponse {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl ProviderResponse {
    /// The generic HTTP-level verdict shared by every provider: 429 and 5xx
    /// are transient, 401/403 are refused credentials. `None` means the
    /// status alone does not decide and the body must be read.
    pub fn status_error(&self) -> Option<SmsError> {
        let code = self.status.as_u16();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            Some(SmsError::Transient {
                kind: TransientKind::RateLimited,
                retry_after: self.retry_after,
            })
        } else if self.status.is_server_error() {
            Some(SmsError::Transient {
                kind: TransientKind::Status(code),
                retry_after: self.retry_after,
            })
        } else if code == 401 || code == 403 {
            Some(SmsError::Permanent(PermanentReason::BadCredentials))
        } else if self.status.is_redirection() || self.status.is_informational() {
            Some(SmsError::rejected(&format!("http{code}")))
        } else {
            None
        }
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends one request and reads the answer. Transport failures are
/// classified here so every provider treats them alike:
/// - connection refused/reset or a connect timeout: nothing was sent, retry;
/// - any later timeout: the provider may have the message, `MaybeDelivered`;
/// - a 2xx whose body cannot be read: accepted but unconfirmed, `MaybeDelivered`.
pub async fn execute(request: RequestBuilder) -> Result<ProviderResponse, SmsError> {
    let mut response = request.send().await.map_err(classify_transport)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(err) if status.is_success() => {
                tracing::debug!(error = %redacted(&err), "provider answer cut short");
                return Err(SmsError::MaybeDelivered);
            }
            Err(_) => break,
        }
    }
    Ok(ProviderResponse {
        status,
        retry_after,
        body,
    })
}

fn classify_transport(err: reqwest::Error) -> SmsError {
    tracing::debug!(error = %redacted(&err), "provider call failed");
    if err.is_connect() {
        if err.is_timeout() {
            SmsError::transient(TransientKind::ConnectTimeout)
        } else {
            SmsError::transient(TransientKind::Connect)
        }
    } else if err.is_timeout() {
        SmsError::MaybeDelivered
    } else {
        // The connection closed before any answer (reset, or an idle pooled
        // connection the provider's load balancer had dropped). A provider
        // that had taken the message would have answered, so this is
        // treated as not sent; at worst the shopper gets the same code twice.
        SmsError::transient(TransientKind::ConnectionClosed)
    }
}

/// reqwest errors print the URL, which for some providers holds a key in
/// the query; strip it before the error reaches a log.
fn redacted(err: &reqwest::Error) -> String {
    let mut shown = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut err_text = err.to_string();
    if let Some(url) = err.url() {
        err_text = err_text.replace(url.as_str(), "<provider url>");
    }
    shown.push_str(&err_text);
    source = source.and_then(std::error::Error::source);
    while let Some(cause) = source {
        shown.push_str(": ");
        shown.push_str(&cause.to_string());
        source = cause.source();
    }
    shown
}

/// `Retry-After` as delta-seconds (RFC 9110 §10.2.3). The HTTP-date form is
/// ignored: SMS APIs send seconds, and a date would need a trusted clock.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::parse_retry_after;
    use std::time::Duration;

    #[test]
    fn retry_after_is_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
