//! SMS trouble seen from the shopper's side: the page answers within the
//! delivery budget, with an honest message, and the gateway keeps serving.

mod support;

use std::time::{Duration, Instant};

use support::{gateway, upstream, H1, PHONE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A provider that accepts connections and then either never answers or
/// always answers `503`.
async fn bad_provider(answer: Option<&'static str>) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = s.write_all(a.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    addr
}

async fn gateway_with_webhook(provider: std::net::SocketAddr) -> support::Gw {
    let shop = upstream().await;
    gateway(&shop)
        .route("/checkout", "otp")
        .set("sms.provider", "\"webhook\"")
        .set("sms.timeout", "\"400ms\"")
        .set("sms.connect_timeout", "\"200ms\"")
        .set("sms.budget", "\"1500ms\"")
        .set("sms.max_retries", "2")
        .set("sms.webhook", &format!("{{ url = \"http://{provider}/send\", body = '{{\"to\":\"{{to}}\",\"text\":\"{{body}}\"}}' }}"))
        .run()
        .await
}

#[tokio::test]
async fn a_failing_provider_gives_an_honest_answer_within_the_budget() {
    let provider = bad_provider(Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ))
    .await;
    let gw = gateway_with_webhook(provider).await;
    let mut b = gw.browser(H1);
    let started = Instant::now();
    let r = b.start(PHONE, "/checkout").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 503);
    assert!(
        r.body.contains("send the text message just now"),
        "{}",
        r.body
    );
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_sms_retried_total{provider=\"webhook\"} 2"),
        "{m}"
    );
}

#[tokio::test]
async fn a_hanging_provider_does_not_stall_the_gateway() {
    let provider = bad_provider(None).await;
    let gw = gateway_with_webhook(provider).await;
    let mut b = gw.browser(H1);
    let started = Instant::now();
    let sending =
        tokio::spawn(async move { (b.start(PHONE, "/checkout").await.status, started.elapsed()) });
    // Meanwhile ordinary traffic flows.
    let c = gw.client(H1);
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(c.get(gw.url("/")).send().await.unwrap().status(), 200);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    let (status, took) = sending.await.unwrap();
    // Sent but unanswered may have been delivered: the shopper gets the
    // code page (and can resend), never an endless wait.
    assert_eq!(status, 303);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
