//! Bodies stream both ways, upgrades tunnel, connections are bounded and
//! shutdown is graceful.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{gateway, upstream, H1, H2};
use tokio::io::AsyncReadExt;

const MB50: u64 = 50 * 1024 * 1024;

/// The gateway must pass the first half of an upload to the shop while the
/// client still holds back the second: if it buffered, this would stall.
async fn upload_streams(h2: bool) {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let progress = shop.upload_progress.clone();
    let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
    let body = futures_util::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        let progress = progress.clone();
        async move {
            if sent >= MB50 {
                return None;
            }
            if sent == MB50 / 2 {
                let start = std::time::Instant::now();
                while *progress.lock().unwrap() == 0 {
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "nothing reached the shop before the body ended"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            Some((Ok::<_, std::io::Error>(chunk), sent + 1024 * 1024))
        }
    });
    let resp = gw
        .client(h2)
        .post(gw.url("/upload"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), MB50.to_string());
}

#[tokio::test]
async fn upload_50mb_streams_http1() {
    upload_streams(H1).await;
}

#[tokio::test]
async fn upload_50mb_streams_http2() {
    upload_streams(H2).await;
}

async fn download(h2: bool) {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let c = gw.client(h2);
    let mut resp = c
        .get(gw.url(&format!("/big?bytes={MB50}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-length"], MB50.to_string().as_str());
    let mut n = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        n += chunk.len() as u64;
    }
    assert_eq!(n, MB50);
    // The first chunk arrives while the shop is still holding the rest.
    let mut resp = c.get(gw.url("/hold")).send().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
        .await
        .expect("first chunk was held back")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first chunk;");
    shop.release();
    let rest = resp.chunk().await.unwrap().unwrap();
    assert_eq!(&rest[..], b"rest");
}

#[tokio::test]
async fn download_50mb_streams_http1() {
    download(H1).await;
}

#[tokio::test]
async fn download_50mb_streams_http2() {
    download(H2).await;
}

#[tokio::test]
async fn websocket_is_tunnelled() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let tls = gw.tls_stream(&[b"http/1.1"]).await;
    let url = format!("wss://127.0.0.1:{}/ws", gw.addr.port());
    let (mut ws, resp) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    assert_eq!(resp.status(), 101);
    for msg in ["hello", "नमस्ते", &"x".repeat(100_000)] {
        ws.send(tokio_tungstenite::tungstenite::Message::text(msg))
            .await
            .unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), msg);
    }
    assert_eq!(shop.last().header("upgrade"), Some("websocket"));
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let shop = upstream().await;
    let mut gw = gateway(&shop).run().await;
    let c = gw.client(H1);
    let url = gw.url("/slow?ms=700");
    let in_flight =
        tokio::spawn(async move { c.get(url).send().await.unwrap().text().await.unwrap() });
    while shop.count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let addr = gw.addr;
    gw.shutdown().await;
    assert_eq!(
        in_flight.await.unwrap(),
        "slow",
        "the in-flight request completed"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn connection_limit_and_handshake_timeout() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("server.max_connections", "2")
        .set("server.handshake_timeout", "\"500ms\"")
        .run()
        .await;
    // Two idle TCP connections hold both slots, then time out their handshake.
    let mut idle1 = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let _idle2 = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("over-limit connection not closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    let n = tokio::time::timeout(Duration::from_secs(5), idle1.read(&mut buf))
        .await
        .expect("silent client not timed out");
    assert!(matches!(n, Ok(0) | Err(_)));
    // The socket is dropped as the handshake's timeout fires, a moment
    // before the failure is counted: wait (bounded) for the count.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let m = loop {
        let m = gw.metrics().await;
        if !m.contains("otpgate_tls_handshake_failures_total 0")
            || tokio::time::Instant::now() > deadline
        {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(m.contains("otpgate_connections_refused_total 1"), "{m}");
    assert!(!m.contains("otpgate_tls_handshake_failures_total 0"), "{m}");
}
