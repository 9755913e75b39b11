//! Caught once only by a unit test: `rd` pointing into `/.otpgate/`. After
//! verification the shopper is sent to `rd`; a crafted login link must not
//! bounce a freshly verified shopper into otpgate's own endpoints (log out,
//! start another send, a forward-auth probe), on any path that carries it.

use crate::auth;
use crate::support::{gateway, upstream, H1, PHONE};

const OWN: &[&str] = &[
    "/.otpgate/logout",
    "/.otpgate/api/send",
    "/.OTPGATE/logout",
    "/%2eotpgate/logout",
    "/x/../.otpgate/auth",
    "/.otpgate",
];

#[tokio::test]
async fn the_json_api_never_redirects_into_otpgate() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("limits.send_per_phone", "{ max = 100, window = \"1h\" }")
        .run()
        .await;
    for rd in OWN {
        let mut b = gw.browser(H1);
        let sent = b
            .post_json(
                "/.otpgate/api/send",
                serde_json::json!({"phone": PHONE, "rd": rd}),
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        let code = b.code_for(PHONE);
        let ok = b
            .post_json("/.otpgate/api/verify", serde_json::json!({"code": code}))
            .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["redirect"], "/", "{rd}");
    }
}

/// The login page carries `rd` in its form: an own target is dropped there.
#[tokio::test]
async fn the_login_form_drops_an_rd_into_otpgate() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    for rd in OWN {
        let enc: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        let page = gw
            .browser(H1)
            .get(&format!("/.otpgate/login?rd={enc}"))
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("name=\"rd\" value=\"/\""),
            "{rd}: {}",
            page.body
        );
    }
}

/// Forward auth sends the shopper to the login page with `rd`: an own
/// target becomes `/`.
#[tokio::test]
async fn forward_auth_never_points_rd_into_otpgate() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .route("/checkout", "otp")
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .run()
        .await;
    for rd in OWN {
        let (status, location, _) = auth(&gw, &[("X-Original-URI", rd)], None).await;
        assert_eq!(
            (status, location.as_deref()),
            (401, Some("/.otpgate/login?rd=%2F")),
            "{rd}"
        );
    }
}
