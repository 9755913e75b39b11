//! Per-IP limits key an IPv6 client by its /64: one subscriber usually
//! holds a whole /64 (RFC 6177), so counting single addresses would give
//! an attacker 2^64 fresh budgets.

use crate::support::{gateway, upstream};
use crate::{assert_limited, h2, lim, phone, send, wide};

#[tokio::test]
async fn addresses_in_one_ipv6_slash_64_share_a_count() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .set("limits.send_per_ip", &lim(2, "1h"))
        .set("limits.pumping.enabled", "false")
        .run()
        .await;
    let client = h2(&gw);
    for (i, addr) in ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"]
        .iter()
        .enumerate()
    {
        let a = send(&client, &gw, &phone(i as u32, 1), Some(addr)).await;
        assert_eq!(a.status, 200, "{addr}");
    }
    assert_limited(&send(&client, &gw, &phone(7, 1), Some("2001:db8:1:2:abcd::9")).await);
    // The next /64 is another subscriber; IPv4-mapped IPv6 is its IPv4.
    let other = send(&client, &gw, &phone(8, 1), Some("2001:db8:1:3::1")).await;
    assert_eq!(other.status, 200);
    let v4 = send(&client, &gw, &phone(9, 1), Some("192.0.2.1")).await;
    assert_eq!(v4.status, 200);
    let v4 = send(&client, &gw, &phone(10, 1), Some("192.0.2.1")).await;
    assert_eq!(v4.status, 200);
    assert_limited(&send(&client, &gw, &phone(11, 1), Some("::ffff:192.0.2.1")).await);
}
