//! Pass-through behaviour: headers at the trust boundary, errors, admin.

mod support;

use support::{gateway, gateway_to, status_of, upstream, H1, H2};

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let raw = gw
        .raw_h1(b"GET /hop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close, X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nX-End: kept\r\n\r\n")
        .await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let seen = shop.last();
    for h in [
        "x-private",
        "keep-alive",
        "proxy-connection",
        "te",
        "proxy-authorization",
    ] {
        assert_eq!(seen.header(h), None, "{h} reached the shop");
    }
    assert_eq!(seen.header("x-end"), Some("kept"));
    let lower = raw.to_ascii_lowercase();
    assert!(!lower.contains("x-hop-secret"), "{raw}");
    assert!(!lower.contains("keep-alive: timeout"), "{raw}");
    assert!(lower.contains("x-end-to-end: kept"));

    let resp = gw.client(H2).get(gw.url("/hop")).send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert!(resp.headers().get("x-hop-secret").is_none());
    assert!(resp.headers().get("connection").is_none());
    assert_eq!(resp.headers()["x-end-to-end"], "kept");
}

#[tokio::test]
async fn forwarded_headers_are_set_and_client_copies_replaced() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    for h2 in [H1, H2] {
        let c = gw.client(h2);
        c.get(gw.url("/p"))
            .header("x-forwarded-for", "6.6.6.6")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "http")
            .header("forwarded", "for=6.6.6.6")
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        let seen = shop.last();
        assert_eq!(
            seen.all("x-forwarded-for"),
            vec!["127.0.0.1"],
            "untrusted client's XFF replaced"
        );
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
        assert_eq!(
            seen.header("x-forwarded-host"),
            Some(format!("127.0.0.1:{}", gw.addr.port()).as_str())
        );
        assert_eq!(
            seen.header("host"),
            Some(format!("127.0.0.1:{}", gw.addr.port()).as_str()),
            "Host preserved"
        );
        assert_eq!(
            seen.all("forwarded"),
            vec![format!(
                "for=127.0.0.1;proto=https;host=\"127.0.0.1:{}\"",
                gw.addr.port()
            )],
            "untrusted client's Forwarded replaced by otpgate's (RFC 7239)"
        );
        assert_eq!(seen.all("x-real-ip"), vec!["127.0.0.1"]);
        assert_eq!(
            seen.header("x-request-id"),
            Some("abc-123"),
            "a sane request id is kept"
        );
        let resp = c
            .get(gw.url("/p"))
            .header("x-request-id", "bad id <script>")
            .send()
            .await
            .unwrap();
        let id = shop.last().header("x-request-id").unwrap().to_string();
        assert_eq!(id.len(), 32, "{id}");
        assert_eq!(
            resp.headers()["x-request-id"],
            id.as_str(),
            "the client sees the id too"
        );
    }
}

#[tokio::test]
async fn trusted_proxies_keep_and_append_the_chain() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("server.trusted_proxies", r#"["127.0.0.0/8"]"#)
        .run()
        .await;
    gw.client(H1)
        .get(gw.url("/p"))
        .header("x-forwarded-for", "6.6.6.6, 10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        shop.last().header("x-forwarded-for"),
        Some("6.6.6.6, 10.0.0.1, 127.0.0.1")
    );
}

#[tokio::test]
async fn preserve_host_false_sends_the_upstream_authority() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("upstream.preserve_host", "false")
        .run()
        .await;
    gw.client(H2).get(gw.url("/p")).send().await.unwrap();
    assert_eq!(
        shop.last().header("host"),
        Some(shop.addr.to_string().as_str())
    );
}

#[tokio::test]
async fn identity_headers_from_clients_never_arrive() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let raw = gw
        .raw_h1(b"GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Otpgate-Phone: +919999999999\r\nx_otpgate_phone: +1\r\nX-OTPGATE-VERIFIED-AT: 1\r\nX_Forwarded_For: 1.1.1.1\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status_of(&raw), 200);
    let seen = shop.last();
    assert!(
        seen.headers
            .iter()
            .all(|(k, _)| !k.replace('_', "-").starts_with("x-otpgate-")),
        "{:?}",
        seen.headers
    );
    assert!(seen.headers.iter().all(|(k, _)| k != "x_forwarded_for"));
}

#[tokio::test]
async fn upstream_statuses_pass_through_untouched() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    for code in [201, 204, 304, 404, 418, 500, 503] {
        let resp = gw
            .client(H1)
            .get(gw.url(&format!("/status?code={code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), code);
    }
}

#[tokio::test]
async fn dead_upstream_is_502_and_slow_upstream_is_504() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = gateway_to(&format!("http://{closed}")).run().await;
    let c = gw.client(H1);
    let page = c
        .get(gw.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 502);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let json = c
        .get(gw.url("/"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 502);
    assert_eq!(
        json.json::<serde_json::Value>().await.unwrap()["error"],
        "bad_gateway"
    );

    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("upstream.response_timeout", "\"300ms\"")
        .run()
        .await;
    let slow = gw
        .client(H2)
        .get(gw.url("/slow?ms=3000"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 504);
    assert_eq!(
        slow.json::<serde_json::Value>().await.unwrap()["error"],
        "gateway_timeout"
    );
}

#[tokio::test]
async fn admin_listener_serves_health_and_metrics() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let c = gw.client(H1);
    c.get(gw.url("/")).send().await.unwrap();
    c.get(gw.url("/checkout")).send().await.unwrap();
    let admin = gw.running.as_ref().unwrap().admin_addr.unwrap();
    assert_eq!(
        reqwest::get(format!("http://{admin}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("http://{admin}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"otpgate_requests_total{kind="pass",class="2xx"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"otpgate_requests_total{kind="challenged",class="4xx"} 1"#),
        "{m}"
    );
    assert!(
        m.contains("otpgate_upstream_duration_seconds_count 1"),
        "{m}"
    );
    assert!(m.contains("otpgate_open_connections"));
    assert!(m.contains("otpgate_tls_handshake_failures_total 0"));
    // The public port forwards /metrics to the shop like any path.
    c.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(shop.last().target, "/metrics");
}

#[tokio::test]
async fn plain_http_listener_redirects_to_https() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("server.redirect_http", "\"127.0.0.1:0\"")
        .run()
        .await;
    let addr = gw.running.as_ref().unwrap().redirect_addr.unwrap();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = c
        .get(format!("http://{addr}/checkout?x=1"))
        .header("host", "shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop.example:{}/checkout?x=1", gw.addr.port()).as_str()
    );
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let big = "a".repeat(100 * 1024);
    let raw = gw
        .raw_h1(
            format!(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
    // RFC 6585 §5: an answer, not a dropped connection.
    assert_eq!(status_of(&raw), 431, "{}", &raw[..raw.len().min(200)]);
    assert_eq!(shop.count(), 0);
}

#[tokio::test]
async fn tls_offers_h2_and_http11_by_alpn() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let s = gw.tls_stream(&[b"h2", b"http/1.1"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let s = gw.tls_stream(&[b"http/1.1"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(matches!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3 | rustls::ProtocolVersion::TLSv1_2)
    ));
}

/// An https upstream with a private CA: a second gateway in front of the
/// first, trusting only the first's self-signed certificate.
#[tokio::test]
async fn https_upstream_with_a_private_ca() {
    let shop = upstream().await;
    let inner = gateway(&shop).run().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &inner.cert_pem).unwrap();
    let outer = gateway_to(&format!("https://127.0.0.1:{}", inner.addr.port()))
        .set("upstream.ca_file", &format!("\"{}\"", ca.path().display()))
        .run()
        .await;
    let resp = outer
        .client(H2)
        .get(outer.url("/through/two"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(shop.last().target, "/through/two");
    // Without the CA the upstream's certificate is not trusted: 502.
    let untrusting = gateway_to(&format!("https://127.0.0.1:{}", inner.addr.port()))
        .run()
        .await;
    assert_eq!(
        untrusting
            .client(H1)
            .get(untrusting.url("/"))
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
}

/// Absolute-form targets (RFC 9112 §3.2.2) only for this site's host.
#[tokio::test]
async fn absolute_form_only_for_the_public_host() {
    let shop = upstream().await;
    let gw = gateway(&shop)
        .set("server.public_host", "\"shop.example:8443\"")
        .run()
        .await;
    let ok = gw.raw_h1(b"GET https://shop.example:8443/p?x=1 HTTP/1.1\r\nHost: shop.example:8443\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    assert_eq!(shop.last().target, "/p?x=1");
    let before = shop.count();
    for req in [
        &b"GET http://evil.example/p HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"[..],
        b"GET https://shop.example:8443/p HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    ] {
        assert_eq!(status_of(&gw.raw_h1(req).await), 400);
    }
    assert_eq!(shop.count(), before);
}
