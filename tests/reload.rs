//! Hot reload: a new configuration takes effect for new requests (on open
//! keep-alive connections too) and new TLS handshakes, while open
//! connections and requests in flight carry on; an invalid one changes
//! nothing. In-process through `RunningGateway::reload`, and once through
//! the real binary and `kill -HUP`.

mod support;

#[path = "reload/signal.rs"]
mod signal;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use support::{gateway, upstream, Gw};

type Conn = SendRequest<Empty<Bytes>>;

/// One HTTP/1.1 keep-alive connection that trusts only `trust_pem`, and
/// the certificate the server presented.
async fn connect(gw: &Gw, trust_pem: &str) -> std::io::Result<(Conn, CertificateDer<'static>)> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut trust_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(gw.addr).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await?;
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok((send, presented))
}

/// The status of `GET path` on this connection (a script's request, so a
/// challenge is a `401`).
async fn get(conn: &mut Conn, path: &str) -> u16 {
    conn.ready().await.expect("the connection is still open");
    let req = http::Request::get(path)
        .header("host", "127.0.0.1")
        .header("accept", "application/json")
        .body(Empty::new())
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), conn.send_request(req))
        .await
        .expect("an answer within 10 s")
        .expect("the connection is still open");
    resp.status().as_u16()
}

fn der_of(pem: &str) -> CertificateDer<'static> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_new_route_is_enforced_on_open_keep_alive_connections_and_new_ones() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let (mut old, _) = connect(&gw, &gw.cert_pem).await.unwrap();
    assert_eq!(get(&mut old, "/account").await, 200);
    let h2 = gw.client(support::H2);
    assert_eq!(
        h2.get(gw.url("/account")).send().await.unwrap().status(),
        200
    );

    let done = gw.edit().route("/account", "otp").reload_into(&gw).unwrap();
    assert!(done.restart_needed.is_empty(), "{done:?}");

    assert_eq!(
        get(&mut old, "/account").await,
        401,
        "the same keep-alive connection"
    );
    assert_eq!(
        get(&mut old, "/checkout").await,
        401,
        "old rules still there"
    );
    assert_eq!(get(&mut old, "/").await, 200);
    let (mut new, _) = connect(&gw, &gw.cert_pem).await.unwrap();
    assert_eq!(get(&mut new, "/account").await, 401, "a new connection");
    let status = h2
        .get(gw.url("/account"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "the same HTTP/2 connection");
    // And back: an unprotected path again is passed again.
    gw.edit().reload_into(&gw).unwrap();
    assert_eq!(get(&mut old, "/account").await, 200);
}

#[tokio::test]
async fn new_handshakes_get_the_new_certificate_and_open_connections_keep_theirs() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let (mut old, first) = connect(&gw, &gw.cert_pem).await.unwrap();
    assert_eq!(first, der_of(&gw.cert_pem));

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) =
        otpgate::tls::self_signed(&["reloaded.test".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.path().join("new-cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("new-key.pem"), &key).unwrap();
    let quoted = |f: &str| format!("{:?}", dir.path().join(f).display().to_string());
    gw.edit()
        .set("tls.cert", &quoted("new-cert.pem"))
        .set("tls.key", &quoted("new-key.pem"))
        .reload_into(&gw)
        .unwrap();

    let (mut new, presented) = connect(&gw, &cert).await.unwrap();
    assert_eq!(presented, der_of(&cert), "the new certificate");
    assert_ne!(presented, first);
    assert_eq!(get(&mut new, "/").await, 200);
    assert!(
        connect(&gw, &gw.cert_pem).await.is_err(),
        "a client that trusts only the old certificate no longer completes a handshake"
    );
    assert_eq!(
        get(&mut old, "/").await,
        200,
        "the open connection still served"
    );
}

#[tokio::test]
async fn a_configuration_that_cannot_be_built_changes_nothing() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    // A key that is not the certificate's: refused whole, the new route
    // in the same file included.
    let dir = tempfile::tempdir().unwrap();
    let (_, other_key) = otpgate::tls::self_signed(&["127.0.0.1".into()]).unwrap();
    std::fs::write(dir.path().join("other-key.pem"), other_key).unwrap();
    let err = gw
        .edit()
        .route("/account", "otp")
        .set(
            "tls.key",
            &format!(
                "{:?}",
                dir.path().join("other-key.pem").display().to_string()
            ),
        )
        .reload_into(&gw)
        .unwrap_err();
    assert!(err.to_string().contains("tls"), "{err}");
    let (mut conn, presented) = connect(&gw, &gw.cert_pem).await.unwrap();
    assert_eq!(presented, der_of(&gw.cert_pem), "the old certificate stays");
    assert_eq!(get(&mut conn, "/account").await, 200, "the old routes stay");
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_config_reloads_total{result=\"error\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("otpgate_config_reloads_total{result=\"ok\"} 0"),
        "{m}"
    );
}

/// 50 clients × 20 requests, each on its own keep-alive connection, with
/// reloads while they run: every one answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_in_flight_across_reloads_all_succeed() {
    let shop = upstream().await;
    let gw = Arc::new(gateway(&shop).route("/checkout", "otp").run().await);
    let (tx, mut progress) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (gw, tx) = (gw.clone(), tx.clone());
        clients.spawn(async move {
            let (mut conn, _) = connect(&gw, &gw.cert_pem).await.unwrap();
            let mut statuses = Vec::new();
            for _ in 0..20 {
                statuses.push(get(&mut conn, "/slow?ms=2").await);
                let _ = tx.send(());
            }
            statuses
        });
    }
    drop(tx);
    let run = async {
        // After 300 and after 600 answers, with the rest in flight.
        for _ in 0..2 {
            for _ in 0..300 {
                progress.recv().await.expect("clients still running");
            }
            gw.edit()
                .route("/account", "otp")
                .set("brand.name", "\"Reloaded Shop\"")
                .reload_into(&gw)
                .unwrap();
        }
        let mut all = Vec::new();
        while let Some(done) = clients.join_next().await {
            all.extend(done.unwrap());
        }
        all
    };
    let all = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("1,000 requests within 2 minutes");
    assert_eq!(all.len(), 1000);
    assert!(all.iter().all(|s| *s == 200), "{all:?}");
    let m = gw.metrics().await;
    assert!(
        m.contains("otpgate_config_reloads_total{result=\"ok\"} 2"),
        "{m}"
    );
}

/// What is not configuration survives: a code sent before a reload
/// verifies after it (the memory store's contents), and the session it
/// gives still works after another reload (the store epoch).
#[tokio::test]
async fn the_store_and_its_contents_survive_a_reload() {
    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut shopper = gw.browser(support::H1);
    assert_eq!(shopper.start(support::PHONE, "/checkout").await.status, 303);
    let code = shopper.code_for(support::PHONE);
    gw.edit()
        .set("brand.name", "\"Reloaded Shop\"")
        .reload_into(&gw)
        .unwrap();
    let done = shopper.enter_code(&code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(shopper.get("/checkout").await.status, 200);
    gw.edit().reload_into(&gw).unwrap();
    assert_eq!(
        shopper.get("/checkout").await.status,
        200,
        "the session survives"
    );
}
