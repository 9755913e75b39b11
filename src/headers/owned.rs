//! The one list of header names otpgate strips or owns, compared in one
//! canonical form: ASCII case folded and `_` read as `-`. CGI-style servers
//! (PHP, Rack, WSGI) map both `X-Original-URL` and `X_Original_URL` to
//! `HTTP_X_ORIGINAL_URL`, so a spelling check that misses `_` lets the
//! client set a header the storefront trusts (oauth2-proxy CVE-2025-64484).

use std::borrow::Cow;

/// What otpgate does with a field a client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// RFC 9110 §7.6.1: for one connection only; never forwarded.
    HopByHop,
    /// otpgate's identity (`X-Otpgate-*`) and fields that make frameworks
    /// route or run a different request than the one decided on: removed
    /// from every peer, trusted or not.
    Always,
    /// Client address and forwarding facts: a trusted proxy may set them
    /// (in their canonical spelling); from anyone else they are removed,
    /// and otpgate sets its own truth where it has one.
    Forwarding,
}

/// RFC 9110 §7.6.1, plus the legacy `Keep-Alive`/`Proxy-Connection` and
/// `HTTP2-Settings` (RFC 7540 §3.2.1: only meaningful with an h2c upgrade,
/// which otpgate never forwards).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "http2-settings",
];

/// Some frameworks route on these instead of the request line (IIS and
/// Symfony's `X-Original-URL`/`X-Rewrite-URL`, nginx's `X-Original-URI`) or
/// run another method (Rails, Laravel, Express, Symfony overrides): the
/// decision was made on the request line, so only it may reach the shop.
const REROUTING: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-method",
    "x-original-host",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-http-destinationurl",
];

/// Where frameworks look for the client's address or the public URL.
/// `X-Forwarded-*` (any suffix: `-For`, `-Proto`, `-Host`, `-Prefix`,
/// `-Port`, `-Scheme`, `-Ssl`, `-Server`, `-Uri`, ...) is matched as a
/// prefix below.
const FORWARDING: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "client-ip",
    "x-host",
    "x-url-scheme",
    "front-end-https",
    "x-request-id",
];

/// The canonical form of a field name: lower case, `_` as `-`. Borrows
/// when the name is already canonical (every ordinary request field).
pub fn canonical(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b == b'_' || b.is_ascii_uppercase()) {
        Cow::Owned(
            name.bytes()
                .map(|b| match b {
                    b'_' => '-',
                    b => b.to_ascii_lowercase() as char,
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// How otpgate treats a field by this name, if it owns it.
pub fn classify(name: &str) -> Option<Owned> {
    let c = canonical(name);
    let c = c.as_ref();
    if HOP_BY_HOP.contains(&c) {
        Some(Owned::HopByHop)
    } else if c.starts_with("x-otpgate-") || REROUTING.contains(&c) {
        Some(Owned::Always)
    } else if c.starts_with("x-forwarded-") || FORWARDING.contains(&c) {
        Some(Owned::Forwarding)
    } else {
        None
    }
}

/// Every name above, for tests that try each one in many spellings.
pub fn all_names() -> Vec<&'static str> {
    let forwarded_suffixes = [
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-prefix",
        "x-forwarded-port",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "x-forwarded-server",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-otpgate-phone",
        "x-otpgate-verified-at",
        "x-otpgate-anything",
    ];
    HOP_BY_HOP
        .iter()
        .chain(REROUTING)
        .chain(FORWARDING)
        .chain(forwarded_suffixes.iter())
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_class_for_every_spelling() {
        // The property tests (tests/bypass/header_spellings.rs) try every
        // name from here: an empty or partial list would let them pass
        // while trying nothing.
        let names = all_names();
        for n in HOP_BY_HOP.iter().chain(REROUTING).chain(FORWARDING) {
            assert!(names.contains(n), "{n} missing from all_names");
        }
        for n in [
            "x-original-url",
            "x-http-method-override",
            "x-forwarded-for",
            "x-otpgate-phone",
        ] {
            assert!(names.contains(&n), "{n} missing from all_names");
        }
        for n in names {
            let class = classify(n).expect(n);
            let upper = n.to_ascii_uppercase();
            let under = n.replace('-', "_");
            assert_eq!(classify(&upper), Some(class), "{upper}");
            assert_eq!(classify(&under), Some(class), "{under}");
        }
        assert_eq!(classify("x-other"), None);
        assert_eq!(classify("accept"), None);
        assert!(matches!(canonical("accept"), Cow::Borrowed(_)));
        assert_eq!(canonical("X_Original-URL"), "x-original-url");
    }
}
