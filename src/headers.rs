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
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

mod owned;
pub use owned::{all_names, canonical, classify, Owned};

/// Removes hop-by-hop fields in any spelling, and every field named in
/// `Connection` (RFC 9110 §7.6.1).
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed = connection_listed(headers);
    // One pass over the (few) fields present rather than a lookup per
    // name that might be: most requests carry none but `Connection`.
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            classify(k.as_str()) == Some(Owned::HopByHop)
                || listed
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|n| *n == canonical(k.as_str())))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// The canonical names listed in `Connection`, beyond the usual tokens.
fn connection_listed(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for value in headers.get_all(CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            // These two name fields the fixed list removes anyway: skip
            // them without building a name (this runs for every request).
            // Not `close`: a `Close` field is still removed (RFC 9110
            // reserves the name `Close` for exactly that reason).
            let usual = [&b"keep-alive"[..], b"upgrade"];
            if token.is_empty() || usual.iter().any(|u| token.eq_ignore_ascii_case(u)) {
                continue;
            }
            if let Ok(name) = std::str::from_utf8(token) {
                out.push(canonical(name).into_owned());
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Removes what a client may not set, by canonical name (owned.rs):
/// otpgate's identity and rerouting fields from everyone; forwarding facts
/// from untrusted peers, and from trusted ones in any spelling but the
/// canonical one (a proxy writes `X-Forwarded-For`; `X_Forwarded_For` is
/// its client's, passed along).
pub fn strip_spoofable(headers: &mut HeaderMap, peer_trusted: bool) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let n = name.as_str();
            match classify(n) {
                None => false,
                Some(Owned::HopByHop | Owned::Always) => true,
                Some(Owned::Forwarding) => !peer_trusted || canonical(n) != n,
            }
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// What otpgate knows about one forwarded request.
pub struct ForwardFacts {
    /// The TCP peer.
    pub peer: IpAddr,
    /// The shopper: the peer, or behind trusted proxies the forwarded client.
    pub client: IpAddr,
    pub peer_trusted: bool,
    /// The validated `Host` (or `:authority`).
    pub host: Option<HeaderValue>,
    pub request_id: HeaderValue,
}

/// Sets otpgate's truth after [`strip_spoofable`]: `X-Forwarded-For` and
/// `Forwarded` (RFC 7239) name the peer, appended to a trusted proxy's
/// chain and replacing anything else; `X-Forwarded-Proto`, `X-Forwarded-Host`,
/// `X-Real-IP` (the shopper) and `X-Request-Id` are always otpgate's.
pub fn set_forwarded(headers: &mut HeaderMap, f: ForwardFacts) {
    let peer_text = f.peer.to_string();
    let xff = chained(headers, &X_FORWARDED_FOR, f.peer_trusted, &peer_text);
    headers.insert(X_FORWARDED_FOR.clone(), xff);
    let element = forwarded_element(f.peer, f.host.as_ref());
    let forwarded = chained(headers, &FORWARDED, f.peer_trusted, &element);
    headers.insert(FORWARDED.clone(), forwarded);
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("https"));
    match f.host {
        Some(h) => headers.insert(X_FORWARDED_HOST.clone(), h),
        None => headers.remove(&X_FORWARDED_HOST),
    };
    headers.insert(
        X_REAL_IP.clone(),
        HeaderValue::from_str(&f.client.to_string()).expect("an IP address is a valid value"),
    );
    headers.insert(X_REQUEST_ID.clone(), f.request_id);
}

/// `ours` appended to a trusted peer's list in `name`, or alone.
fn chained(headers: &HeaderMap, name: &HeaderName, trusted: bool, ours: &str) -> HeaderValue {
    let alone = || HeaderValue::from_str(ours).expect("built from valid parts");
    if !trusted || !headers.contains_key(name) {
        return alone();
    }
    let mut joined = String::new();
    for v in headers.get_all(name) {
        if let Ok(s) = v.to_str() {
            joined.push_str(s);
            joined.push_str(", ");
        }
    }
    joined.push_str(ours);
    HeaderValue::from_str(&joined).unwrap_or_else(|_| alone())
}

/// One RFC 7239 element: `for=` (IPv6 quoted and bracketed, §6),
/// `proto=https`, and `host=` quoted (a port's `:` is not a token char).
fn forwarded_element(peer: IpAddr, host: Option<&HeaderValue>) -> String {
    let mut e = match peer {
        IpAddr::V4(ip) => format!("for={ip};proto=https"),
        IpAddr::V6(ip) => format!("for=\"[{ip}]\";proto=https"),
    };
    // The host was validated (host.rs): no quote or backslash to escape.
    if let Some(h) = host.and_then(|h| h.to_str().ok()) {
        e.push_str(&format!(";host=\"{h}\""));
    }
    e
}

/// The key a per-IP limit counts under: an IPv4 address, or an IPv6 /64
/// (RFC 6177: one subscriber usually gets a /64 or more, so counting single
/// addresses would give each attacker 2^64 budgets). IPv4-mapped IPv6 is
/// read as IPv4.
pub fn ip_limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// The one header recipe for every answer otpgate makes itself (its pages,
/// API, errors, forward-auth verdicts): never cached (a shared cache must
/// not replay one shopper's answer to another, RFC 9111 §5.2.2.5), never
/// framed (clickjacking), never sniffed, and no referrer leaking `rd`.
pub fn own_response(status: http::StatusCode) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        )
        .header("referrer-policy", HeaderValue::from_static("no-referrer"))
        .header(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        )
        .header("x-frame-options", HeaderValue::from_static("DENY"))
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
    // Bytes, not `str`: a shop's cookie may carry obs-text (RFC 9110
    // §5.5), and it reaches the storefront as it came.
    let mut kept: Vec<u8> = Vec::new();
    for v in headers.get_all(COOKIE) {
        for pair in v.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
            if pair.is_empty() || names.iter().any(|n| n.as_bytes() == name.trim_ascii()) {
                continue;
            }
            if !kept.is_empty() {
                kept.extend_from_slice(b"; ");
            }
            kept.extend_from_slice(pair);
        }
    }
    headers.remove(COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_bytes(&kept) {
            headers.insert(COOKIE, v);
        }
    }
}

/// Whether `needle` occurs in `hay` (cookie names in `Cookie` fields).
pub(crate) fn memchr_str(hay: &[u8], needle: &[u8]) -> bool {
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
    fn a_field_named_by_a_usual_connection_option_goes_too() {
        // `Connection: close` names the option `close`; a field of that
        // name is the sender's connection-specific data (RFC 9110 §7.6.1).
        for connection in ["close", "Close", " close , x-a", "keep-alive,CLOSE"] {
            let mut h = map(&[
                ("connection", connection),
                ("close", "1"),
                ("keep-alive", "timeout=5"),
                ("accept", "*/*"),
            ]);
            remove_hop_by_hop(&mut h);
            let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
            assert_eq!(left, ["accept"], "Connection: {connection}");
        }
    }

    #[test]
    fn cookies_without_ours_pass_untouched_and_shop_bytes_survive_ours() {
        let shop = HeaderValue::from_bytes(b"shop=caf\xe9;;b=2").unwrap();
        let mut h = HeaderMap::new();
        h.append(COOKIE, shop.clone());
        h.append(COOKIE, HeaderValue::from_static("c=3"));
        strip_cookies(&mut h, &["__Host-otpgate"]);
        let fields: Vec<&HeaderValue> = h.get_all(COOKIE).iter().collect();
        assert_eq!(fields, [&shop, &HeaderValue::from_static("c=3")]);

        h.append(COOKIE, HeaderValue::from_static("__Host-otpgate=sealed"));
        strip_cookies(&mut h, &["__Host-otpgate"]);
        assert_eq!(h.get(COOKIE).unwrap().as_bytes(), b"shop=caf\xe9; b=2; c=3");
        assert_eq!(h.get_all(COOKIE).iter().count(), 1);
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
    fn a_trusted_proxy_keeps_only_canonical_forwarding_fields() {
        let mut h = map(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x_forwarded_for", "6.6.6.6"),
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-prefix", "/shop"),
            ("x-otpgate-phone", "+1"),
            ("x_original_url", "/checkout"),
            ("x-original-url", "/checkout"),
        ]);
        strip_spoofable(&mut h, true);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            ["forwarded", "x-forwarded-for", "x-forwarded-prefix"],
            "{h:?}"
        );
    }

    #[test]
    fn forwarded_names_the_peer_and_chains_only_for_trusted() {
        let facts = |trusted| ForwardFacts {
            peer: "2001:db8::1".parse().unwrap(),
            client: "192.0.2.7".parse().unwrap(),
            peer_trusted: trusted,
            host: Some(HeaderValue::from_static("shop.example:8443")),
            request_id: HeaderValue::from_static("r1"),
        };
        let ours = "for=\"[2001:db8::1]\";proto=https;host=\"shop.example:8443\"";
        for trusted in [false, true] {
            let mut h = map(&[("forwarded", "for=192.0.2.7")]);
            set_forwarded(&mut h, facts(trusted));
            let want = if trusted {
                format!("for=192.0.2.7, {ours}")
            } else {
                ours.to_string()
            };
            assert_eq!(h["forwarded"], want.as_str());
            assert_eq!(h["x-real-ip"], "192.0.2.7");
        }
    }

    #[test]
    fn ipv6_limits_key_the_slash_64() {
        let key = |s: &str| ip_limit_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.1"), "192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
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
