//! A send that failed at the provider costs the shopper nothing: the
//! per-phone, per-IP, per-prefix and per-country charges are taken back
//! when no SMS could have gone out (an error answer, 429, a connection
//! closed unanswered or refused), and kept when it may have been delivered
//! (no answer after the request was sent). The whole gateway, over TLS,
//! against a fake Twilio.

use serde_json::json;

use crate::fake::{answer, provider, provider_on, twilio_created, FakeProvider, Reply};
use crate::support::{gateway, upstream, Gw, Shop, H1, PHONE};

/// Every per-key send limit at 3 per hour, one provider call per send.
async fn gateway_to_twilio(shop: &Shop, base: &str) -> Gw {
    let mut b = gateway(shop)
        .route("/checkout", "otp")
        .set("otp.min_send_time", "\"1ms\"")
        .set("sms.provider", "\"twilio\"")
        .set("sms.max_retries", "0")
        .set("sms.timeout", "\"400ms\"")
        .set("sms.connect_timeout", "\"200ms\"")
        .set("sms.budget", "\"2s\"")
        .set("sms.twilio.account_sid", "\"ACtest\"")
        .set("sms.twilio.auth_token", "\"tok-secret\"")
        .set("sms.twilio.from", "\"+15005550006\"")
        .set("sms.twilio.api_base", &format!("\"{base}\""));
    for name in [
        "send_per_phone",
        "send_per_ip",
        "send_per_prefix",
        "send_per_country",
    ] {
        b = b.set(&format!("limits.{name}"), "{ max = 3, window = \"1h\" }");
    }
    b.run().await
}

async fn send(gw: &Gw) -> (u16, Option<String>) {
    let r = gw.browser(H1).start(PHONE, "/checkout").await;
    (r.status, r.header("retry-after").map(str::to_string))
}

/// Three failed sends, then the provider is healthy: the shopper can
/// send three more times (nothing of the failures was kept), then the
/// limit holds.
async fn failures_are_refunded(gw: &Gw, fake: &FakeProvider, fault: &str) {
    for i in 0..3 {
        assert_eq!(
            send(gw).await.0,
            503,
            "{fault}: failure {i} tells the shopper"
        );
    }
    for i in 0..3 {
        let (status, retry) = send(gw).await;
        assert_eq!(
            status, 303,
            "{fault}: send {i} once healthy (Retry-After {retry:?})"
        );
    }
    assert_eq!(send(gw).await.0, 429, "{fault}: the limit still holds");
    assert_eq!(
        fake.requests().len(),
        6,
        "{fault}: every send reached the fake"
    );
}

fn fails_then_healthy(fault: Reply) -> Vec<Reply> {
    vec![fault.clone(), fault.clone(), fault, twilio_created()]
}

#[tokio::test]
async fn server_errors_are_refunded() {
    let shop = upstream().await;
    let fake = provider(fails_then_healthy(answer(500, json!({"code": 20500})))).await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    failures_are_refunded(&gw, &fake, "500").await;
}

#[tokio::test]
async fn provider_rate_limits_are_refunded() {
    let shop = upstream().await;
    let too_many = Reply::Answer(
        429,
        vec![("retry-after", "1".into())],
        json!({"code": 20429, "message": "Too Many Requests"}).to_string(),
    );
    let fake = provider(fails_then_healthy(too_many)).await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    failures_are_refunded(&gw, &fake, "429").await;
}

#[tokio::test]
async fn connections_closed_unanswered_are_refunded() {
    let shop = upstream().await;
    let fake = provider(fails_then_healthy(Reply::Drop)).await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    failures_are_refunded(&gw, &fake, "connection closed").await;
}

#[tokio::test]
async fn refused_connections_are_refunded() {
    let shop = upstream().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let gw = gateway_to_twilio(&shop, &base).await;
    for i in 0..3 {
        assert_eq!(send(&gw).await.0, 503, "refused: failure {i}");
    }
    // The provider comes up on that port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let fake = provider_on(listener, vec![twilio_created()]);
    for i in 0..3 {
        assert_eq!(send(&gw).await.0, 303, "refused: send {i} once healthy");
    }
    assert_eq!(send(&gw).await.0, 429);
    assert_eq!(fake.requests().len(), 3);
}

/// No answer after the request was written: the SMS may be on its way,
/// so the shopper goes on to the code page and the charge stays.
#[tokio::test]
async fn timeouts_after_the_send_keep_the_charge() {
    let shop = upstream().await;
    let fake = provider(vec![Reply::Hang]).await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    for i in 0..3 {
        assert_eq!(send(&gw).await.0, 303, "timeout {i}: maybe delivered");
    }
    let (status, retry) = send(&gw).await;
    assert_eq!(status, 429, "charged three times");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(secs > 0 && secs <= 3600, "{secs}");
    assert_eq!(fake.requests().len(), 3);
}

/// A 4xx about our account (bad credentials) is the provider refusing
/// us, not the shopper: refunded like a 5xx.
#[tokio::test]
async fn provider_refusals_of_our_account_are_refunded() {
    let shop = upstream().await;
    let fake = provider(fails_then_healthy(answer(
        401,
        json!({"code": 20003, "status": 401}),
    )))
    .await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    failures_are_refunded(&gw, &fake, "401").await;
}

/// The provider refused the *number*: the per-phone charges go back, but
/// the address keeps paying for the attempt (probing numbers is not free).
#[tokio::test]
async fn a_refused_number_keeps_the_per_ip_charge() {
    let shop = upstream().await;
    let invalid = answer(
        400,
        json!({"code": 21211, "status": 400, "message": "The 'To' number is not valid"}),
    );
    let fake = provider(vec![invalid]).await;
    let gw = gateway_to_twilio(&shop, &fake.base).await;
    for i in 0..3 {
        assert_eq!(send(&gw).await.0, 422, "invalid number {i}");
    }
    let (status, _) = send(&gw).await;
    assert_eq!(status, 429, "send_per_ip (3) was kept");
    assert_eq!(fake.requests().len(), 3);
}
