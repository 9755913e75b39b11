//! `server.max_connections_per_ip`: one client may not take every slot of
//! `server.max_connections` (issue 8: five silent sockets locked everyone
//! out). IPv6 is keyed by its /64, which one subscriber is usually given
//! whole (RFC 6177), so rotating through a prefix buys nothing. Peers in
//! `server.trusted_proxies` (load balancers) are not counted.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

pub struct PerIp {
    max: usize,
    /// Open connections per client key. Locked only to count; entries are
    /// removed at zero, so it holds at most `max_connections` keys.
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; uncounted when dropped.
pub struct IpSlot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(PerIp {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, or `None` at the cap.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The address a limit is keyed by: IPv4 as is (also when written as an
/// IPv4-mapped IPv6 address), IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn capped_per_client_and_freed_on_drop() {
        let t = PerIp::new(2);
        let a = t.try_acquire(ip("192.0.2.1")).unwrap();
        let _b = t.try_acquire(ip("192.0.2.1")).unwrap();
        assert!(t.try_acquire(ip("192.0.2.1")).is_none());
        // The same client written as IPv4-mapped IPv6 is the same client.
        assert!(t.try_acquire(ip("::ffff:192.0.2.1")).is_none());
        assert!(t.try_acquire(ip("192.0.2.2")).is_some());
        drop(a);
        assert!(t.try_acquire(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let t = PerIp::new(1);
        let _a = t.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(t
            .try_acquire(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
            .is_none());
        assert!(t.try_acquire(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn empty_entries_are_removed() {
        let t = PerIp::new(1);
        drop(t.try_acquire(ip("192.0.2.1")));
        assert!(t.open.lock().unwrap().is_empty());
    }
}
