//! `otpgate demo`: a tiny storefront on loopback and the gateway in front
//! of it, with a fresh self-signed certificate, the memory store and codes
//! printed to the terminal. Zero configuration.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::body::Body;
use crate::config::Config;
use crate::pages::escape as esc;

/// The demo's configuration: the same validation as a file's.
pub fn config(listen: SocketAddr, upstream: SocketAddr, secret: &str) -> Config {
    let text = format!(
        r#"
[server]
listen = "{listen}"
public_host = "{host}"
[tls]
cert = "certs/cert.pem"
key = "certs/key.pem"
[upstream]
url = "http://{upstream}"
[[route]]
path = "/checkout"
require = "otp"
max_age = "15m"
[[route]]
path = "/account"
require = "otp"
max_age = "15m"
[brand]
name = "Demo Shop"
[phone]
default_region = "IN"
allowed_regions = ["IN", "US", "GB", "DE", "FR", "SG", "AU", "CA", "AE", "BR"]
[session]
secret = "{secret}"
[sms]
provider = "console"
[admin]
listen = "127.0.0.1:0"
"#,
        host = if listen.ip().is_unspecified() {
            format!("localhost:{}", listen.port())
        } else {
            listen.to_string()
        },
    );
    match Config::parse(&text, "demo") {
        Ok(c) => c,
        Err(e) => panic!("the built-in demo config is invalid: {e}"),
    }
}

/// Creates `certs/cert.pem` and `certs/key.pem` unless both exist.
pub fn ensure_certs(dir: &Path) -> Result<bool, crate::tls::TlsError> {
    if dir.join("cert.pem").exists() && dir.join("key.pem").exists() {
        return Ok(false);
    }
    crate::tls::write_self_signed(dir, &["localhost".into(), "127.0.0.1".into()])?;
    Ok(true)
}

/// The demo storefront on 127.0.0.1 (a free port).
pub async fn storefront() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|req| async move { Ok::<_, Infallible>(shop_page(&req)) });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(addr)
}

fn shop_page(req: &Request<Incoming>) -> Response<Body> {
    let phone = req
        .headers()
        .get("x-otpgate-phone")
        .and_then(|v| v.to_str().ok());
    let who = match phone {
        Some(p) => format!(
            "<p class=ok>Verified phone: <strong>{}</strong> (sent by otpgate in <code>X-Otpgate-Phone</code>)</p><form method=post action=/.otpgate/logout><button>Log out</button></form>",
            esc(p)
        ),
        None => "<p>Not verified yet. Protected pages: <a href=/checkout>/checkout</a>, <a href=/account>/account</a>.</p>".into(),
    };
    let (status, title, body) = match req.uri().path() {
        "/" => (StatusCode::OK, "Demo Shop", "<p>Welcome. Browse freely; checkout asks for a one-time code.</p><p><a href=/product/1>Masala chai, 250 g — ₹249</a></p>"),
        "/product/1" => (StatusCode::OK, "Masala chai", "<p>Strong Assam tea with cardamom and ginger. ₹249.</p><p><a href=/checkout>Buy now</a></p>"),
        p if p.starts_with("/checkout") => (StatusCode::OK, "Checkout", "<p>Cash on delivery: ₹249. Thanks for confirming your phone — your order is on its way.</p>"),
        p if p.starts_with("/account") => (StatusCode::OK, "Your account", "<p>Saved addresses and orders live here.</p>"),
        _ => (StatusCode::NOT_FOUND, "Not found", "<p>No such page.</p>"),
    };
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>{title}</title><body style='font:16px system-ui;max-width:40rem;margin:2rem auto;padding:0 1rem'><nav><a href=/>Home</a> · <a href=/product/1>Product</a> · <a href=/checkout>Checkout</a> · <a href=/account>Account</a></nav><h1>{title}</h1>{body}{who}</body></html>"
    );
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::full(html))
        .expect("valid response")
}
