//! The request's host, checked before anything else reads it. The
//! storefront builds absolute URLs (password resets, redirects, canonical
//! links) from `Host` or `X-Forwarded-Host`; a value with userinfo
//! (`evil@shop`), spaces or a bad port confuses those parsers (host header
//! injection). RFC 9110 §7.2: `Host = uri-host [ ":" port ]`, with no
//! userinfo (RFC 3986 §3.2); RFC 9112 §3.2: more than one `Host` is a 400;
//! RFC 9113 §8.3.1: a `Host` that differs from `:authority` is malformed.

use http::header::HOST;
use http::Request;

use crate::errors::GatewayError;

/// Refuses (400) a request whose host fields are invalid or disagree.
pub fn check<B>(req: &Request<B>) -> Result<(), GatewayError> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() || host.is_some_and(|h| !valid(h.as_bytes())) {
        return Err(GatewayError::BadTarget);
    }
    if let Some(authority) = req.uri().authority() {
        // The `http` crate's `Authority` accepts userinfo: check it too.
        if !valid(authority.as_str().as_bytes()) {
            return Err(GatewayError::BadTarget);
        }
        if host.is_some_and(|h| {
            !h.as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
        }) {
            return Err(GatewayError::BadTarget);
        }
    }
    Ok(())
}

/// `host [":" port]` where host is a bracketed IPv6 address or a name of
/// letters, digits, `-`, `.`, `_`, `~` (IPv4 is such a name). Stricter than
/// RFC 3986's reg-name on purpose: no percent-encoding or sub-delims, which
/// no real host name needs and which downstream URL builders misread.
pub fn valid(value: &[u8]) -> bool {
    if value.is_empty() || value.len() > 261 {
        return false;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|b| *b == b']') else {
            return false;
        };
        let literal = std::str::from_utf8(&rest[..end]).unwrap_or("");
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match &rest[end + 1..] {
            [] => (&b"v6"[..], None),
            [b':', port @ ..] => (&b"v6"[..], Some(port)),
            _ => return false,
        }
    } else {
        match value.iter().position(|b| *b == b':') {
            None => (value, None),
            Some(i) => (&value[..i], Some(&value[i + 1..])),
        }
    };
    let name_ok = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b));
    name_ok && port.is_none_or(valid_port)
}

/// 1 to 5 digits, at most 65535 (an empty port is legal but never sent).
fn valid_port(port: &[u8]) -> bool {
    (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(port)
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p <= 65535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "127.0.0.1",
            "127.0.0.1:8443",
            "shop.example",
            "shop.example.",
            "SHOP.example:443",
            "[::1]",
            "[2001:db8::1]:8443",
            "xn--bcher-kva.example",
        ] {
            assert!(valid(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "evil@127.0.0.1",
            "user:pw@shop.example",
            "shop.example:",
            "shop.example:99999",
            "shop.example:80:80",
            "shop.example:8a",
            "shop example",
            "shop.example/x",
            "shop.example?x",
            "shop.example#x",
            "shop%2eexample",
            "[::1",
            "[not-v6]",
            "[::1]x",
            ":443",
            "a\\b",
            "shop.example,evil.example",
        ] {
            assert!(!valid(bad.as_bytes()), "{bad}");
        }
    }
}
