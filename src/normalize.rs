//! Request-path normalization: the one view of a path that both the routing
//! decision and the upstream see, so they can never disagree (the root cause
//! of most auth-proxy bypasses: Authelia CVE-2021-32637, oauth2-proxy
//! GHSA-7rh7, Caddy CVE-2026-27587).
//!
//! RFC 3986 §6.2.2: percent-encodings of unreserved characters are decoded,
//! other encodings are upper-cased, dot segments are removed (§5.2.4).
//! Beyond the RFC, and refused with 400 rather than guessed at: encoded `/`
//! and `\` (servers disagree on them), `%00`, a raw `\`, malformed
//! encodings, and `..` above the root. Repeated slashes are merged and
//! `;params` are ignored for matching (Tomcat's `..;/` trick).

use std::fmt;

/// A path that is safe to decide on and to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Forwarded upstream: normalized, letter case and `;params` kept.
    forward: String,
    /// Matched against routes: lower-case, `;params` removed.
    match_key: String,
}

impl NormalizedPath {
    pub fn forward(&self) -> &str {
        &self.forward
    }
    pub fn match_key(&self) -> &str {
        &self.match_key
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must start with /")]
    NotAbsolute,
    #[error("malformed percent-encoding")]
    BadPercent,
    #[error("encoded / or \\ in path")]
    EncodedSeparator,
    #[error("NUL byte in path")]
    Nul,
    #[error("raw \\, control or non-ASCII byte in path")]
    BadByte,
    #[error("`..` climbs above the root")]
    AboveRoot,
    #[error("`;params` on an empty path segment")]
    EmptySegmentParams,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters that may stand unencoded in a path (RFC 3986 pchar + `/`).
fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Step 1: one canonical spelling of every byte.
fn canonical_bytes(path: &str) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex_val),
                bytes.get(i + 2).copied().and_then(hex_val),
            ) else {
                return Err(PathError::BadPercent);
            };
            let v = hi << 4 | lo;
            match v {
                0 => return Err(PathError::Nul),
                b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                v if is_unreserved(v) => out.push(v as char),
                v => {
                    out.push('%');
                    out.push(HEX[(v >> 4) as usize] as char);
                    out.push(HEX[(v & 15) as usize] as char);
                }
            }
            i += 3;
            continue;
        }
        if is_path_char(b) {
            out.push(b as char);
        } else if b == b'\\' || b <= 0x20 || b >= 0x7f {
            return Err(PathError::BadByte);
        } else {
            // `"<>^`{|}` and similar: legal only encoded; encode them.
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        i += 1;
    }
    Ok(out)
}

/// Normalizes the path part of a request target (no query).
pub fn normalize_path(path: &str) -> Result<NormalizedPath, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let canon = canonical_bytes(path)?;
    // Step 2: segments, dot segments resolved on their name without params.
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    for seg in canon.split('/').skip(1) {
        let name = seg.split(';').next().unwrap_or("");
        trailing = false;
        match name {
            // `/;x/checkout`: servers disagree on whether a params-only
            // segment exists at all (Tomcat drops it), so refuse it.
            "" if !seg.is_empty() => return Err(PathError::EmptySegmentParams),
            "" => trailing = true,
            "." => trailing = true,
            ".." => {
                if stack.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                trailing = true;
            }
            _ => stack.push(seg),
        }
    }
    let mut forward = String::with_capacity(canon.len());
    let mut match_key = String::with_capacity(canon.len());
    for seg in &stack {
        forward.push('/');
        forward.push_str(seg);
        match_key.push('/');
        let name = seg.split(';').next().unwrap_or("");
        match_key.extend(name.chars().map(|c| c.to_ascii_lowercase()));
    }
    if trailing || stack.is_empty() {
        forward.push('/');
        match_key.push('/');
    }
    Ok(NormalizedPath { forward, match_key })
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &str) -> String {
        normalize_path(p).unwrap().match_key().to_string()
    }
    fn fwd(p: &str) -> String {
        normalize_path(p).unwrap().forward().to_string()
    }

    #[test]
    fn decodes_unreserved_and_keeps_case_for_forwarding() {
        assert_eq!(key("/%63heckout"), "/checkout");
        assert_eq!(key("/CHECKOUT"), "/checkout");
        assert_eq!(fwd("/CHECKOUT"), "/CHECKOUT");
        assert_eq!(fwd("/a%2db%7e"), "/a-b~");
        assert_eq!(fwd("/a%3fb%20c"), "/a%3Fb%20c");
    }

    #[test]
    fn resolves_dots_slashes_and_params() {
        assert_eq!(key("//checkout"), "/checkout");
        assert_eq!(key("/./checkout"), "/checkout");
        assert_eq!(key("/x/../checkout"), "/checkout");
        assert_eq!(key("/x/%2e%2e/checkout"), "/checkout");
        assert_eq!(key("/x/%2E%2E/checkout"), "/checkout");
        assert_eq!(key("/x/..;/checkout"), "/checkout");
        assert_eq!(key("/checkout;jsessionid=1"), "/checkout");
        assert_eq!(fwd("/checkout;jsessionid=1"), "/checkout;jsessionid=1");
        assert_eq!(key("/checkout/."), "/checkout/");
        assert_eq!(key("/checkout/x/.."), "/checkout/");
        assert_eq!(key("/"), "/");
        assert_eq!(key("/a/.."), "/");
    }

    /// 200,000 random paths built from the tokens bypasses are made of.
    /// Whatever is accepted must be canonical: no dot segments, no empty
    /// segments, no encoded unreserved characters left, and normalizing
    /// the forwarded path again changes nothing (the upstream, decoding
    /// what we forward, sees what we matched).
    #[test]
    fn accepted_paths_are_canonical_and_stable() {
        use rand::{Rng, SeedableRng};
        const TOKENS: &[&str] = &[
            "/", "/", "/", ".", "..", "%2e", "%2E", "%2e%2e", ";", ";x=1", "a", "B", "checkout",
            "%63", "%43", "%2f", "%5c", "%00", "%", "%4", "%zz", "%41", "//", "\\", "%3b", "%3B",
            "%23", "%3f", "%20", "~", "-", "%7e", "%25", "%252e", "+", "@", ":", "%c0%ae", "é",
            "\t",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut accepted = 0;
        for _ in 0..200_000 {
            let mut p = String::from("/");
            for _ in 0..rng.gen_range(0..8) {
                p.push_str(TOKENS[rng.gen_range(0..TOKENS.len())]);
            }
            let Ok(n) = normalize_path(&p) else { continue };
            accepted += 1;
            for v in [n.forward(), n.match_key()] {
                assert!(v.starts_with('/'), "{p:?} -> {v:?}");
                assert!(!v.contains("//"), "{p:?} -> {v:?}");
                for seg in v.split('/').map(|s| s.split(';').next().unwrap()) {
                    assert!(seg != "." && seg != "..", "{p:?} -> {v:?}");
                }
                assert!(
                    !v.contains('\\') && !v.bytes().any(|b| b <= 0x20 || b >= 0x7f),
                    "{p:?} -> {v:?}"
                );
                for (i, _) in v.match_indices('%') {
                    let hex = &v[i + 1..i + 3];
                    let byte =
                        u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{p:?} -> {v:?}"));
                    assert!(
                        !is_unreserved(byte) && byte != b'/' && byte != 0,
                        "{p:?} -> {v:?}"
                    );
                }
            }
            let again = normalize_path(n.forward())
                .unwrap_or_else(|e| panic!("{p:?} -> {:?} -> {e}", n.forward()));
            assert_eq!(again, n, "{p:?}");
            assert_eq!(n.match_key(), n.match_key().to_ascii_lowercase());
        }
        assert!(
            accepted > 20_000,
            "only {accepted} paths were accepted: the corpus tests too little"
        );
    }

    #[test]
    fn refuses_what_cannot_be_normalized_safely() {
        for (p, e) in [
            ("/checkout%2f", PathError::EncodedSeparator),
            ("/%2F%2fx", PathError::EncodedSeparator),
            ("/a%5cb", PathError::EncodedSeparator),
            ("/a\\b", PathError::BadByte),
            ("/a%00", PathError::Nul),
            ("/a%zz", PathError::BadPercent),
            ("/a%4", PathError::BadPercent),
            ("/..", PathError::AboveRoot),
            ("/a/../../b", PathError::AboveRoot),
            ("/%2e%2e/x", PathError::AboveRoot),
            ("checkout", PathError::NotAbsolute),
            ("/a b", PathError::BadByte),
            ("/a\u{e9}", PathError::BadByte),
            ("/;x/checkout", PathError::EmptySegmentParams),
            ("//;x//checkout", PathError::EmptySegmentParams),
            ("/x/..;/;/checkout", PathError::EmptySegmentParams),
        ] {
            assert_eq!(normalize_path(p), Err(e), "{p}");
        }
    }
}
