//! `server.shutdown_grace` is kept (issue 17, item 7: exit at 3.1 s with a
//! 2 s grace): the real binary, SIGTERM, and every kind of connection still
//! open — a request the storefront never answers, an idle HTTP/2
//! connection, a silent TLS connection, a body still trickling in.

#[allow(unused_imports)] // the storefront here never answers
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::gateway_to;
use tokio::io::AsyncWriteExt;

struct Target {
    addr: SocketAddr,
    cert: String,
}

impl Target {
    async fn tls(&self, alpn: &[u8]) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.cert.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_process_exits_within_the_grace_period() {
    // A storefront that accepts and never answers.
    let shop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_url = format!("http://{}", shop.local_addr().unwrap());
    let (reached, mut reached_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = shop.accept().await {
            held.push(tcp);
            let _ = reached.send(());
        }
    });
    let builder = gateway_to(&shop_url)
        .set("server.shutdown_grace", "\"2s\"")
        .set("upstream.response_timeout", "\"60s\"")
        .set("log.format", "\"json\"");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("otpgate.toml");
    std::fs::write(&cfg, builder.config_text()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .arg("run")
        .arg("-c")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = lines
            .next()
            .expect("otpgate exited before listening")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["fields"]["message"] == "otpgate listening" {
            break v["fields"]["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let table: toml::Table = builder.config_text().parse().unwrap();
    let cert = std::fs::read_to_string(table["tls"]["cert"].as_str().unwrap()).unwrap();
    let gw = Target { addr, cert };

    // A request in flight: the storefront holds it.
    let mut slow = gw.tls(b"http/1.1").await;
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), reached_rx.recv())
        .await
        .expect("the request reached the storefront");
    // An idle HTTP/2 connection, a silent one, and a body trickling in.
    let (_h2, h2_conn) = h2::client::handshake(gw.tls(b"h2").await).await.unwrap();
    tokio::spawn(h2_conn);
    let _silent = gw.tls(b"http/1.1").await;
    let mut upload = gw.tls(b"http/1.1").await;
    upload
        .write_all(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        while upload.write_all(&[b'u'; 100]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });

    let start = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let took = start.elapsed();
    trickle.abort();
    assert!(status.success(), "{status:?}");
    // The held request keeps it up for the grace period, and no longer.
    assert!(
        took >= Duration::from_millis(1900),
        "exited early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "overshot the 2 s grace: {took:?}"
    );
}
