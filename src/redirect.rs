//! Where otpgate sends a browser: the login page, and back to where it was
//! going (`rd`) — which must never leave the site (open redirect, CWE-601).

use crate::normalize::normalize_path;

/// The login page, to come back to `rd` (a local path and query) after.
pub const LOGIN: &str = "/.otpgate/login";

/// `/.otpgate/login?rd=…`, `rd` form-encoded.
pub fn login_url(rd: &str) -> String {
    let enc: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    format!("{LOGIN}?rd={enc}")
}

/// `rd` is only ever a local path: it goes through the same normalization
/// as requests, so `//evil`, `/\evil`, `/%09/evil`, `/%2f%2fevil`, schemes
/// and control characters all become `/` (oauth2-proxy's open-redirect
/// corpus; Vouch, Authelia advisories).
pub fn safe_rd(rd: Option<&str>) -> String {
    let Some(rd) = rd else { return "/".into() };
    if rd.len() > 2048
        || !rd.starts_with('/')
        || rd.starts_with("//")
        || rd.bytes().any(|b| b <= 0x20 || b >= 0x7f || b == b'\\')
    {
        return "/".into();
    }
    let (p, q) = match rd.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rd, None),
    };
    if p.contains('#') || q.is_some_and(|q| q.contains('#')) || has_encoded_control(rd) {
        return "/".into();
    }
    match normalize_path(p) {
        Ok(n) if !crate::policy::is_own(n.match_key()) && !n.forward().starts_with("//") => match q
        {
            Some(q) => format!("{}?{q}", n.forward()),
            None => n.forward().to_string(),
        },
        _ => "/".into(),
    }
}

/// `%09`, `%0a`, `%7f`…: harmless while encoded, but some clients decode
/// a `Location` before use; nothing legitimate needs them in `rd`.
fn has_encoded_control(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && (matches!(w[1], b'0' | b'1') && w[2].is_ascii_hexdigit()
                || w[1] == b'7' && matches!(w[2], b'f' | b'F'))
    })
}

#[cfg(test)]
mod tests {
    use super::safe_rd;

    #[test]
    fn rd_is_always_local() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/%2f%2fevil.example",
            "/%5cevil.example",
            "//%5cevil.example",
            "/\n/evil.example",
            "evil.example",
            "/%0a/evil.example",
            "/.otpgate/logout",
            "/a/../../x",
            " /x",
            "/x#frag",
        ] {
            assert_eq!(safe_rd(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(
            safe_rd(Some("/checkout?step=2&x=%2F")),
            "/checkout?step=2&x=%2F"
        );
        assert_eq!(safe_rd(Some("/a/./b")), "/a/b");
        assert_eq!(safe_rd(None), "/");
    }

    /// The 2,048-byte cap holds exactly, whatever the first byte; a byte
    /// outside printable ASCII (a raw UTF-8 letter, DEL, a C1 control, a
    /// bidi override that makes a `Location` read as another site) never
    /// reaches a `Location`, even where normalization would keep it.
    #[test]
    fn rd_over_the_cap_or_outside_printable_ascii_goes_home() {
        let at_cap = format!("/{}", "a".repeat(2047));
        assert_eq!(
            safe_rd(Some(&at_cap)),
            at_cap,
            "exactly 2,048 bytes is kept"
        );
        for over in [
            format!("/{}", "a".repeat(2048)),
            format!("/{}", "a".repeat(4096)),
        ] {
            assert_eq!(safe_rd(Some(&over)), "/", "{} bytes", over.len());
        }
        for bad in [
            "/caf\u{e9}",
            "/x\u{7f}",
            "/x\u{85}",
            "/\u{202e}lpmaxe.live",
            "/x?q=\u{e9}",
        ] {
            assert_eq!(safe_rd(Some(bad)), "/", "{bad:?}");
        }
    }
}
