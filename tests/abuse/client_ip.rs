//! The client address that keys limits: the TCP peer, or behind
//! `server.trusted_proxies` the right-most untrusted `X-Forwarded-For` entry.

use futures_util::stream::{self, StreamExt};

use crate::support::{gateway, upstream};
use crate::{assert_limited, h2, ip, lim, phone, send, wide};

#[tokio::test]
async fn two_hundred_forwarded_clients_are_counted_apart() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("limits.send_per_ip", &lim(1, "1h"))
        .set("limits.pumping.enabled", "false")
        .run()
        .await;
    let client = h2(&gw);
    let round = |n: u32| {
        let (client, gw) = (client.clone(), &gw);
        stream::iter(0..200usize)
            .map(move |i| {
                let client = client.clone();
                async move {
                    send(&client, gw, &phone(i as u32, n), Some(&ip(i)))
                        .await
                        .status
                }
            })
            .buffer_unordered(20)
            .collect::<Vec<u16>>()
    };
    let first = round(1).await;
    assert!(
        first.iter().all(|s| *s == 200),
        "each forwarded client has its own count: {first:?}"
    );
    let second = round(2).await;
    assert!(
        second.iter().all(|s| *s == 429),
        "and each used it up: {second:?}"
    );
    assert_eq!(gw.sms().len(), 200);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("server.trusted_proxies", "[]")
        .set("limits.send_per_ip", &lim(2, "1h"))
        .run()
        .await;
    let client = h2(&gw);
    for i in 0..2 {
        assert_eq!(
            send(&client, &gw, &phone(i, 1), Some(&ip(i as usize)))
                .await
                .status,
            200
        );
    }
    assert_limited(&send(&client, &gw, &phone(5, 1), Some(&ip(5))).await);
}

/// Entries left of the right-most untrusted one are the client's to
/// invent; they do not buy a fresh count.
#[tokio::test]
async fn spoofed_entries_before_the_real_client_do_not_count() {
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .set("server.trusted_proxies", "[\"127.0.0.1\", \"10.0.0.0/8\"]")
        .set("limits.send_per_ip", &lim(2, "1h"))
        .run()
        .await;
    let client = h2(&gw);
    for i in 0..2 {
        let xff = format!("{}, 203.0.113.5, 10.1.2.3", ip(i));
        assert_eq!(
            send(&client, &gw, &phone(i as u32, 1), Some(&xff))
                .await
                .status,
            200
        );
    }
    assert_limited(
        &send(
            &client,
            &gw,
            &phone(9, 1),
            Some("1.2.3.4, 203.0.113.5, 10.9.9.9"),
        )
        .await,
    );
    assert_eq!(
        send(&client, &gw, &phone(9, 1), Some("203.0.113.6, 10.1.2.3"))
            .await
            .status,
        200,
        "another client"
    );
}
