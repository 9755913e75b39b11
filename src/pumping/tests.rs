//! The detector against the memory store, with literal times.

use std::net::IpAddr;
use std::time::Duration;

use super::{admit, country_conversion, forget, is_blocked, network_of, verified, Admission};
use crate::config::PumpingConfig;
use crate::metrics::Metrics;
use crate::phone::Phone;
use crate::store::MemoryStore;

fn cfg() -> PumpingConfig {
    PumpingConfig {
        enabled: true,
        window: Duration::from_secs(3600),
        min_sends: 5,
        min_conversion: 0.5,
        min_networks: 3,
        block_for: Duration::from_secs(86_400),
        mode: crate::fraud::Mode::Enforce,
        fingerprints: true,
        fingerprint_min_sends: 5,
        fingerprint_mode: crate::fraud::Mode::Enforce,
    }
}

/// Client `n`, each in its own /24.
fn net(n: u32) -> IpAddr {
    IpAddr::from([198, 51, (n % 256) as u8, 7])
}

fn phone(n: u32) -> Phone {
    Phone::from_e164(&format!("+9198123{n:05}")).unwrap()
}

const T0: u64 = 1_000 * 3_600_000;

#[tokio::test]
async fn blocks_a_prefix_that_sends_without_verifying() {
    let s = MemoryStore::new();
    for n in 0..5 {
        assert!(matches!(
            admit(&*s, &cfg(), &Metrics::new(), &phone(n), net(n), T0)
                .await
                .unwrap(),
            Admission::Allowed(_)
        ));
    }
    assert!(matches!(
        admit(&*s, &cfg(), &Metrics::new(), &phone(5), net(5), T0)
            .await
            .unwrap(),
        Admission::Blocked { newly: true }
    ));
    assert!(matches!(
        admit(&*s, &cfg(), &Metrics::new(), &phone(6), net(6), T0)
            .await
            .unwrap(),
        Admission::Blocked { newly: false }
    ));
    assert!(is_blocked(&*s, &phone(7), T0 + 86_399_000).await.unwrap());
    assert!(
        !is_blocked(&*s, &phone(7), T0 + 86_400_000).await.unwrap(),
        "the block ends"
    );
    let other_prefix = Phone::from_e164("+919876500001").unwrap();
    assert!(!is_blocked(&*s, &other_prefix, T0).await.unwrap());
    assert_eq!(
        country_conversion(&*s, &cfg(), "IN", T0).await.unwrap(),
        Some(0.0)
    );
}

#[tokio::test]
async fn verified_codes_keep_a_busy_prefix_open() {
    let s = MemoryStore::new();
    for n in 0..40 {
        let p = phone(n);
        assert!(
            matches!(
                admit(&*s, &cfg(), &Metrics::new(), &p, net(n), T0)
                    .await
                    .unwrap(),
                Admission::Allowed(_)
            ),
            "send {n}"
        );
        verified(&*s, &cfg(), &p, net(n), T0).await.unwrap();
    }
    assert_eq!(
        country_conversion(&*s, &cfg(), "IN", T0).await.unwrap(),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_window_slides_and_forget_takes_a_send_back() {
    let s = MemoryStore::new();
    for n in 0..5 {
        let Admission::Allowed(t) = admit(&*s, &cfg(), &Metrics::new(), &phone(n), net(n), T0)
            .await
            .unwrap()
        else {
            panic!()
        };
        if n == 4 {
            forget(&*s, &cfg(), t).await;
        }
    }
    // 4 counted; at 3/4 of the next window a quarter of them still count.
    let later = T0 + 3_600_000 + 2_700_000;
    for n in 0..4 {
        assert!(
            matches!(
                admit(&*s, &cfg(), &Metrics::new(), &phone(n), net(n), later)
                    .await
                    .unwrap(),
                Admission::Allowed(_)
            ),
            "send {n}"
        );
    }
    assert!(matches!(
        admit(&*s, &cfg(), &Metrics::new(), &phone(9), net(9), later)
            .await
            .unwrap(),
        Admission::Blocked { newly: true }
    ));
}

#[tokio::test]
async fn one_network_is_throttled_not_the_prefix() {
    let s = MemoryStore::new();
    let attacker = IpAddr::from([203, 0, 113, 9]);
    let neighbour = IpAddr::from([203, 0, 113, 200]);
    for n in 0..5 {
        assert!(matches!(
            admit(&*s, &cfg(), &Metrics::new(), &phone(n), attacker, T0)
                .await
                .unwrap(),
            Admission::Allowed(_)
        ));
    }
    for (n, ip) in [(5, attacker), (6, neighbour)] {
        assert!(
            matches!(
                admit(&*s, &cfg(), &Metrics::new(), &phone(n), ip, T0)
                    .await
                    .unwrap(),
                Admission::Throttled { .. }
            ),
            "the whole /24 is the suspect"
        );
    }
    assert!(!is_blocked(&*s, &phone(7), T0).await.unwrap());
    // Shoppers elsewhere still get codes, and verify.
    for n in 10..13 {
        let Admission::Allowed(_) = admit(&*s, &cfg(), &Metrics::new(), &phone(n), net(n), T0)
            .await
            .unwrap()
        else {
            panic!("shopper {n} refused")
        };
        verified(&*s, &cfg(), &phone(n), net(n), T0).await.unwrap();
    }
    // Verified shoppers' networks do not count as evidence.
    assert!(matches!(
        admit(&*s, &cfg(), &Metrics::new(), &phone(20), net(20), T0)
            .await
            .unwrap(),
        Admission::Allowed(_)
    ));
    assert!(
        matches!(
            admit(&*s, &cfg(), &Metrics::new(), &phone(21), net(21), T0)
                .await
                .unwrap(),
            Admission::Blocked { newly: true }
        ),
        "attacker + two unverified networks: three networks of evidence"
    );
}

#[test]
fn networks_are_slash_24_and_slash_64() {
    assert_eq!(network_of("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
    assert_eq!(
        network_of("::ffff:192.0.2.77".parse().unwrap()),
        "192.0.2.0/24"
    );
    assert_eq!(
        network_of("2001:db8:1:2:aaaa::1".parse().unwrap()),
        network_of("2001:db8:1:2:ffff::9".parse().unwrap())
    );
    assert_ne!(
        network_of("2001:db8:1:2::1".parse().unwrap()),
        network_of("2001:db8:1:3::1".parse().unwrap())
    );
}

#[tokio::test]
async fn a_shadow_detector_counts_what_it_would_block_and_blocks_nothing() {
    let s = MemoryStore::new();
    let shadow = PumpingConfig {
        mode: crate::fraud::Mode::Shadow,
        ..cfg()
    };
    let m = Metrics::new();
    let mut shadowed = 0;
    for n in 0..20 {
        let Admission::Allowed(t) = admit(&*s, &shadow, &m, &phone(n), net(n), T0)
            .await
            .unwrap()
        else {
            panic!("send {n} refused in shadow mode");
        };
        shadowed += usize::from(t.shadowed == Some("pumping"));
    }
    assert_eq!(shadowed, 15, "sends 6 to 20 would have been blocked");
    assert!(!is_blocked(&*s, &phone(0), T0).await.unwrap());
    assert!(m.render().contains(
        "otpgate_fraud_decisions_total{rule=\"pumping\",mode=\"shadow\",decision=\"would_block\"} 15"
    ));
    // The same traffic, enforced, is blocked from the same send on.
    let s = MemoryStore::new();
    for n in 0..5 {
        assert!(matches!(
            admit(&*s, &cfg(), &m, &phone(n), net(n), T0).await.unwrap(),
            Admission::Allowed(_)
        ));
    }
    assert!(matches!(
        admit(&*s, &cfg(), &m, &phone(5), net(5), T0).await.unwrap(),
        Admission::Blocked { newly: true }
    ));
}
