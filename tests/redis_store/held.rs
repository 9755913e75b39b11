//! Held requests in Redis: only ciphertext is stored, and of any number of
//! claims racing from several instances exactly one gets the request.

use std::time::Duration;

use otpgate::clock::{Clock, SystemClock};
use otpgate::store::Store;

use crate::redis_or_skip;
use crate::support::{gateway, upstream, Gw, Shop, H1, H2, PHONE};

const MANY: &str = "{ max = 10000, window = \"1h\" }";

async fn instance(shop: &Shop, url: &str) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{url}\""))
        .set("limits.send_per_phone", MANY)
        .set("limits.send_per_ip", MANY)
        .set("limits.send_per_prefix", MANY)
        .set("limits.verify_per_ip", MANY)
        .run()
        .await
}

#[tokio::test]
async fn redis_holds_only_ciphertext() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let gw = instance(&shop, &redis.url).await;
    let mut b = gw.browser(H1);
    let body = b"card_note=PLAINTEXT-ORDER-4242&address=12+MG+Road".to_vec();
    let held = b
        .submit(
            "/checkout/place-order?ref=SECRETQUERY",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    assert_eq!(held.status, 303);
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    // A held request is a key of its own (the records of its challenge
    // are fields of the challenge's hash: src/store/redis/keys.rs).
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("otpgate:h:*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let raw: Vec<u8> = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(raw.len() > 40, "something is stored");
    for clear in [
        &b"PLAINTEXT-ORDER-4242"[..],
        b"MG+Road",
        b"SECRETQUERY",
        b"place-order",
        b"x-www-form-urlencoded",
    ] {
        assert!(
            !raw.windows(clear.len()).any(|w| w == clear),
            "{} is readable in Redis",
            String::from_utf8_lossy(clear)
        );
    }
    // And it still goes out, in clear, to the storefront after the code.
    assert_eq!(b.start(PHONE, "/cart").await.status, 303);
    let done = b.enter_code(&b.code_for(PHONE)).await;
    assert_eq!(done.location(), "/orders/1");
    assert!(shop.orders()[0].body.ends_with(b"12+MG+Road"));
}

/// The claim itself, raced from two connections (two instances): 200
/// rounds, each with exactly one winner.
#[tokio::test]
async fn racing_claims_from_two_instances_get_it_once() {
    let redis = redis_or_skip!();
    let (a, b) = (redis.store().await, redis.store().await);
    let now = SystemClock.now_ms();
    let ttl = Duration::from_secs(300);
    for round in 0..200 {
        let key = format!("race-{round}");
        a.hold(&key, vec![round as u8; 64], ttl, now).await.unwrap();
        let (x, y) = tokio::join!(a.claim_held(&key, now), b.claim_held(&key, now));
        let winners = [x.unwrap(), y.unwrap()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(winners[0], vec![round as u8; 64]);
    }
}

/// Two gateways sharing Redis, the same browser's verify arriving at both
/// at once (a double click split by the load balancer): one order.
#[tokio::test]
async fn two_gateways_racing_on_one_held_request_send_it_once() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url).await,
        instance(&shop, &redis.url).await,
    );
    let rounds = 200;
    let race = async {
        for round in 1..=rounds {
            let mut on_a = a.browser(H1);
            let held = on_a
                .submit(
                    "/checkout/place-order",
                    "application/x-www-form-urlencoded",
                    format!("round={round}").into_bytes(),
                )
                .await;
            assert_eq!(held.status, 303);
            assert_eq!(on_a.start(PHONE, "/cart").await.status, 303);
            let code = on_a.code_for(PHONE);
            let csrf = on_a.get("/.otpgate/verify").await.csrf();
            let mut on_b = b.browser(H2);
            on_b.cookies = on_a.cookies.clone();
            let (x, y) = tokio::join!(
                on_a.enter_code_raw(&code, &csrf),
                on_b.enter_code_raw(&code, &csrf)
            );
            let placed = [&x, &y]
                .iter()
                .filter(|r| r.status == 303 && r.location().starts_with("/orders/"))
                .count();
            assert_eq!(placed, 1, "round {round}: {x:?} {y:?}");
            assert_eq!(shop.orders().len(), round, "round {round}");
        }
    };
    tokio::time::timeout(Duration::from_secs(240), race)
        .await
        .expect("200 rounds within 4 minutes");
}
