//! One shopper's walk through a front proxy running a recipe, and the
//! attacks the issue found in the old README snippet: the query cut at `&`
//! on the way to `rd`, every shopper counted as the proxy's IP, a client's
//! `X-Forwarded-For` taken as its address, forged `X-Otpgate-*` reaching the
//! shop.

use crate::support::{Gw, Shop, PHONE};
use crate::Front;

/// Where the shopper is, and what otpgate must send them to.
const TARGET: &str = "/checkout?a=1&b=2";
const LOGIN: &str = "/.otpgate/login?rd=%2Fcheckout%3Fa%3D1%26b%3D2";
const SHOPPER: &str = "127.0.0.2";
const OTHER_SHOPPER: &str = "127.0.0.3";

/// Identity headers a client forges, in several spellings.
const FORGED: &[(&str, &str)] = &[
    ("X-Otpgate-Phone", "+910000000001"),
    ("x-otpgate-verified-at", "1"),
    ("X_Otpgate_Phone", "+910000000002"),
    ("x-otpgate_verified-at", "2"),
    ("X-Forwarded-For", "198.51.100.7"),
];

pub async fn flow(front: &Front, gw: &Gw, shop: &Shop) {
    let name = front.name;
    let client = front.client(SHOPPER);
    let mut shopper = front.browser(gw, &client);

    // 1. The protected page, query and all: to the login page, `rd` intact.
    let first = shopper.get(TARGET).await;
    assert_eq!(first.status, 302, "{name}: {first:?}");
    assert_eq!(first.location(), LOGIN, "{name}: rd must keep the query");
    assert_eq!(shop.count(), 0, "{name}: nothing reached the shop");
    let page = shopper.get(first.location()).await;
    assert_eq!(page.status, 200, "{name}: login page {}", page.body);
    let rd: String = form_urlencoded::parse(first.location().split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "rd")
        .unwrap()
        .1
        .into_owned();

    // 2. Send, code (from the file provider), verify: back to the page.
    let done = shopper.log_in(PHONE, &rd).await;
    assert_eq!(done.location(), TARGET, "{name}: lands with the query");

    // 3. The page itself, with forged identity headers beside the cookie.
    let mut req = client.get(format!("{}{TARGET}", front.base));
    for (k, v) in FORGED {
        req = req.header(*k, *v);
    }
    let landed = shopper.send(req).await;
    assert_eq!(landed.status, 200, "{name}: {landed:?}");
    let seen = shop.last();
    assert_eq!(seen.target, TARGET, "{name}: the shop got the query");
    assert_eq!(
        seen.all("x-otpgate-phone"),
        [PHONE],
        "{name}: the phone is otpgate's"
    );
    let verified_at: u64 = seen
        .header("x-otpgate-verified-at")
        .unwrap()
        .parse()
        .unwrap();
    assert!(verified_at > 1_000_000_000, "{name}: otpgate's time");
    assert_no_forged(name, &seen);
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some(SHOPPER),
        "{name}: the shop sees the shopper, not the forged address"
    );

    // 4. Without a session, forged identity opens nothing and reaches no one.
    let stranger_client = front.client(SHOPPER);
    let mut stranger = front.browser(gw, &stranger_client);
    let before = shop.count();
    for path in [TARGET, "/checkout"] {
        let mut req = stranger_client.get(format!("{}{path}", front.base));
        for (k, v) in FORGED {
            req = req.header(*k, *v);
        }
        let r = stranger.send(req).await;
        assert_eq!(r.status, 302, "{name}: forged identity on {path}: {r:?}");
    }
    assert_eq!(
        shop.count(),
        before,
        "{name}: forged identity reached the shop"
    );
    let mut req = stranger_client.get(format!("{}/public?x=1", front.base));
    for (k, v) in FORGED {
        req = req.header(*k, *v);
    }
    assert_eq!(stranger.send(req).await.status, 200);
    let public = shop.last();
    assert_eq!(public.target, "/public?x=1");
    assert!(
        public.header("x-otpgate-phone").unwrap_or("").is_empty()
            && public
                .header("x-otpgate-verified-at")
                .unwrap_or("")
                .is_empty(),
        "{name}: forged identity reached the shop on a public page: {public:?}"
    );
    assert_no_forged(name, &public);

    // 5. The client IP otpgate limits by is the shopper's own: a forged
    //    X-Forwarded-For does not buy more sends (3 per IP; one was used),
    //    and another shopper is not counted with this one.
    let mut statuses = Vec::new();
    for (i, xff) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        statuses.push(
            send(
                front,
                gw,
                SHOPPER,
                &format!("+91981234{:04}", 5001 + i),
                xff,
            )
            .await,
        );
    }
    assert_eq!(
        statuses,
        [303, 303, 429],
        "{name}: forged X-Forwarded-For must not reset the per-IP limit"
    );
    assert_eq!(
        send(front, gw, OTHER_SHOPPER, "+919812349999", "198.51.100.1").await,
        303,
        "{name}: another shopper has their own count (not the proxy's IP)"
    );
}

/// No forged value and no `_` spelling of an otpgate header reached the shop.
fn assert_no_forged(name: &str, seen: &crate::support::shop::Seen) {
    for (k, v) in &seen.headers {
        let lower = k.to_ascii_lowercase();
        assert!(
            !(lower.contains("otpgate") && lower.contains('_')),
            "{name}: {k} reached the shop"
        );
        for (_, forged) in FORGED {
            if lower.starts_with("x-otpgate") {
                assert_ne!(v, forged, "{name}: forged {k} reached the shop");
            }
        }
    }
}

/// One send from a fresh browser at `local`, with a forged
/// `X-Forwarded-For`: the status of `POST /.otpgate/send`.
async fn send(front: &Front, gw: &Gw, local: &str, phone: &str, xff: &str) -> u16 {
    let client = front.client(local);
    let mut b = front.browser(gw, &client);
    let page = b.get("/.otpgate/login?rd=%2F").await;
    assert_eq!(page.status, 200, "{}: {}", front.name, page.body);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("phone", phone), ("csrf", &page.csrf()), ("rd", "/")])
        .finish();
    let req = client
        .post(format!("{}/.otpgate/send", front.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", xff)
        .body(body);
    // A refusal is a 303 with a flash (post/redirect/get): its status.
    let r = b.send(req).await;
    gw.outcome(r.status, &r.headers).0
}
