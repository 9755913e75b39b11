//! JA4H, the HTTP client fingerprint of FoxIO (technical_details/JA4H.md
//! and JA4H.png in github.com/FoxIO-LLC/ja4; FoxIO License 1.1), parts
//! a, b and c: `ge11cr13enus_88d2d584d47f_0f2659b474bf`.
//!
//! - `ja4h_a`: method (first two letters, lower case), HTTP version (`10`,
//!   `11`, `20`, `30`), `c`/`n` for a Cookie, `r`/`n` for a Referer, the
//!   number of header fields without Cookie and Referer (two digits, at
//!   most 99), the first four characters of the primary Accept-Language
//!   without `-` (`0000` without one);
//! - `ja4h_b`: SHA-256 of the header names in the order sent (without
//!   Cookie and Referer), comma-separated, first 12 hex digits;
//! - `ja4h_c`: the same over the cookie names, sorted.
//!
//! Part d (a hash of the cookie *values*) is never computed: it changes
//! with every session, so it fingerprints nothing, and it is derived from
//! otpgate's own secret cookies, which must not reach the storefront in
//! any form.
//!
//! The names come as hyper gives them: lower case, and the values of a
//! repeated field grouped at its first position. HTTP/2 names are lower
//! case on the wire (RFC 9113 §8.2.1), so `ja4h_b` equals the reference's
//! there; for HTTP/1.1 clients that send `User-Agent` it differs from a
//! capture tool's, consistently, which is what a limit key needs.

use std::fmt;

use http::header::{HeaderMap, ACCEPT_LANGUAGE, COOKIE, REFERER};
use http::{Method, Version};
use sha2::{Digest, Sha256};

use super::ja4::hash12;

/// 12 + `_` + 12 + `_` + 12 ASCII bytes.
pub const LEN: usize = 38;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ja4h([u8; LEN]);

impl Ja4h {
    /// The fingerprint of a request as the client sent it: call it before
    /// any header is removed or added.
    pub fn of(method: &Method, version: Version, headers: &HeaderMap) -> Ja4h {
        let fields = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()));
        Ja4h::of_fields(method.as_str(), version, fields)
    }

    /// From header fields in wire order (name as sent, value).
    pub fn of_fields<'a>(
        method: &str,
        version: Version,
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Ja4h {
        let mut out = [b'_'; LEN];
        let m = method.as_bytes();
        for (i, slot) in out[0..2].iter_mut().enumerate() {
            *slot = m.get(i).map_or(b'0', |b| printable(b.to_ascii_lowercase()));
        }
        out[2..4].copy_from_slice(match version {
            Version::HTTP_10 => b"10",
            Version::HTTP_11 => b"11",
            Version::HTTP_2 => b"20",
            Version::HTTP_3 => b"30",
            _ => b"00",
        });
        let mut cookie = false;
        let mut referer = false;
        let mut count = 0usize;
        let mut language: Option<&[u8]> = None;
        let mut names = Sha256::new();
        let mut cookies: Vec<&[u8]> = Vec::new();
        for (name, value) in fields {
            if name.eq_ignore_ascii_case(COOKIE.as_str()) {
                cookie = true;
                cookies.extend(cookie_names(value));
                continue;
            }
            if name.eq_ignore_ascii_case(REFERER.as_str()) {
                referer = true;
                continue;
            }
            // HTTP/2 pseudo-fields are the request line, not headers.
            if name.starts_with(':') {
                continue;
            }
            if count > 0 {
                names.update(b",");
            }
            names.update(name.as_bytes());
            count += 1;
            if language.is_none() && name.eq_ignore_ascii_case(ACCEPT_LANGUAGE.as_str()) {
                language = Some(value);
            }
        }
        out[4] = if cookie { b'c' } else { b'n' };
        out[5] = if referer { b'r' } else { b'n' };
        let n = count.min(99) as u8;
        out[6..8].copy_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
        out[8..12].copy_from_slice(&primary_language(language.unwrap_or_default()));
        out[13..25].copy_from_slice(&if count == 0 {
            [b'0'; 12]
        } else {
            hash12(names)
        });
        out[26..38].copy_from_slice(&sorted_hash12(cookies));
        Ja4h(out)
    }

    pub fn as_str(&self) -> &str {
        // Every byte is printable ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for Ja4h {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ja4h {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ja4h({})", self.as_str())
    }
}

/// Keeps the fingerprint a valid header value whatever the client sent.
fn printable(b: u8) -> u8 {
    if b.is_ascii_graphic() {
        b
    } else {
        b'0'
    }
}

/// `en-US,en;q=0.9` → `enus`: the first language, without `-` and any
/// parameter, lower case, four characters padded with `0`.
fn primary_language(value: &[u8]) -> [u8; 4] {
    let mut out = [b'0'; 4];
    let first = value
        .trim_ascii_start()
        .split(|b| *b == b',' || *b == b';')
        .next()
        .unwrap_or_default();
    let chars = first.iter().filter(|b| **b != b'-');
    for (slot, b) in out.iter_mut().zip(chars) {
        *slot = printable(b.to_ascii_lowercase());
    }
    out
}

/// The cookie names in one `Cookie` field (RFC 6265 §4.2.1; HTTP/2 may
/// split them over several fields, RFC 9113 §8.2.3).
fn cookie_names(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b';')
        .map(|pair| pair.split(|b| *b == b'=').next().unwrap_or_default())
        .map(<[u8]>::trim_ascii)
        .filter(|name| !name.is_empty())
}

/// Sorted, comma-joined, hashed; twelve zeros for none.
fn sorted_hash12(mut names: Vec<&[u8]>) -> [u8; 12] {
    if names.is_empty() {
        return [b'0'; 12];
    }
    names.sort_unstable();
    let mut h = Sha256::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(name);
    }
    hash12(h)
}

#[cfg(test)]
#[path = "ja4h_tests.rs"]
mod tests;
