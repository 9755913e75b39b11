//! Invalid `Host` values are refused before anything reads them (RFC 9110
//! §7.2, RFC 3986 §3.2): a storefront that builds links from `Host` or
//! `X-Forwarded-Host` must never see userinfo, spaces, a bad port, two
//! hosts, or a `Host` that disagrees with HTTP/2's `:authority`.

use crate::support::{status_of, H2Answer};
use crate::{report, shop_and_gateway, verdict, Expect};

#[tokio::test]
async fn invalid_hosts_are_refused_and_never_forwarded() {
    let (shop, gw) = shop_and_gateway(false).await;
    let port = gw.addr.port();
    let two = "127.0.0.1\r\nHost: evil.example".to_string();
    let hosts = [
        "evil@127.0.0.1".to_string(),
        format!("evil@127.0.0.1:{port}"),
        "user:pw@127.0.0.1".to_string(),
        "127.0.0.1:99999".to_string(),
        "127.0.0.1:".to_string(),
        "127.0.0.1:8a".to_string(),
        "127.0.0.1:443:443".to_string(),
        "127.0.0.1 evil.example".to_string(),
        "127.0.0.1/evil".to_string(),
        "127.0.0.1?x".to_string(),
        "127.0.0.1#x".to_string(),
        "evil%2eexample".to_string(),
        "127.0.0.1,evil.example".to_string(),
        "[::1".to_string(),
        "".to_string(),
        two,
    ];
    let mut failures = Vec::new();
    for host in &hosts {
        for target in ["/public", "/.otpgate/login"] {
            let before = shop.count();
            let raw = gw
                .raw_h1(
                    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
            failures.extend(verdict(
                &shop,
                before,
                status_of(&raw),
                Expect::Bad,
                &format!("H1 {target} Host: {host:?}"),
            ));
        }
    }
    // Absolute-form with userinfo, agreeing with an equally bad Host.
    let before = shop.count();
    let raw = gw
        .raw_h1(b"GET http://evil@127.0.0.1/public HTTP/1.1\r\nHost: evil@127.0.0.1\r\nConnection: close\r\n\r\n")
        .await;
    failures.extend(verdict(
        &shop,
        before,
        status_of(&raw),
        Expect::Bad,
        "absolute-form userinfo",
    ));
    // HTTP/2: `Host` must agree with `:authority`, and both be valid.
    for host in [
        "evil.example",
        "evil@127.0.0.1",
        &format!("127.0.0.1:{port}, evil"),
    ] {
        let before = shop.count();
        let status = gw.raw_h2("GET", "/public", &[("host", host)]).await;
        // A refusal is expected here: a stream reset, or a request the h2
        // client will not even send, is one (the verdict checks that
        // nothing reached the shop).
        let status = match status {
            H2Answer::Status(s) => s,
            H2Answer::Reset(_) | H2Answer::Unsendable => 400,
            other => panic!("{host:?} over HTTP/2: {other:?}"),
        };
        failures.extend(verdict(
            &shop,
            before,
            status,
            Expect::Bad,
            &format!("H2 host: {host}"),
        ));
    }
    // HTTP/2 `:authority` itself with userinfo or a bad port.
    for authority in [
        format!("evil@127.0.0.1:{port}"),
        "127.0.0.1:99999".to_string(),
    ] {
        let before = shop.count();
        let status = h2_with_authority(&gw, &authority).await;
        failures.extend(verdict(
            &shop,
            before,
            status,
            Expect::Bad,
            &format!("H2 :authority {authority}"),
        ));
    }
    // The valid spellings still pass.
    let before = shop.count();
    let raw = gw
        .raw_h1(
            format!("GET /public HTTP/1.1\r\nHost: LOCALHOST:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
    failures.extend(verdict(
        &shop,
        before,
        status_of(&raw),
        Expect::Pass("/public"),
        "valid host",
    ));
    let before = shop.count();
    let agreeing = format!("127.0.0.1:{port}");
    let status = gw
        .raw_h2("GET", "/public", &[("host", &agreeing)])
        .await
        .status();
    failures.extend(verdict(
        &shop,
        before,
        status,
        Expect::Pass("/public"),
        "H2 agreeing host",
    ));
    report(failures, hosts.len() * 2 + 8);
}

/// `GET /public` over HTTP/2 with this exact `:authority`; a reset stream
/// counts as 400.
async fn h2_with_authority(gw: &crate::support::Gw, authority: &str) -> u16 {
    let uri: http::Uri = format!("https://{authority}/public").parse().unwrap();
    let tls = gw.tls_stream(&[b"h2"]).await;
    let (mut client, conn) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(uri).body(()).unwrap();
    let Ok((resp, _)) = client.send_request(req, true) else {
        return 400;
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), resp).await {
        Ok(Ok(r)) => r.status().as_u16(),
        _ => 400,
    }
}
