//! Facts about one client connection, and whom otpgate believes about the
//! client's address: the TCP peer, or, only when that peer is one of
//! `server.trusted_proxies`, the address it forwards (RFC 7239 §5.2 and the
//! `X-Forwarded-For` convention; an untrusted peer's header is ignored,
//! or anyone could pick their own rate-limit key).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderMap;
use ipnet::IpNet;

use crate::fingerprint::ja4::Ja4;
use crate::headers::X_FORWARDED_FOR;

/// Facts about one client connection, shared by its requests.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The peer is in `server.trusted_proxies`.
    pub peer_trusted: bool,
    /// The ClientHello's JA4, when it parsed (fingerprint.rs).
    pub ja4: Option<Ja4>,
}

/// `server.trusted_proxies`: the one place that says whom to believe.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(nets: &[IpNet]) -> Self {
        TrustedProxies(nets.into())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The facts of a new connection from `peer`.
    pub fn conn(&self, peer: SocketAddr, ja4: Option<Ja4>) -> ConnInfo {
        ConnInfo {
            peer,
            peer_trusted: self.contains(peer.ip()),
            ja4,
        }
    }

    /// The shopper's address for limits and the audit trail.
    pub fn client_ip(&self, headers: &HeaderMap, conn: ConnInfo) -> IpAddr {
        client_ip(headers, conn.peer.ip(), |ip| self.contains(ip))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
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
}
