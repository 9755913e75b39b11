//! A code is bound to the one request it was texted for: the keyed hash
//! covers the held request's digest. The browser's held request swapped
//! for another (another body, amount, target, method, type) before the
//! verify: the code does not confirm it, and nothing is sent. The very
//! request the code was sent for still goes, exactly once.

use crate::support::{Browser, Gw, Shop, H1, H2};
use crate::{hold_and_send, pending_of, placed, shop_and_gateway, FORM, JSON, PLACE};

const ORDER: &[u8] = b"sku=7&amount=1299.00";

/// Holds `body` in a fresh browser (no code asked) and returns its hold id.
async fn held_elsewhere(gw: &Gw, method: &str, target: &str, ct: &str, body: &[u8]) -> String {
    let mut x = gw.browser(H1);
    let r = match method {
        "POST" => x.submit(target, ct, body.to_vec()).await,
        m => x.fetch(m, target, ct, body.to_vec()).await,
    };
    assert!(matches!(r.status, 303 | 401), "{method} {target}: {r:?}");
    let (_, _, plain) = pending_of(gw, &x);
    plain.split('|').nth(2).expect("a hold id").to_string()
}

/// Points `b`'s pending cookie at the held request `hold_id`, keeping its
/// challenge: what a swap in the store or a forged cookie would give.
fn swap_in(gw: &Gw, b: &mut Browser, hold_id: &str) -> String {
    let (sealer, name, plain) = pending_of(gw, b);
    let original = b.cookies[&name].clone();
    let mut parts: Vec<&str> = plain.splitn(5, '|').collect();
    assert_eq!(parts[0], "h2", "{plain}");
    parts[2] = hold_id;
    b.cookies
        .insert(name.clone(), sealer.seal(&name, &parts.join("|")));
    original
}

async fn verify_refused(shop: &Shop, b: &mut Browser, code: &str, what: &str, before: usize) {
    let page = b.get("/.otpgate/verify").await;
    let csrf = page.csrf();
    let r = b.enter_code_raw(code, &csrf).await;
    assert!(
        !placed(&r),
        "{what}: the code confirmed another request: {r:?}"
    );
    assert_eq!(shop.orders().len(), before, "{what}: nothing sent");
}

#[tokio::test]
async fn a_code_never_confirms_another_body_target_method_or_type() {
    let (shop, gw) = shop_and_gateway().await;
    let variants: [(&str, &str, &str, &[u8], &str); 5] = [
        (
            "POST",
            PLACE,
            FORM,
            b"sku=7&amount=9999.00",
            "another amount",
        ),
        (
            "POST",
            PLACE,
            FORM,
            b"sku=8&amount=1299.00",
            "another item, same amount",
        ),
        (
            "POST",
            "/checkout/place-order?coupon=X",
            FORM,
            ORDER,
            "another target",
        ),
        ("PUT", PLACE, FORM, ORDER, "another method"),
        (
            "POST",
            PLACE,
            JSON,
            br#"{"sku":7,"amount":"1299.00"}"#,
            "another type",
        ),
    ];
    for (i, (method, target, ct, body, what)) in variants.into_iter().enumerate() {
        let mut b = gw.browser(i % 2 == 1);
        let (code, _) = hold_and_send(&gw, &mut b, FORM, ORDER).await;
        let other = held_elsewhere(&gw, method, target, ct, body).await;
        let original = swap_in(&gw, &mut b, &other);
        verify_refused(&shop, &mut b, &code, what, i).await;
        // The request the code was texted for still goes (the refused try
        // counted as one wrong code, no more).
        let name = pending_of(&gw, &b).1;
        b.cookies.insert(name, original);
        let done = b.enter_code(&code).await;
        assert!(placed(&done), "{what}: {done:?}");
        let orders = shop.orders();
        assert_eq!(orders.len(), i + 1, "{what}");
        let last = &orders[i];
        assert_eq!(
            (last.method.as_str(), last.body.as_slice()),
            ("POST", ORDER)
        );
        assert_eq!(last.target, PLACE, "{what}");
    }
}

/// Without forging anything: the same browser submits a second order, or
/// another protected form, after its code was texted. The code it holds
/// was for the first order and confirms neither.
#[tokio::test]
async fn a_second_submit_is_not_confirmed_by_the_first_code() {
    let (shop, gw) = shop_and_gateway().await;
    for (path, body) in [
        (PLACE, &b"sku=7&amount=9999.00"[..]),
        ("/checkout/address", &b"city=Pune"[..]),
    ] {
        let mut b = gw.browser(H2);
        let (code, _) = hold_and_send(&gw, &mut b, FORM, ORDER).await;
        let again = b.submit(path, FORM, body.to_vec()).await;
        assert_eq!(again.status, 303, "{path}: held: {again:?}");
        let page = b.get("/.otpgate/verify").await;
        let r = if page.status == 200 {
            b.enter_code_raw(&code, &page.csrf()).await
        } else {
            page
        };
        assert!(!placed(&r), "{path}: {r:?}");
        assert!(
            shop.seen()
                .iter()
                .all(|s| !s.target.starts_with("/checkout")),
            "{path}: nothing sent: {:?}",
            shop.seen()
        );
    }
}

/// Double verify, reload and a twin browser racing: the order goes once.
#[tokio::test]
async fn a_confirmed_transaction_is_sent_exactly_once() {
    let (shop, gw) = shop_and_gateway().await;
    for round in 1..=10 {
        let mut b = gw.browser(H1);
        let body = format!("round={round}&amount={round}00");
        let (code, _) = hold_and_send(&gw, &mut b, FORM, body.as_bytes()).await;
        let csrf = b.get("/.otpgate/verify").await.csrf();
        let mut twin = gw.browser(H2);
        twin.cookies = b.cookies.clone();
        let (x, y) = tokio::join!(
            b.enter_code_raw(&code, &csrf),
            twin.enter_code_raw(&code, &csrf)
        );
        assert_eq!(
            [&x, &y].iter().filter(|r| placed(r)).count(),
            1,
            "{x:?} {y:?}"
        );
        let again = b.enter_code_raw(&code, &csrf).await;
        assert!(!placed(&again));
        assert_eq!(shop.orders().len(), round, "round {round}");
        assert_eq!(shop.orders()[round - 1].body, body.as_bytes());
    }
}
