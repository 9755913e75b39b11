//! Caught once only by a unit test: a cookie sealed under another cookie
//! name. The name is the AES-GCM associated data, so a value sealed for
//! `__Host-otpgate-pending`, `__Host-otpgate-csrf`, or by another otpgate
//! deployment with the same secret but another `session.cookie_name`,
//! does not open as the session cookie (value swapping between cookies).

use otpgate::clock::{Clock, ManualClock};
use otpgate::config::{Secret, SessionConfig};
use otpgate::session::{CookieSealer, Session};

use crate::support::{gateway, upstream, Gw, H1, PHONE, SECRET};

/// A live session for `PHONE`, sealed with the gateway's own secret as the
/// session cookie of a deployment whose `cookie_name` is `name`.
fn sealed_as(name: &str, now: u64, epoch: u64) -> String {
    let sealer = CookieSealer::new(&SessionConfig {
        secrets: vec![Secret::new(SECRET)],
        ttl: std::time::Duration::from_secs(3600),
        cookie_name: name.into(),
    });
    let s = Session {
        id: "forged".into(),
        phone: PHONE.into(),
        verified_at: now,
        expires_at: now + 3600,
        epoch,
    };
    let line = sealer.session_cookie(&s, now);
    let pair = line.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_string()
}

async fn with_session_cookie(gw: &Gw, value: &str, path: &str) -> u16 {
    let mut b = gw.browser(H1);
    b.cookies.insert("__Host-otpgate".into(), value.into());
    b.get(path).await.status
}

#[tokio::test]
async fn a_value_sealed_for_another_cookie_name_is_no_session() {
    let clock = ManualClock::starting_now();
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .clock(clock.clone())
        .run()
        .await;
    let now = clock.now_secs();
    // The store's epoch, as a real session would carry it.
    let store = gw.gateway().store.clone();
    let (epoch, _) = store.epoch().await.unwrap();
    // The construction is right: sealed under the real name, it opens.
    let own = sealed_as("__Host-otpgate", now, epoch);
    assert_eq!(with_session_cookie(&gw, &own, "/checkout").await, 200);
    assert_eq!(shop.last().header("x-otpgate-phone"), Some(PHONE));
    for name in [
        "__Host-otpgate-pending",
        "__Host-otpgate-csrf",
        "__Host-OTPGATE",
        "otpgate",
        "__Host-otpgate ",
    ] {
        let foreign = sealed_as(name, now, epoch);
        let before = shop.count();
        assert_eq!(
            with_session_cookie(&gw, &foreign, "/checkout").await,
            302,
            "sealed for {name:?}"
        );
        assert_eq!(shop.count(), before, "{name:?}");
        assert_eq!(with_session_cookie(&gw, &foreign, "/public").await, 200);
        assert_eq!(
            shop.last().header("x-otpgate-phone"),
            None,
            "sealed for {name:?} identified the shopper"
        );
    }
}

/// The cookies otpgate itself issues under its other names are never a
/// session either: the pending and CSRF cookies of a real flow, swapped in.
#[tokio::test]
async fn otpgates_own_other_cookies_are_no_session() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H1);
    b.start(PHONE, "/checkout").await;
    for name in ["__Host-otpgate-pending", "__Host-otpgate-csrf"] {
        let value = b
            .cookies
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone();
        assert_eq!(
            with_session_cookie(&gw, &value, "/checkout").await,
            302,
            "{name}"
        );
    }
}
