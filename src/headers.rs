//! Header rules at the trust boundary between shopper and storefront.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, COOKIE};

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub static X_OTPGATE_PHONE: HeaderName = HeaderName::from_static("x-otpgate-phone");
pub static X_OTPGATE_VERIFIED_AT: HeaderName = HeaderName::from_static("x-otpgate-verified-at");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// RFC 9110 §7.6.1: hop-by-hop fields, plus the legacy `Keep-Alive` and
/// `Proxy-Connection` that some clients still send.
static HOP_BY_HOP: [HeaderName; 7] = [
    HeaderName::from_static("connection"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("te"),
    HeaderName::from_static("transfer-encoding"),
    HeaderName::from_static("upgrade"),
    HeaderName::from_static("proxy-authorization"),
];

/// Removes hop-by-hop fields, including every field named in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed = connection_listed(headers);
    // One pass over the (few) fields present rather than a lookup per
    // name that might be: most requests carry none but `Connection`.
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| HOP_BY_HOP.contains(k) || listed.as_ref().is_some_and(|l| l.contains(k)))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

fn connection_listed(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut out = Vec::new();
    for value in headers.get_all(CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            // The usual tokens name nothing beyond the fixed list: skip
            // them without building a name (this runs for every request).
            let usual = [&b"keep-alive"[..], b"close", b"upgrade"];
            if token.is_empty() || usual.iter().any(|u| token.eq_ignore_ascii_case(u)) {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token) {
                out.push(name);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether the client asked for a protocol upgrade (RFC 9110 §7.8).
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::UPGRADE)
        && headers.get_all(CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
}

/// Identity and forwarding fields are otpgate's to set. Clients may not send
/// them in any spelling: case is already folded by HTTP, and `_` for `-`
/// matters because CGI-style servers map both to `HTTP_X_…` (oauth2-proxy
/// CVE-2025-64484).
pub fn strip_spoofable(headers: &mut HeaderMap, peer_trusted: bool) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            // Some frameworks route on these instead of the request line
            // (IIS, Symfony; method overrides in Rails, Laravel, Express):
            // the decision was made on the request line.
            if REROUTING.contains(name) || (!peer_trusted && **name == FORWARDED) {
                return true;
            }
            let n = name.as_str();
            if !n.contains('_') {
                return n.starts_with("x-otpgate-");
            }
            let n = n.replace('_', "-");
            n.starts_with("x-otpgate-")
                || n.starts_with("x-forwarded-")
                || n == "x-request-id"
                || n == "x-real-ip"
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

static REROUTING: [HeaderName; 7] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-original-method"),
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// Sets `X-Forwarded-*` and `X-Request-Id`. The client's own
/// `X-Forwarded-For` is kept (and appended to) only from a trusted proxy.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_trusted: bool,
    host: Option<HeaderValue>,
    request_id: HeaderValue,
) {
    let peer_text = peer.to_string();
    let xff = if peer_trusted && headers.contains_key(&X_FORWARDED_FOR) {
        let mut joined = String::new();
        for v in headers.get_all(&X_FORWARDED_FOR) {
            if let Ok(s) = v.to_str() {
                joined.push_str(s);
                joined.push_str(", ");
            }
        }
        joined.push_str(&peer_text);
        HeaderValue::from_str(&joined)
            .unwrap_or_else(|_| HeaderValue::from_str(&peer_text).expect("ip"))
    } else {
        HeaderValue::from_str(&peer_text).expect("an IP address is a valid header value")
    };
    headers.insert(X_FORWARDED_FOR.clone(), xff);
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("https"));
    match host {
        Some(h) => headers.insert(X_FORWARDED_HOST.clone(), h),
        None => headers.remove(&X_FORWARDED_HOST),
    };
    headers.insert(X_REQUEST_ID.clone(), request_id);
}

/// The client's address for rate limits: the TCP peer, or, behind trusted
/// proxies, the right-most `X-Forwarded-For` entry that is not one of them.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, is_trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    if !is_trusted(peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for v in headers.get_all(&X_FORWARDED_FOR) {
        let Ok(s) = v.to_str() else { return peer };
        for part in s.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(ip),
                // An unparsable entry ends what we can trust.
                Err(_) => {
                    return chain
                        .last()
                        .copied()
                        .filter(|ip| !is_trusted(*ip))
                        .unwrap_or(peer)
                }
            }
        }
    }
    chain
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

/// A client's `X-Request-Id` is kept when it is a sane token.
pub fn sane_request_id(value: &HeaderValue) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
}

/// Removes the named cookies (otpgate's own) from every `Cookie` field:
/// the storefront never sees them (oauth2-proxy #388).
pub fn strip_cookies(headers: &mut HeaderMap, names: &[&str]) {
    let mentions = headers
        .get_all(COOKIE)
        .iter()
        .any(|v| names.iter().any(|n| memchr_str(v.as_bytes(), n.as_bytes())));
    if !mentions {
        return;
    }
    let mut kept = String::new();
    for v in headers.get_all(COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for pair in s.split(';') {
            let pair = pair.trim();
            let name = pair.split('=').next().unwrap_or("").trim();
            if pair.is_empty() || names.contains(&name) {
                continue;
            }
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    headers.remove(COOKIE);
    if let Ok(v) = HeaderValue::from_str(&kept) {
        if !kept.is_empty() {
            headers.insert(COOKIE, v);
        }
    }
}

fn memchr_str(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The value of cookie `name`, from any `Cookie` field.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(COOKIE).iter().find_map(|v| {
        v.to_str().ok()?.split(';').find_map(|pair| {
            let (n, value) = pair.trim().split_once('=')?;
            (n == name).then_some(value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn removes_hop_by_hop_and_listed() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("accept", "*/*"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn strips_identity_in_every_spelling() {
        let mut h = map(&[
            ("x-otpgate-phone", "+1"),
            ("X_Otpgate_Phone", "+1"),
            ("x_forwarded_for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("x-other", "ok"),
        ]);
        strip_spoofable(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
    }

    #[test]
    fn client_ip_walks_from_the_right() {
        let trusted = |ip: IpAddr| ip.to_string().starts_with("10.");
        let h = map(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        assert_eq!(
            client_ip(&h, "10.0.0.1".parse().unwrap(), trusted).to_string(),
            "1.2.3.4"
        );
        assert_eq!(
            client_ip(&h, "9.9.9.9".parse().unwrap(), trusted).to_string(),
            "9.9.9.9"
        );
    }

    #[test]
    fn strips_own_cookies_only() {
        let mut h = map(&[
            ("cookie", "a=1; __Host-otpgate=xyz"),
            ("cookie", "__Host-otpgate-csrf=q; b=2"),
        ]);
        strip_cookies(&mut h, &["__Host-otpgate", "__Host-otpgate-csrf"]);
        assert_eq!(h.get(COOKIE).unwrap(), "a=1; b=2");
        assert_eq!(cookie(&map(&[("cookie", "a=1; s=2")]), "s"), Some("2"));
    }
}
