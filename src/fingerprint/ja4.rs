//! JA4, the TLS client fingerprint of FoxIO's public specification
//! (github.com/FoxIO-LLC/ja4, technical_details/JA4.md; JA4 itself is
//! BSD-3-Clause): `t13d1516h2_8daaf6152771_e5627efa2ab1`.
//!
//! - `ja4_a`: protocol (`t`: TLS over TCP), version (highest of
//!   `supported_versions`, else the hello's own), `d`/`i` for SNI present
//!   or not, cipher and extension counts (two digits, at most 99), first
//!   and last character of the first ALPN value;
//! - `ja4_b`: SHA-256 of the ciphers, sorted, as comma-separated 4-digit
//!   hex, first 12 hex digits;
//! - `ja4_c`: the same over the sorted extensions without SNI and ALPN,
//!   then `_` and the signature algorithms in their original order.
//!
//! GREASE (RFC 8701) is left out everywhere (clienthello.rs). Sorting makes
//! the fingerprint immune to extension-order randomization (Chrome 110+).

use std::fmt;

use sha2::{Digest, Sha256};

use super::clienthello::{ClientHello, EXT_ALPN, EXT_SERVER_NAME};

/// Always 36 ASCII bytes (10 + `_` + 12 + `_` + 12), so it is kept inline:
/// per-connection facts stay `Copy`, and no request allocates for it.
pub const LEN: usize = 36;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ja4([u8; LEN]);

impl Ja4 {
    /// The fingerprint of the first ClientHello in `flight` (raw TLS
    /// records), or `None` when there is no well-formed one.
    pub fn from_flight(flight: &[u8]) -> Option<Ja4> {
        ClientHello::from_flight(flight).map(|h| Ja4::of(&h))
    }

    pub fn of(hello: &ClientHello) -> Ja4 {
        let mut out = [b'_'; LEN];
        out[0] = b't';
        out[1..3].copy_from_slice(&version(hello));
        out[3] = if hello.extensions.contains(&EXT_SERVER_NAME) {
            b'd'
        } else {
            b'i'
        };
        out[4..6].copy_from_slice(&count(hello.ciphers.len()));
        out[6..8].copy_from_slice(&count(hello.extensions.len()));
        out[8..10].copy_from_slice(&alpn(hello.first_alpn.as_deref()));

        let mut ciphers = hello.ciphers.clone();
        ciphers.sort_unstable();
        out[11..23].copy_from_slice(&hash12_lists(&ciphers, &[]));

        let mut extensions: Vec<u16> = hello
            .extensions
            .iter()
            .copied()
            .filter(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN)
            .collect();
        extensions.sort_unstable();
        out[24..36].copy_from_slice(&hash12_lists(&extensions, &hello.signature_algorithms));
        Ja4(out)
    }

    /// A JA4 as written (the audit trail's `ja4`, for `audit-replay`):
    /// 36 bytes of lowercase letters, digits and `_`, else `None`.
    pub fn parse(s: &str) -> Option<Ja4> {
        let b: [u8; LEN] = s.as_bytes().try_into().ok()?;
        b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
            .then_some(Ja4(b))
    }

    pub fn as_str(&self) -> &str {
        // Built from ASCII digits, letters and `_` only.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for Ja4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ja4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ja4({})", self.as_str())
    }
}

fn version(hello: &ClientHello) -> [u8; 2] {
    let v = hello
        .supported_versions
        .iter()
        .copied()
        .max()
        .unwrap_or(hello.legacy_version);
    *match v {
        0x0304 => b"13",
        0x0303 => b"12",
        0x0302 => b"11",
        0x0301 => b"10",
        0x0300 => b"s3",
        0x0002 => b"s2",
        0xfeff => b"d1",
        0xfefd => b"d2",
        0xfefc => b"d3",
        _ => b"00",
    }
}

fn count(n: usize) -> [u8; 2] {
    let n = n.min(99) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

/// First and last character of the first ALPN value; when either is not
/// ASCII alphanumeric, the first and last hex digit of the value instead;
/// `00` without one.
fn alpn(first: Option<&[u8]>) -> [u8; 2] {
    let Some((&a, rest)) = first.and_then(|v| v.split_first()) else {
        return *b"00";
    };
    let z = rest.last().copied().unwrap_or(a);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [a, z];
    }
    let digit = |n: u8| b"0123456789abcdef"[usize::from(n & 0xf)];
    [digit(a >> 4), digit(z)]
}

/// The first 12 lowercase hex digits of SHA-256 over `list` as 4-digit
/// hex joined by `,`, then (if any) `_` and `tail` the same way; twelve
/// zeros when `list` is empty (the spec's "no values" marker).
fn hash12_lists(list: &[u16], tail: &[u16]) -> [u8; 12] {
    if list.is_empty() {
        return [b'0'; 12];
    }
    let mut h = Sha256::new();
    write_list(&mut h, list);
    if !tail.is_empty() {
        h.update(b"_");
        write_list(&mut h, tail);
    }
    hash12(h)
}

fn write_list(h: &mut Sha256, list: &[u16]) {
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        let mut hex = [0u8; 4];
        let _ = hex::encode_to_slice(v.to_be_bytes(), &mut hex);
        h.update(hex);
    }
}

/// The first 12 lowercase hex digits of a finished SHA-256.
pub(super) fn hash12(h: Sha256) -> [u8; 12] {
    let digest = h.finalize();
    let mut out = [0u8; 12];
    let _ = hex::encode_to_slice(&digest[..6], &mut out);
    out
}

#[cfg(test)]
#[path = "ja4_tests.rs"]
mod tests;
