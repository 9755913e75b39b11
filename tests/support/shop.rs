//! A real storefront for the tests: an HTTP/1.1 server on 127.0.0.1:0 that
//! records every request it receives and answers by path.
//!
//! - `/big?bytes=N`: streams N bytes in 64 KiB chunks
//! - `/upload`: counts the request body as it streams in; answers the count
//! - `/hold`: sends one chunk, then waits until the test releases it
//! - `/slow?ms=N`: answers after N ms
//! - `/ws`: WebSocket echo
//! - `/internal/phone`: the registered phone of the shop's signed-in customer
//! - `/checkout/place-order`: records the body (in [`Seen::body`]) and
//!   answers `303` to `/orders/N` (Post/Redirect/Get), N counting orders
//! - `/checkout/confirm`: records the body and answers a `200` HTML page
//! - `/orders/N`: the order confirmation page
//! - `/cart-form`: a checkout page whose form posts to `/checkout/place-order`
//! - `/hop`: answers with hop-by-hop headers that must not reach the client
//! - `/cached`: answers with its own `Cache-Control: public, max-age=60`
//! - anything else: `200` with a JSON echo of method, target and headers

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

type Body = BoxBody<Bytes, Infallible>;

/// One request as the storefront saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The request body, for the paths that record it (see the module docs).
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Clone)]
pub struct Shop {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Released by [`Shop::release`]; `/hold` waits for it.
    pub hold: Arc<Notify>,
    /// Bytes of `/upload` bodies received so far.
    pub upload_progress: Arc<Mutex<u64>>,
}

impl Shop {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("the shop saw no request")
    }
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
    /// The requests that placed an order (`/checkout/place-order` or
    /// `/checkout/confirm`).
    pub fn orders(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| {
                s.target.starts_with("/checkout/place-order")
                    || s.target.starts_with("/checkout/confirm")
            })
            .collect()
    }
    pub fn release(&self) {
        self.hold.notify_waiters();
        self.hold.notify_one();
    }
}

/// Starts the storefront.
pub async fn upstream() -> Shop {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop = Shop {
        addr: listener.local_addr().unwrap(),
        seen: Arc::default(),
        hold: Arc::new(Notify::new()),
        upload_progress: Arc::default(),
    };
    let s = shop.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let s = s.clone();
                    async move { Ok::<_, Infallible>(answer(s, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    shop
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

fn query_num(req: &Request<Incoming>, name: &str) -> u64 {
    req.uri()
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn seen_of<B>(req: &Request<B>, body: Vec<u8>) -> Seen {
    Seen {
        method: req.method().to_string(),
        target: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    }
}

/// `/checkout/place-order` and `/checkout/confirm`: the body recorded,
/// then an order placed.
async fn order(shop: Shop, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let req = Request::from_parts(parts, ());
    let seen = seen_of(&req, bytes.to_vec());
    let n = {
        let mut all = shop.seen.lock().unwrap();
        all.push(seen);
        all.iter()
            .filter(|s| {
                s.target.starts_with("/checkout/place-order")
                    || s.target.starts_with("/checkout/confirm")
            })
            .count()
    };
    if req.uri().path() == "/checkout/confirm" {
        return Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Full::new(Bytes::from(format!("<!doctype html><html><head><title>Order {n}</title></head><body><h1>Order {n} confirmed</h1></body></html>"))).boxed())
            .unwrap();
    }
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", format!("/orders/{n}"))
        .header("set-cookie", format!("shop_last_order={n}; Path=/"))
        .body(Full::new(Bytes::from_static(b"order placed")).boxed())
        .unwrap()
}

async fn answer(shop: Shop, mut req: Request<Incoming>) -> Response<Body> {
    if matches!(
        req.uri().path(),
        "/checkout/place-order" | "/checkout/confirm"
    ) {
        return order(shop, req).await;
    }
    let seen = seen_of(&req, Vec::new());
    shop.seen.lock().unwrap().push(seen.clone());
    match req.uri().path() {
        "/big" => {
            let total = query_num(&req, "bytes");
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let mut sent = 0;
                while sent < total {
                    let n = (total - sent).min(chunk.len() as u64) as usize;
                    if tx.send(Ok(Frame::data(chunk.slice(..n)))).await.is_err() {
                        return;
                    }
                    sent += n as u64;
                }
            });
            let stream = tokio_stream_from(rx);
            Response::builder()
                .header("content-length", total)
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
        "/hold" => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            let hold = shop.hold.clone();
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b"first chunk;"))))
                    .await;
                hold.notified().await;
                let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"rest")))).await;
            });
            Response::new(BodyExt::boxed(StreamBody::new(tokio_stream_from(rx))))
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return full(StatusCode::BAD_REQUEST, "body error");
                };
                if let Some(d) = frame.data_ref() {
                    n += d.len() as u64;
                    *shop.upload_progress.lock().unwrap() = n;
                }
            }
            full(StatusCode::OK, n.to_string())
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(query_num(&req, "ms"))).await;
            full(StatusCode::OK, "slow")
        }
        "/hop" => Response::builder()
            .header("connection", "x-hop-secret, close")
            .header("x-hop-secret", "1")
            .header("keep-alive", "timeout=5")
            .header("x-end-to-end", "kept")
            .body(Full::new(Bytes::from_static(b"hop")).boxed())
            .unwrap(),
        "/cart-form" => Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(CART_FORM.as_bytes())).boxed())
            .unwrap(),
        p if p.starts_with("/orders/") => Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(
                Full::new(Bytes::from(format!(
                    "<!doctype html><h1>Order {} confirmed</h1>",
                    &p[8..]
                )))
                .boxed(),
            )
            .unwrap(),
        "/cached" => Response::builder()
            .header("cache-control", "public, max-age=60")
            .body(Full::new(Bytes::from_static(b"cached")).boxed())
            .unwrap(),
        "/status" => full(
            StatusCode::from_u16(query_num(&req, "code") as u16).unwrap_or(StatusCode::OK),
            "status",
        ),
        "/ws" => websocket(&mut req),
        // Registered-number mode: the signed-in customer's phone, by the
        // shop's own session cookie.
        "/internal/phone" => {
            let cookie = seen.header("cookie").unwrap_or("");
            if cookie.split("; ").any(|c| c == "shop_session=alice") {
                full(StatusCode::OK, r#"{"phone":"+919812345678"}"#)
            } else {
                full(StatusCode::UNAUTHORIZED, r#"{"error":"not signed in"}"#)
            }
        }
        _ => {
            let body = serde_json::json!({ "method": seen.method, "target": seen.target, "headers": seen.headers });
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())).boxed())
                .unwrap()
        }
    }
}

const CART_FORM: &str = r#"<!doctype html><html><head><meta name="viewport" content="width=device-width,initial-scale=1"><title>Cart</title></head>
<body><h1>Your cart</h1><form method="post" action="/checkout/place-order">
<label for="qty">Quantity</label><input id="qty" name="qty" value="1">
<input type="hidden" name="sku" value="A-1"><input type="hidden" name="shop_csrf" value="t0k3n">
<button id="place" type="submit" style="min-width:200px;min-height:48px">Place order</button></form></body></html>"#;

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn websocket(req: &mut Request<Incoming>) -> Response<Body> {
    let key = req.headers().get("sec-websocket-key").cloned().unwrap();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let io = TokioIo::new(upgrade.await.unwrap());
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            io,
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.unwrap();
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(Full::new(Bytes::new()).boxed())
        .unwrap()
}
