//! Single use across two gateway instances sharing a real `redis-server`:
//! a solution used on one is spent on the other, and of the same solution
//! fired at both at once exactly one send goes out.

use futures_util::future::join_all;

use super::support::redis::redis;
use super::support::{Gw, Shop, H1, PHONE};
use super::{always, api_send, demand, solve};

async fn instance(shop: &Shop, url: &str) -> Gw {
    always(shop)
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("{url:?}"))
        .run()
        .await
}

#[tokio::test]
async fn a_solution_works_once_across_instances() {
    let Some(redis) = redis() else { return };
    let shop = super::support::upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url).await,
        instance(&shop, &redis.url).await,
    );
    let mut on_a = a.browser(H1);
    let (_, c, bits) = demand(&api_send(&mut on_a, PHONE, None).await);
    let nonce = solve(&c, bits);
    // The same browser (its cookies) on the other instance: the challenge
    // A issued is good on B (one key), and spent there.
    let mut on_b = b.browser(H1);
    on_b.cookies = on_a.cookies.clone();
    let r = api_send(&mut on_b, PHONE, Some((&c, &nonce))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api_send(&mut on_a, PHONE, Some((&c, &nonce))).await;
    assert_eq!(demand(&r).0, "pow_used", "spent on B, refused on A");
    assert_eq!(a.sms().len() + b.sms().len(), 1);

    // One solution, eight copies at once, split over both instances.
    let mut fresh = a.browser(H1);
    let other = "+919812340000";
    let (_, c, bits) = demand(&api_send(&mut fresh, other, None).await);
    let nonce = solve(&c, bits);
    let mut copies: Vec<_> = (0..8)
        .map(|i| {
            let mut copy = if i % 2 == 0 {
                a.browser(H1)
            } else {
                b.browser(H1)
            };
            copy.cookies = fresh.cookies.clone();
            copy
        })
        .collect();
    let answers = join_all(
        copies
            .iter_mut()
            .map(|copy| api_send(copy, other, Some((&c, &nonce)))),
    )
    .await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let used = answers
        .iter()
        .filter(|r| r.status == 403 && r.json()["error"] == "pow_used")
        .count();
    assert_eq!((ok, used), (1, 7), "{answers:?}");
    let texts = a.sms().len() + b.sms().len();
    assert_eq!(texts, 2, "one text per solution");
}
