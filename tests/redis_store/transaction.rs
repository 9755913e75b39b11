//! Transaction routes on Redis: the held request is read without being
//! taken (`peek_held`, a plain GET) so the code can be checked against it,
//! and only the claim takes it. Two instances share the store: a code
//! texted by one for an order is checked by the other against that order
//! alone, and a swapped-in order is refused there too.

use otpgate::clock::{Clock, SystemClock};
use otpgate::session::CookieSealer;
use otpgate::store::Store;

use crate::redis_or_skip;
use crate::support::{gateway, upstream, Gw, Shop, H1, H2, PHONE};

const MANY: &str = "{ max = 10000, window = \"1h\" }";
const PLACE: &str = "/checkout/place-order";
const FORM: &str = "application/x-www-form-urlencoded";

async fn instance(shop: &Shop, url: &str) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .route_with(
            PLACE,
            "otp",
            "confirm = \"transaction\"\nmethods = [\"POST\"]\namount_field = \"amount\"",
        )
        .set(
            "otp.message",
            "\"{code} is your {brand} code. Pay {amount}.\"",
        )
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
async fn peeking_leaves_the_held_request_and_claiming_takes_it() {
    let redis = redis_or_skip!();
    let s = redis.store().await;
    let now = SystemClock.now_ms();
    let ttl = std::time::Duration::from_secs(60);
    s.hold("t1", b"sealed".to_vec(), ttl, now).await.unwrap();
    for _ in 0..2 {
        let v = s.peek_held("t1", now).await.unwrap();
        assert_eq!(v.as_deref(), Some(&b"sealed"[..]), "a peek takes nothing");
    }
    assert_eq!(
        s.peek_held("t1", now + 60_001).await.unwrap(),
        None,
        "expired"
    );
    assert!(s.claim_held("t1", now).await.unwrap().is_some());
    assert_eq!(s.peek_held("t1", now).await.unwrap(), None, "claimed");
    assert_eq!(s.peek_held("never", now).await.unwrap(), None);
}

#[tokio::test]
async fn a_code_from_one_instance_confirms_only_its_order_on_another() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let a = instance(&shop, &redis.url).await;
    let b = instance(&shop, &redis.url).await;
    // Held and texted on instance a.
    let mut on_a = a.browser(H1);
    let order = b"sku=7&amount=1299.00".to_vec();
    let held = on_a.submit(PLACE, FORM, order.clone()).await;
    assert_eq!(held.status, 303, "{held:?}");
    on_a.start(PHONE, "/").await;
    let code = on_a.code_for(PHONE);
    assert!(a.sms().last().unwrap().1.contains("Pay ₹1,299.00."));
    // Another order held on b, swapped into the browser's pending cookie.
    let mut other = b.browser(H2);
    other
        .submit(PLACE, FORM, b"sku=7&amount=9999.00".to_vec())
        .await;
    let sealer = CookieSealer::new(&a.gateway().cfg.session);
    let name = sealer.pending_name.clone();
    let open = |c: &str| sealer.open(&name, c).unwrap();
    let theirs = open(&other.cookies[&name]);
    let mine = on_a.cookies[&name].clone();
    let mut parts: Vec<String> = open(&mine).splitn(5, '|').map(str::to_string).collect();
    parts[2] = theirs.split('|').nth(2).unwrap().to_string();
    let mut on_b = b.browser(H2);
    on_b.cookies = on_a.cookies.clone();
    on_b.cookies
        .insert(name.clone(), sealer.seal(&name, &parts.join("|")));
    let r = on_b.enter_code(&code).await;
    assert!(
        !(r.status == 303 && r.location().starts_with("/orders/")),
        "the code confirmed another order: {r:?}"
    );
    assert!(shop.orders().is_empty());
    // Its own order, verified on b: sent once.
    on_b.cookies.insert(name, mine);
    let done = on_b.enter_code(&code).await;
    assert_eq!(
        (done.status, done.location()),
        (303, "/orders/1"),
        "{done:?}"
    );
    assert_eq!(shop.orders().len(), 1);
    assert_eq!(shop.orders()[0].body, order);
}
