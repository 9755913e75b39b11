//! A shopper who comes back (a mobile connection dropped) resumes the TLS
//! session with a ticket instead of a full handshake, for TLS 1.3 and 1.2
//! alike, and with as many clients as come: resumption is not limited to
//! the 256 sessions rustls would otherwise keep in memory.

mod support;

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::HandshakeKind;
use support::{gateway, upstream};

fn client(
    cert_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

#[tokio::test]
async fn a_returning_client_resumes_its_session() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        // 300 clients, each its own session cache, all connect before any
        // comes back: more sessions than a 256-entry server cache holds.
        let clients: Vec<Arc<rustls::ClientConfig>> = (0..300)
            .map(|_| {
                let mut c = client(&gw.cert_pem, version);
                c.resumption = Resumption::in_memory_sessions(4);
                Arc::new(c)
            })
            .collect();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut kinds = Vec::new();
        for round in 0..2 {
            for c in &clients {
                let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
                let mut tls = tokio_rustls::TlsConnector::from(c.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .unwrap();
                // One request, so a TLS 1.3 ticket (sent after the
                // handshake) has arrived before the connection closes.
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                tls.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut out = Vec::new();
                let _ = tls.read_to_end(&mut out).await;
                if round == 1 {
                    kinds.push(tls.get_ref().1.handshake_kind());
                }
            }
        }
        let resumed = kinds
            .iter()
            .filter(|k| **k == Some(HandshakeKind::Resumed))
            .count();
        assert_eq!(resumed, clients.len(), "{version:?}: {kinds:?}");
    }
}
