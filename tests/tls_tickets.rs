//! Several instances behind one load balancer, one ticket secret
//! (`[tls] ticket_key_file`): a shopper resumes on whichever instance the
//! balancer picks; an instance with another secret, a changed ticket or a
//! ticket older than two rotation periods gets a full handshake (never a
//! failed one).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use otpgate::clock::ManualClock;
use rustls::client::Resumption;
use rustls::HandshakeKind;
use support::{gateway, upstream, Gw, Shop};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOUR: Duration = Duration::from_secs(3600);
/// A whole hour plus a minute: the period boundaries fall where the test says.
const T0_MS: u64 = 1_800_000_000_000 / 3_600_000 * 3_600_000 + 60_000;

fn key_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

async fn instance(shop: &Shop, key: &Path, clock: &ManualClock) -> Gw {
    gateway(shop)
        .set(
            "tls.ticket_key_file",
            &format!("{:?}", key.display().to_string()),
        )
        .set("tls.ticket_rotation", "\"1h\"")
        .clock(clock.clone())
        .run()
        .await
}

/// A client with its own session cache, trusting every instance's certificate.
fn client(
    gws: &[&Gw],
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for gw in gws {
        for c in rustls_pemfile::certs(&mut gw.cert_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // One name for every instance, as behind a load balancer.
    cfg.resumption = Resumption::in_memory_sessions(8);
    Arc::new(cfg)
}

/// One request over a new connection; how the handshake went. The request
/// is answered, so a TLS 1.3 ticket (sent after the handshake) has arrived.
async fn visit(gw: &Gw, client: &Arc<rustls::ClientConfig>) -> HandshakeKind {
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, tcp)
        .await
        .expect("handshake failed instead of falling back to a full one");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    tls.get_ref().1.handshake_kind().unwrap()
}

const VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn instances_sharing_the_ticket_key_resume_each_others_tickets() {
    let shop = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "ticket.key", &"s".repeat(40));
    let clock = ManualClock::at(T0_MS);
    let a = instance(&shop, &key, &clock).await;
    let b = instance(&shop, &key, &clock).await;
    for version in VERSIONS {
        let c = client(&[&a, &b], version);
        assert_eq!(visit(&a, &c).await, HandshakeKind::Full, "{version:?}");
        assert_eq!(
            visit(&b, &c).await,
            HandshakeKind::Resumed,
            "{version:?}: A's ticket on B"
        );
        assert_eq!(
            visit(&a, &c).await,
            HandshakeKind::Resumed,
            "{version:?}: B's ticket on A"
        );
    }
}

#[tokio::test]
async fn instances_with_other_secrets_make_a_full_handshake() {
    let shop = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0_MS);
    let a = instance(
        &shop,
        &key_file(dir.path(), "a.key", &"a".repeat(40)),
        &clock,
    )
    .await;
    let b = instance(
        &shop,
        &key_file(dir.path(), "b.key", &"b".repeat(40)),
        &clock,
    )
    .await;
    // Without the option: keys random per process, no resumption across.
    let c_default = gateway(&shop).run().await;
    for version in VERSIONS {
        let c = client(&[&a, &b, &c_default], version);
        assert_eq!(visit(&a, &c).await, HandshakeKind::Full, "{version:?}");
        assert_eq!(
            visit(&b, &c).await,
            HandshakeKind::Full,
            "{version:?}: A's ticket on B"
        );
        assert_eq!(
            visit(&c_default, &c).await,
            HandshakeKind::Full,
            "{version:?}"
        );
        // The control: each still resumes its own.
        assert_eq!(
            visit(&c_default, &c).await,
            HandshakeKind::Resumed,
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn a_ticket_opens_for_two_rotation_periods_at_most() {
    let shop = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "ticket.key", &"s".repeat(40));
    let clock = ManualClock::at(T0_MS);
    let a = instance(&shop, &key, &clock).await;
    let b = instance(&shop, &key, &clock).await;
    for version in VERSIONS {
        clock.set_ms(T0_MS);
        let (young, old) = (client(&[&a, &b], version), client(&[&a, &b], version));
        assert_eq!(visit(&a, &young).await, HandshakeKind::Full);
        assert_eq!(visit(&a, &old).await, HandshakeKind::Full);
        clock.advance(HOUR);
        // The previous period still opens, on either instance.
        assert_eq!(
            visit(&b, &young).await,
            HandshakeKind::Resumed,
            "{version:?}"
        );
        clock.advance(HOUR);
        assert_eq!(
            visit(&b, &old).await,
            HandshakeKind::Full,
            "{version:?}: two periods old"
        );
    }
}

/// `openssl s_client` over TLS 1.3: what it printed (`New,` or `Reused,`
/// and the answer). `None` when openssl is not installed.
fn s_client(addr: std::net::SocketAddr, sess_in: Option<&Path>, sess_out: &Path) -> Option<String> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &addr.to_string(),
        "-tls1_3",
        "-ign_eof",
    ])
    .arg("-sess_out")
    .arg(sess_out);
    if let Some(f) = sess_in {
        cmd.arg("-sess_in").arg(f);
    }
    let mut child = match cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") => {
            panic!("openssl is required (OTPGATE_REQUIRE_ALL=1): {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: openssl not found ({e}); apt-get install -y openssl");
            return None;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn openssl(args: &[&str]) {
    let status = Command::new("openssl").args(args).status().unwrap();
    assert!(status.success(), "openssl {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_ticket_costs_a_full_handshake_not_an_error() {
    let shop = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "ticket.key", &"s".repeat(40));
    let clock = ManualClock::at(T0_MS);
    let a = instance(&shop, &key, &clock).await;
    let addr = a.addr;
    let d = dir.path().to_path_buf();
    let period = (T0_MS / 1000 / 3600).to_be_bytes();
    tokio::task::spawn_blocking(move || {
        let p = |f: &str| d.join(f).display().to_string();
        let Some(first) = s_client(addr, None, Path::new(&p("s.pem"))) else {
            return;
        };
        assert!(first.contains("New, TLSv1.3"), "{first}");
        // The control: the ticket as issued resumes.
        let again = s_client(addr, Some(Path::new(&p("s.pem"))), Path::new(&p("x.pem"))).unwrap();
        assert!(again.contains("Reused, TLSv1.3"), "{again}");

        openssl(&[
            "sess_id",
            "-in",
            &p("s.pem"),
            "-outform",
            "DER",
            "-out",
            &p("s.der"),
        ]);
        let der = std::fs::read(p("s.der")).unwrap();
        let at = der
            .windows(8)
            .position(|w| w == period)
            .expect("the ticket's period header in the saved session");
        // The period (moved back one, still inside the window), the nonce,
        // the sealed state and the tag, each changed.
        let previous = (u64::from_be_bytes(period) - 1).to_be_bytes();
        for offset in [None, Some(8 + 3), Some(8 + 12 + 2), Some(8 + 12 + 20)] {
            let mut bad = der.clone();
            match offset {
                None => bad[at..at + 8].copy_from_slice(&previous),
                Some(i) => bad[at + i] ^= 0x01,
            }
            std::fs::write(p("t.der"), &bad).unwrap();
            openssl(&[
                "sess_id",
                "-inform",
                "DER",
                "-in",
                &p("t.der"),
                "-out",
                &p("t.pem"),
            ]);
            let out = s_client(addr, Some(Path::new(&p("t.pem"))), Path::new(&p("y.pem"))).unwrap();
            assert!(out.contains("New, TLSv1.3"), "offset {offset:?}: {out}");
            assert!(
                out.contains("HTTP/1.1 200"),
                "offset {offset:?}: no answer\n{out}"
            );
        }
    })
    .await
    .unwrap();
}
