//! `HEAD` over HTTP/2 ends cleanly for every kind of answer: otpgate's own
//! pages, its errors, and the storefront's. A `HEAD` response carries no
//! body (RFC 9110 §9.3.2); sending DATA for one is a stream error that curl
//! reports as `PROTOCOL_ERROR` (rc 92).

use crate::shop_and_gateway;
use crate::support::Gw;

/// `HEAD path` over HTTP/2 via the h2 crate: the status and whether the
/// stream ended without an error and without body bytes.
async fn head_h2(gw: &Gw, path: &str, headers: &[(&str, &str)]) -> (u16, Result<usize, String>) {
    let tls = gw.tls_stream(&[b"h2"]).await;
    let (mut client, conn) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder().method("HEAD").uri(gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (resp, _) = client.send_request(req.body(()).unwrap(), true).unwrap();
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), resp)
        .await
        .expect("an answer in time")
        .expect("response headers");
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut bytes = 0;
    let ended = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), body.data()).await {
            Err(_) => break Err("body never ended".to_string()),
            Ok(None) => break Ok(bytes),
            Ok(Some(Ok(chunk))) => bytes += chunk.len(),
            Ok(Some(Err(e))) => break Err(e.to_string()),
        }
    };
    (status, ended)
}

#[tokio::test]
async fn head_over_h2_ends_cleanly_for_every_answer() {
    let (_shop, gw) = shop_and_gateway(false).await;
    let html = [("accept", "text/html")];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        ("/.otpgate/login", &html, 200),
        ("/.otpgate/verify", &html, 0),
        ("/.otpgate/nope", &[], 404),
        ("/checkout", &html, 302),
        ("/checkout", &[], 401),
        ("/a/%2e%2e/%2e%2e/x", &[], 400),
        ("/public", &[], 200),
    ];
    let mut failures = Vec::new();
    for (path, headers, want) in cases {
        let (status, ended) = head_h2(&gw, path, headers).await;
        if (*want != 0 && status != *want) || ended != Ok(0) {
            failures.push(format!("HEAD {path}: {status}, body {ended:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
