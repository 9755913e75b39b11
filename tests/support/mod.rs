//! Test harness: a real storefront, the whole gateway in-process on port 0,
//! and clients that speak real TLS. Reads like a sentence:
//!
//! ```ignore
//! let shop = upstream().await;
//! let gw = gateway(&shop).route("/checkout", "otp").run().await;
//! let resp = gw.browser(H1).get("/checkout").await;
//! ```
#![allow(dead_code)]

pub mod browser;
pub mod cdp;
pub mod redis;
pub mod sends;
pub mod shop;
pub mod trail;

use std::path::PathBuf;
use std::sync::Arc;

use otpgate::clock::{Clock, ManualClock};
use otpgate::config::Config;
use otpgate::server::RunningGateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use browser::Browser;
pub use shop::{upstream, Shop};

pub const H1: bool = false;
pub const H2: bool = true;
pub const PHONE: &str = "+919812345678";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

pub struct GatewayBuilder {
    table: toml::Table,
    clock: Option<ManualClock>,
    dir: Arc<tempfile::TempDir>,
}

/// A gateway in front of `shop`, with the `file` SMS provider and a fresh
/// self-signed certificate. Tune it with [`GatewayBuilder::set`].
pub fn gateway(shop: &Shop) -> GatewayBuilder {
    gateway_to(&format!("http://{}", shop.addr))
}

pub fn gateway_to(upstream_url: &str) -> GatewayBuilder {
    let dir = tempfile::tempdir().unwrap();
    otpgate::tls::write_self_signed(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "5s"
[tls]
cert = "{cert}"
key = "{key}"
[upstream]
url = "{upstream_url}"
connect_timeout = "1s"
response_timeout = "2s"
[brand]
name = "Test Shop"
[phone]
default_region = "IN"
allowed_regions = ["IN", "GB"]
[session]
secret = "{SECRET}"
[sms]
provider = "file"
[sms.file]
path = "{sms}"
[admin]
listen = "127.0.0.1:0"
"#,
        cert = p("cert.pem"),
        key = p("key.pem"),
        sms = p("sms.jsonl"),
    );
    GatewayBuilder {
        table: text.parse().unwrap(),
        clock: None,
        dir: Arc::new(dir),
    }
}

impl GatewayBuilder {
    /// Sets `dotted.key` to a TOML value, e.g. `.set("otp.max_attempts", "3")`.
    pub fn set(mut self, key: &str, toml_value: &str) -> Self {
        let value: toml::Value = format!("v = {toml_value}")
            .parse::<toml::Table>()
            .unwrap()
            .remove("v")
            .unwrap();
        let mut parts: Vec<&str> = key.split('.').collect();
        let leaf = parts.pop().unwrap();
        let mut t = &mut self.table;
        for part in parts {
            t = t
                .entry(part)
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .unwrap();
        }
        t.insert(leaf.to_string(), value);
        self
    }

    pub fn route(mut self, path: &str, require: &str) -> Self {
        self.add_route(path, require, None);
        self
    }

    pub fn route_with(mut self, path: &str, require: &str, extra: &str) -> Self {
        self.add_route(path, require, Some(extra));
        self
    }

    fn add_route(&mut self, path: &str, require: &str, extra: Option<&str>) {
        let mut r = toml::Table::new();
        r.insert("path".into(), path.into());
        r.insert("require".into(), require.into());
        if let Some(extra) = extra {
            for (k, v) in extra.parse::<toml::Table>().unwrap() {
                r.insert(k, v);
            }
        }
        let routes = self
            .table
            .entry("route")
            .or_insert_with(|| toml::Value::Array(vec![]));
        routes.as_array_mut().unwrap().push(toml::Value::Table(r));
    }

    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn config_text(&self) -> String {
        toml::to_string(&self.table).unwrap()
    }

    /// The folder holding the certificate, key and SMS file.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Validates this configuration and puts it in force in `gw`
    /// (`RunningGateway::reload`, what SIGHUP does after reading the file).
    pub fn reload_into(
        self,
        gw: &Gw,
    ) -> Result<otpgate::server::live::Reloaded, otpgate::server::live::ReloadError> {
        let cfg = Config::parse(&self.config_text(), "test").unwrap_or_else(|e| panic!("{e}"));
        gw.running.as_ref().unwrap().reload(cfg)
    }

    pub async fn run(self) -> Gw {
        let text = self.config_text();
        let table = self.table.clone();
        let cfg = Config::parse(&text, "test").unwrap_or_else(|e| panic!("{e}"));
        let clock = self.clock.clone().map(|c| Arc::new(c) as Arc<dyn Clock>);
        let running = otpgate::server::start(cfg, clock).await.unwrap();
        let cert_pem = std::fs::read_to_string(self.dir.path().join("cert.pem")).unwrap();
        Gw {
            addr: running.addr,
            running: Some(running),
            sms_path: self.dir.path().join("sms.jsonl"),
            cert_pem,
            clock: self.clock,
            table,
            _dir: self.dir,
        }
    }
}

pub struct Gw {
    pub addr: std::net::SocketAddr,
    pub running: Option<RunningGateway>,
    pub sms_path: PathBuf,
    pub cert_pem: String,
    pub clock: Option<ManualClock>,
    /// The configuration it started with, for [`Gw::edit`].
    table: toml::Table,
    _dir: Arc<tempfile::TempDir>,
}

impl Gw {
    /// The configuration it started with, to change and
    /// [`GatewayBuilder::reload_into`] this gateway.
    pub fn edit(&self) -> GatewayBuilder {
        GatewayBuilder {
            table: self.table.clone(),
            clock: None,
            dir: self._dir.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    /// The configuration in force now (a reload swaps it).
    pub fn gateway(&self) -> Arc<otpgate::gateway::Gateway> {
        self.running.as_ref().unwrap().gateway()
    }

    /// A client that trusts only this gateway's certificate.
    pub fn client(&self, h2: bool) -> reqwest::Client {
        let cert = reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap();
        let b = reqwest::Client::builder()
            .add_root_certificate(cert)
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30));
        let b = if h2 {
            b.http2_prior_knowledge()
        } else {
            b.http1_only()
        };
        b.build().unwrap()
    }

    /// What a form post's answer says. Under post/redirect/get a refusal
    /// is a `303` leaving a sealed flash for the page it leads to: this
    /// opens it and gives that page's status and the error code. Any other
    /// answer: its own status, no code.
    pub fn outcome(&self, status: u16, headers: &http::HeaderMap) -> (u16, Option<String>) {
        let flash = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find(|c| c.contains("-flash=") && !c.contains("Max-Age=0"))
            .and_then(|c| c.split(';').next());
        let Some(pair) = flash else {
            return (status, None);
        };
        let mut h = http::HeaderMap::new();
        h.insert("cookie", pair.parse().unwrap());
        let sealer = otpgate::session::CookieSealer::new(&self.gateway().cfg.session);
        let f = otpgate::own::flash::Flash::take(&sealer, &h)
            .0
            .expect("a flash this gateway sealed");
        (f.status, Some(f.key))
    }

    pub fn browser(&self, h2: bool) -> Browser {
        Browser::new(self.client(h2), self.url(""), self.sms_path.clone(), h2)
    }

    /// Every SMS the `file` provider wrote: (to, body).
    pub fn sms(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.sms_path).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["to"].as_str().unwrap().to_string(),
                    v["body"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub async fn metrics(&self) -> String {
        let admin = self.running.as_ref().unwrap().admin_addr.unwrap();
        reqwest::get(format!("http://{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn shutdown(&mut self) {
        self.running.take().unwrap().shutdown().await;
    }

    pub fn tls_connector(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.cert_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    pub async fn tls_stream(
        &self,
        alpn: &[&[u8]],
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        self.tls_connector(alpn).connect(name, tcp).await.unwrap()
    }

    /// Sends `request` byte-exact over TLS (HTTP/1.1) and returns the whole
    /// answer as text (the request should say `Connection: close`).
    pub async fn raw_h1(&self, request: &[u8]) -> String {
        let mut tls = self.tls_stream(&[b"http/1.1"]).await;
        tls.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tls.read_to_end(&mut out),
        )
        .await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// One HTTP/2 request with a byte-exact `:path`, via the h2 crate. A
    /// stream the server resets is reported as such, never as a status:
    /// a test that expects a refusal must say that a reset is one.
    pub async fn raw_h2(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> H2Answer {
        let Ok(uri) = http::Uri::builder()
            .scheme("https")
            .authority(format!("127.0.0.1:{}", self.addr.port()))
            .path_and_query(path)
            .build()
        else {
            return H2Answer::Unsendable;
        };
        let mut req = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let Ok(req) = req.body(()) else {
            return H2Answer::Unsendable;
        };
        let tls = self.tls_stream(&[b"h2"]).await;
        let (mut client, conn) = h2::client::handshake(tls).await.unwrap();
        tokio::spawn(conn);
        let resp = match client.send_request(req, true) {
            Ok((resp, _)) => resp,
            Err(e) if e.is_remote() => return H2Answer::from_error(&e),
            // h2 checks the request (e.g. a connection-specific header,
            // RFC 9113 §8.2.2) before it sends a frame.
            Err(_) => return H2Answer::Unsendable,
        };
        match tokio::time::timeout(std::time::Duration::from_secs(10), resp).await {
            Err(_) => H2Answer::NoAnswer("no answer within 10 s".into()),
            Ok(Ok(r)) => H2Answer::Status(r.status().as_u16()),
            Ok(Err(e)) => H2Answer::from_error(&e),
        }
    }
}

/// What became of one HTTP/2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H2Answer {
    /// The server answered with this status.
    Status(u16),
    /// The server reset the stream (`RST_STREAM`, or `GOAWAY`) with this
    /// reason instead of answering.
    Reset(h2::Reason),
    /// The http or h2 crate refuses to build or send this request at all.
    Unsendable,
    /// Anything else: timeout, connection lost, a local protocol error.
    NoAnswer(String),
}

impl H2Answer {
    fn from_error(e: &h2::Error) -> Self {
        match e.reason() {
            Some(r) if e.is_remote() => H2Answer::Reset(r),
            _ => H2Answer::NoAnswer(e.to_string()),
        }
    }

    /// The status, panicking with what happened instead when there is none.
    pub fn status(&self) -> u16 {
        match self {
            H2Answer::Status(s) => *s,
            other => panic!("no HTTP/2 answer: {other:?}"),
        }
    }
}

/// A header of a raw HTTP/1.1 answer (first match, any case).
pub fn header_of<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `GET /.otpgate/auth` over raw HTTP/1.1 with `headers` and, when given,
/// the session cookie: `(status, Location, X-Otpgate-Phone)`.
pub async fn forward_auth(
    gw: &Gw,
    headers: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, Option<String>, Option<String>) {
    let mut req = String::from("GET /.otpgate/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: __Host-otpgate={c}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let raw = gw.raw_h1(req.as_bytes()).await;
    let owned = |n: &str| header_of(&raw, n).map(str::to_string);
    (status_of(&raw), owned("location"), owned("x-otpgate-phone"))
}

/// The status code of a raw HTTP/1.1 answer.
pub fn status_of(raw: &str) -> u16 {
    raw.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The code in an SMS body: the first run of 4 to 10 digits.
pub fn code_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=10).contains(&w.len()))
        .unwrap()
        .to_string()
}
