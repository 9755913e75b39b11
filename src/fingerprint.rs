//! Client fingerprints only a TLS-terminating gateway has: JA4 from the raw
//! ClientHello (computed once per connection, carried in `ConnInfo`), and
//! JA4H from a request's header layout. Attackers rotate IP addresses
//! cheaply; their client software changes far less often (SMS pumping
//! defences of paid services key on JA4 for that reason, see
//! docs REFERENCES "Fingerprints").
//!
//! They reach the storefront only when `[fingerprint] forward = true`, as
//! `X-Otpgate-Ja4` and `X-Otpgate-Ja4h`; a client's own `X-Otpgate-*`
//! fields are always removed first (headers/owned.rs), so the storefront
//! can trust them.

pub mod clienthello;
mod first_flight;
pub mod ja4;
pub mod ja4h;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

pub use first_flight::FirstFlight;
pub use ja4::Ja4;
pub use ja4h::Ja4h;

pub static X_OTPGATE_JA4: HeaderName = HeaderName::from_static("x-otpgate-ja4");
pub static X_OTPGATE_JA4H: HeaderName = HeaderName::from_static("x-otpgate-ja4h");

/// `[fingerprint]`.
#[derive(Debug, Clone, Default)]
pub struct FingerprintConfig {
    /// Send `X-Otpgate-Ja4`/`X-Otpgate-Ja4h` to the storefront. Off by
    /// default: a fingerprint is a tracking signal the storefront does not
    /// get unless the operator chose to give it.
    pub forward: bool,
}

/// The fingerprints of one request, taken from it as the client sent it.
pub struct Forwarded {
    ja4: Option<Ja4>,
    ja4h: Ja4h,
}

impl Forwarded {
    /// Call before any header is rewritten: JA4H is of the client's layout.
    pub fn of(parts: &Parts, ja4: Option<Ja4>) -> Forwarded {
        Forwarded {
            ja4,
            ja4h: Ja4h::of(&parts.method, parts.version, &parts.headers),
        }
    }

    /// Sets otpgate's fields, after the client's `X-Otpgate-*` were
    /// stripped. A connection without a JA4 (no parsable hello) gets no
    /// `X-Otpgate-Ja4` rather than a made-up one.
    pub fn insert(&self, headers: &mut HeaderMap) {
        match self
            .ja4
            .and_then(|j| HeaderValue::from_str(j.as_str()).ok())
        {
            Some(v) => headers.insert(X_OTPGATE_JA4.clone(), v),
            None => headers.remove(&X_OTPGATE_JA4),
        };
        if let Ok(v) = HeaderValue::from_str(self.ja4h.as_str()) {
            headers.insert(X_OTPGATE_JA4H.clone(), v);
        }
    }
}
