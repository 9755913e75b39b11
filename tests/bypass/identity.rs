//! Identity headers are otpgate's to set: a client's `X-Otpgate-*`, in any
//! spelling, never reaches the storefront (oauth2-proxy CVE-2025-64484).

use crate::forward_auth::session_cookie;
use crate::shop_and_gateway;
use crate::support::{status_of, H2Answer, Shop, PHONE};

const FAKE: &str = "+919999999999";

/// Spellings a client may try; CGI-style servers map `_` and `-` alike.
const SPOOFS: &[(&str, &str)] = &[
    ("X-Otpgate-Phone", FAKE),
    ("x_otpgate_phone", FAKE),
    ("X-OTPGATE-PHONE", FAKE),
    ("X_Otpgate-Phone", FAKE),
    ("x-otpgate_phone", FAKE),
    ("X-Otpgate-Verified-At", "4102444800"),
    ("X_OTPGATE_VERIFIED_AT", "4102444800"),
    ("X-Otpgate-Anything", "1"),
    ("X_Forwarded_For", "6.6.6.6"),
    ("X_Forwarded_Host", "evil.example"),
    ("X_Real_IP", "6.6.6.6"),
    ("Forwarded", "for=6.6.6.6;host=evil.example"),
];

/// What reached the shop carries no client identity, and exactly the
/// identity otpgate set (`phone`, or none).
fn assert_clean(shop: &Shop, phone: Option<&str>, what: &str) {
    let seen = shop.last();
    for (k, _) in &seen.headers {
        let folded = k.to_ascii_lowercase().replace('_', "-");
        let ours =
            phone.is_some() && (folded == "x-otpgate-phone" || folded == "x-otpgate-verified-at");
        assert!(
            !folded.starts_with("x-otpgate-") || ours,
            "{what}: {k} reached the shop: {seen:?}"
        );
        assert!(!k.contains('_'), "{what}: {k} reached the shop: {seen:?}");
    }
    // `Forwarded` is otpgate's own (RFC 7239), never the client's.
    assert!(
        seen.all("forwarded")
            .iter()
            .all(|v| !v.contains("6.6.6.6") && !v.contains("evil")),
        "{what}: {seen:?}"
    );
    assert_eq!(
        seen.all("x-otpgate-phone"),
        phone.into_iter().collect::<Vec<_>>(),
        "{what}"
    );
    assert!(
        !seen
            .all("x-forwarded-for")
            .iter()
            .any(|v| v.contains("6.6.6.6")),
        "{what}: {seen:?}"
    );
    assert!(
        !seen
            .all("x-forwarded-host")
            .iter()
            .any(|v| v.contains("evil")),
        "{what}: {seen:?}"
    );
}

fn h1_with(target: &str, headers: &[(&str, &str)], cookie: Option<&str>) -> Vec<u8> {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: a=1; __Host-otpgate={c}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    req.into_bytes()
}

#[tokio::test]
async fn spoofed_identity_never_reaches_the_shop() {
    let (shop, gw) = shop_and_gateway(false).await;
    // One spelling at a time, then all at once, over both protocols.
    let mut sets: Vec<Vec<(&str, &str)>> = SPOOFS.iter().map(|h| vec![*h]).collect();
    sets.push(SPOOFS.to_vec());
    sets.push(vec![
        ("X-Otpgate-Phone", FAKE),
        ("X-Otpgate-Phone", "+441234567890"),
    ]);
    for set in &sets {
        let raw = gw.raw_h1(&h1_with("/public", set, None)).await;
        assert_eq!(status_of(&raw), 200, "{set:?}: {raw}");
        assert_clean(&shop, None, &format!("H1 {set:?}"));
        assert_eq!(
            gw.raw_h2("GET", "/checkout/assets/app.css", set).await,
            H2Answer::Status(200),
            "{set:?}"
        );
        assert_clean(&shop, None, &format!("H2 {set:?}"));
    }
    // A spoofed phone does not open a protected route either.
    let before = shop.count();
    let raw = gw.raw_h1(&h1_with("/checkout", SPOOFS, None)).await;
    assert_eq!(status_of(&raw), 401);
    assert_eq!(
        gw.raw_h2("POST", "/admin", SPOOFS).await,
        H2Answer::Status(401)
    );
    assert_eq!(shop.count(), before);
}

#[tokio::test]
async fn with_a_session_the_shop_sees_only_the_verified_phone() {
    let (shop, gw) = shop_and_gateway(false).await;
    let cookie = session_cookie(&gw).await;
    for target in ["/checkout", "/public", "/ADMIN"] {
        let raw = gw.raw_h1(&h1_with(target, SPOOFS, Some(&cookie))).await;
        assert_eq!(status_of(&raw), 200, "{target}: {raw}");
        assert_clean(&shop, Some(PHONE), &format!("H1 {target}"));
        assert_eq!(
            shop.last().header("cookie"),
            Some("a=1"),
            "otpgate's cookie is not forwarded"
        );
        let mut h: Vec<(&str, &str)> = SPOOFS.to_vec();
        let c = format!("__Host-otpgate={cookie}");
        h.push(("cookie", &c));
        assert_eq!(
            gw.raw_h2("POST", target, &h).await,
            H2Answer::Status(200),
            "{target}"
        );
        assert_clean(&shop, Some(PHONE), &format!("H2 {target}"));
    }
}
