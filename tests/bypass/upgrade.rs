//! Upgrade smuggling (Bishop Fox, "h2c smuggling", 2020): a client asks an
//! unprotected path to switch to `h2c`; a storefront that accepts it (here,
//! one that switches to anything it is asked for, then speaks HTTP/2) gets a
//! raw tunnel, and the client sends HTTP/2 streams to `/checkout` with its
//! own `x-otpgate-phone`. Only a WebSocket handshake on an authorized route
//! may upgrade; a 101 nobody asked for is never spliced.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::forward_auth::session_cookie;
use crate::support::{gateway_to, status_of, upstream, Gw};

/// A storefront that switches to whatever `Upgrade` names (or, on
/// `/always101`, switches unasked) and then serves HTTP/2 on the socket.
/// It records what it saw as HTTP/1.1 and, separately, as HTTP/2.
type Fields = Vec<(String, String)>;

#[derive(Clone, Default)]
struct Switcher {
    /// The header fields of each HTTP/1.1 request.
    h1: Arc<Mutex<Vec<Fields>>>,
    h2: Arc<Mutex<Vec<String>>>,
}

async fn switcher() -> (Switcher, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let s = Switcher::default();
    let shop = s.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let s = shop.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let s = s.clone();
                    async move { Ok::<_, Infallible>(s.answer(req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (s, url)
}

impl Switcher {
    fn answer(&self, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        self.h1.lock().unwrap().push(headers);
        let asked = req
            .headers()
            .get("upgrade")
            .map(|v| v.to_str().unwrap_or("").to_string());
        let switch_to = match (asked, req.uri().path()) {
            (Some(proto), _) => proto,
            (None, "/always101") => "h2c".to_string(),
            (None, _) => return Response::new(Full::new(Bytes::from_static(b"plain"))),
        };
        let on = hyper::upgrade::on(&mut req);
        let h2 = self.h2.clone();
        tokio::spawn(async move {
            let Ok(io) = on.await else { return };
            let svc = service_fn(move |req: Request<Incoming>| {
                let h2 = h2.clone();
                async move {
                    let phone = req
                        .headers()
                        .get("x-otpgate-phone")
                        .map(|v| v.to_str().unwrap_or("").to_string());
                    h2.lock().unwrap().push(format!(
                        "{} {} phone={phone:?}",
                        req.method(),
                        req.uri()
                    ));
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"secret order page",
                    ))))
                }
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, svc)
                .await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", switch_to)
            .body(Full::new(Bytes::new()))
            .unwrap()
    }
}

const SETTINGS: &str = "AAMAAABkAARAAAAAAAIAAAAA";

/// Sends `head` over raw TLS and reads the answer's head byte by byte
/// (nothing past it). On a 101, tries what an attacker would: HTTP/2 over
/// the tunnel to `/checkout/order-42` with a forged phone. Returns the
/// status and whether an HTTP/2 answer came back through the tunnel.
async fn attempt(gw: &Gw, head: &str) -> (u16, bool) {
    let mut tls = gw.tls_stream(&[b"http/1.1"]).await;
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(std::time::Duration::from_secs(10), tls.read(&mut byte)).await {
            Ok(Ok(1)) => got.push(byte[0]),
            _ => break,
        }
    }
    let status = status_of(&String::from_utf8_lossy(&got));
    if status != 101 {
        return (status, false);
    }
    let tunnelled = async {
        let (mut client, conn) = h2::client::handshake(tls).await.ok()?;
        tokio::spawn(conn);
        let req = Request::get("http://127.0.0.1/checkout/order-42")
            .header("x-otpgate-phone", "+919999999999")
            .body(())
            .unwrap();
        let (resp, _) = client.send_request(req, true).ok()?;
        resp.await.ok()
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), tunnelled)
        .await
        .ok()
        .flatten();
    (status, answer.is_some())
}

fn upgrade_head(path: &str, connection: &str, upgrade: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\nUpgrade: {upgrade}\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn no_upgrade_but_websocket_reaches_the_storefront() {
    let (shop, url) = switcher().await;
    let gw = gateway_to(&url).route("/checkout", "otp").run().await;
    let ws = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let settings = format!("HTTP2-Settings: {SETTINGS}\r\n");
    let cases = [
        ("Upgrade, HTTP2-Settings", "h2c", settings.as_str()),
        ("upgrade", "h2c", ""),
        ("UPGRADE", "H2C", ""),
        ("keep-alive, Upgrade", "h2c", ""),
        ("Upgrade", "h2c", ws),
        ("Upgrade", "websocket, h2c", ws),
        ("Upgrade", "h2c, websocket", ws),
        ("Upgrade", "TLS/1.2", ""),
        ("Upgrade", "HTTP/2.0", ""),
        ("Upgrade", "websocket/13", ws),
        ("Upgrade", "anything", ""),
        // A WebSocket upgrade without a valid handshake is not one.
        ("Upgrade", "websocket", ""),
        (
            "Upgrade",
            "websocket",
            "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n",
        ),
    ];
    let mut failures = Vec::new();
    for (connection, upgrade, extra) in cases {
        let before = shop.h1.lock().unwrap().len();
        let (status, tunnelled) =
            attempt(&gw, &upgrade_head("/hello", connection, upgrade, extra)).await;
        let seen = shop.h1.lock().unwrap()[before..].to_vec();
        let leaked: Vec<&(String, String)> = seen
            .iter()
            .flatten()
            .filter(|(k, _)| k == "upgrade" || k == "http2-settings")
            .collect();
        if status != 200 || tunnelled || !leaked.is_empty() {
            failures.push(format!(
                "{connection} / {upgrade}: {status}, tunnel {tunnelled}, shop got {leaked:?}"
            ));
        }
    }
    // A valid WebSocket handshake answered by a switch to something else.
    let (status, tunnelled) = attempt(
        &gw,
        &format!("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{ws}\r\n"),
    )
    .await;
    if tunnelled || status == 101 {
        failures.push(format!(
            "websocket answered as h2c: {status}, tunnel {tunnelled}"
        ));
    }
    let h2 = shop.h2.lock().unwrap().clone();
    assert!(
        failures.is_empty() && h2.is_empty(),
        "{failures:#?}\nHTTP/2 through the tunnel: {h2:?}"
    );
}

/// A storefront that answers 101 to a plain request gets no tunnel: 502.
#[tokio::test]
async fn an_unasked_101_is_never_spliced() {
    let (shop, url) = switcher().await;
    let gw = gateway_to(&url).run().await;
    let head = "GET /always101 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let (status, tunnelled) = attempt(&gw, head).await;
    assert_eq!((status, tunnelled), (502, false));
    assert!(shop.h2.lock().unwrap().is_empty());
}

/// WebSocket still works, and on a protected route only with the session.
#[tokio::test]
async fn websocket_on_a_protected_route_needs_the_session() {
    let shop = upstream().await;
    let gw = gateway_to(&format!("http://{}", shop.addr))
        .route("/ws", "otp")
        .run()
        .await;
    let url = format!("wss://127.0.0.1:{}/ws", gw.addr.port());
    let tls = gw.tls_stream(&[b"http/1.1"]).await;
    let before = shop.count();
    let refused = tokio_tungstenite::client_async(url.as_str(), tls).await;
    assert!(refused.is_err(), "upgraded without a session");
    assert_eq!(shop.count(), before, "forwarded without a session");

    let cookie = session_cookie(&gw).await;
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "cookie",
        format!("__Host-otpgate={cookie}").parse().unwrap(),
    );
    let tls = gw.tls_stream(&[b"http/1.1"]).await;
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(tokio_tungstenite::tungstenite::Message::text("hi"))
        .await
        .unwrap();
    let echo = ws.next().await.unwrap().unwrap();
    assert_eq!(echo.into_text().unwrap().as_str(), "hi");
    assert_eq!(shop.last().header("upgrade"), Some("websocket"));
}

/// `CONNECT` asks a proxy for a raw tunnel (RFC 9110 §9.3.6): otpgate is
/// not a forward proxy, so it never forwards one, whatever the target form.
#[tokio::test]
async fn connect_is_never_forwarded() {
    let (shop, url) = switcher().await;
    let gw = gateway_to(&url).run().await;
    let port = gw.addr.port();
    let mut failures = Vec::new();
    for target in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1:80".to_string(),
        "/public".to_string(),
    ] {
        let before = shop.h1.lock().unwrap().len();
        let head = format!("CONNECT {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        let (status, tunnelled) = attempt(&gw, &head).await;
        let forwarded = shop.h1.lock().unwrap().len() > before;
        if (200..300).contains(&status) || status == 101 || tunnelled || forwarded {
            failures.push(format!("CONNECT {target}: {status}, forwarded {forwarded}"));
        }
    }
    // HTTP/2 CONNECT (authority only, RFC 9113 §8.5).
    let before = shop.h1.lock().unwrap().len();
    let tls = gw.tls_stream(&[b"h2"]).await;
    let (mut client, conn) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method("CONNECT")
        .uri(format!("127.0.0.1:{port}"))
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, false).unwrap();
    let status = match tokio::time::timeout(std::time::Duration::from_secs(10), resp).await {
        Ok(Ok(r)) => r.status().as_u16(),
        _ => 400,
    };
    if (200..300).contains(&status) || shop.h1.lock().unwrap().len() > before {
        failures.push(format!("H2 CONNECT: {status}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
