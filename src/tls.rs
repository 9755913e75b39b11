//! TLS: rustls with TLS 1.2 and 1.3 only, ALPN `h2` then `http/1.1`;
//! session tickets keyed per process or shared between instances
//! (tls/tickets.rs).

mod tickets;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ProducesTickets, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

pub use tickets::{SharedTicketer, MAX_LIFETIME as MAX_TICKET_LIFETIME};

use crate::clock::Clock;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCert { path: String },
    #[error("{path}: no PEM private key found")]
    NoKey { path: String },
    #[error("certificate and key do not fit together: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot make certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// Reads a certificate chain and its private key and checks that they fit
/// together, so a reload never swaps in a pair no client could verify.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = load_certs(cert)?;
    let key_pem = read(key)?;
    let key_der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| TlsError::NoKey {
            path: key.display().to_string(),
        })?;
    let signing = provider().key_provider.load_private_key(key_der)?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match()?;
    Ok(Arc::new(certified))
}

/// The certificate new handshakes get. A reload stores a new one; a
/// handshake under way, and every open connection, keeps the one it began
/// with (rustls asks the resolver once per handshake).
#[derive(Debug)]
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    pub fn new(first: Arc<CertifiedKey>) -> Arc<Self> {
        Arc::new(CertResolver {
            current: ArcSwap::new(first),
        })
    }

    pub fn replace(&self, next: Arc<CertifiedKey>) {
        self.current.store(next);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The server configuration for one fixed certificate and key, with
/// per-process ticket keys.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_with(
        CertResolver::new(certified_key(cert, key)?),
        ticketer(None)?,
    )
}

/// The session-ticket keys: shared by every instance holding `shared`
/// (`[tls] ticket_key_file`, its secret and rotation period), else random
/// per process.
///
/// Per process: rustls's `Ticketer` draws its keys at random and rotates
/// them (each key encrypts for 6 hours, and opens for 6 more), so a stolen
/// ticket key exposes at most that window of resumptions; but a shopper the
/// load balancer sends to another instance makes a full handshake.
pub fn ticketer(
    shared: Option<(&Secret, Duration, Arc<dyn Clock>)>,
) -> Result<Arc<dyn ProducesTickets>, TlsError> {
    Ok(match shared {
        Some((secret, rotation, clock)) => Arc::new(SharedTicketer::new(secret, rotation, clock)),
        None => rustls::crypto::ring::Ticketer::new()?,
    })
}

/// TLS 1.3 and 1.2, ALPN `h2` then `http/1.1`, certificates from `certs`.
///
/// Resumption by session tickets (RFC 8446 §4.6.1, RFC 5077): a shopper
/// whose mobile connection dropped comes back with an abbreviated
/// handshake instead of a full one (no certificate signature, which is
/// most of a full handshake's cost). TLS 1.3 resumption in rustls is
/// always PSK with (EC)DHE, so past sessions keep forward secrecy. Without
/// a ticketer rustls resumes only from a 256-entry in-memory cache, which
/// a busy instance turns over in well under a second.
pub fn server_config_with(
    certs: Arc<CertResolver>,
    tickets: Arc<dyn ProducesTickets>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    cfg.ticketer = tickets;
    Ok(Arc::new(cfg))
}

/// A self-signed certificate and key (PEM) for `hosts`.
pub fn self_signed(hosts: &[String]) -> Result<(String, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(hosts.to_vec())?;
    Ok((certified.cert.pem(), certified.key_pair.serialize_pem()))
}

/// Writes `cert.pem` and `key.pem` (mode 0600) into `dir`.
pub fn write_self_signed(dir: &Path, hosts: &[String]) -> Result<(), TlsError> {
    let (cert, key) = self_signed(hosts)?;
    let io = |source| TlsError::Read {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join("cert.pem"), cert).map_err(io)?;
    let key_path = dir.join("key.pem");
    std::fs::write(&key_path, key).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}
