//! Plain-HTTP listeners that are not the storefront: the admin port
//! (`/metrics`, `/healthz`, `/readyz`, and the token-guarded admin API
//! `/api/*` in admin/api.rs; loopback by default, never the public port)
//! and the optional redirect to https.

mod api;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::body::Body;
use crate::gateway::Gateway;
use crate::server::live::Live;

async fn serve_plain<F, Fut>(listener: TcpListener, mut shutdown: watch::Receiver<bool>, handler: F)
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send,
{
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                let h = handler.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let h = h.clone();
                        async move { Ok::<_, Infallible>(h(req, peer).await) }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(std::time::Duration::from_secs(10))
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Why this instance should not get traffic, if it should not. Polling it
/// also checks the store's epoch, so a load balancer's probe notices a
/// store that lost its data (see `store/epoch.rs`).
async fn readiness(gw: &Gateway) -> Result<(), &'static str> {
    if !gw.store.healthy().await {
        return Err("store unavailable");
    }
    if gw.check_store_epoch().await.is_err() {
        return Err("store unavailable (epoch)");
    }
    if !crate::audit::probe() {
        return Err("audit trail not writable (the last audit write failed)");
    }
    Ok(())
}

pub async fn serve_admin(listener: TcpListener, live: Arc<Live>, shutdown: watch::Receiver<bool>) {
    let stopping = shutdown.clone();
    serve_plain(
        listener,
        shutdown,
        move |req: Request<Incoming>, peer: SocketAddr| {
            let gw = live.gateway();
            let stopping = stopping.clone();
            async move {
                if req.uri().path().starts_with("/api/") {
                    return api::handle(&gw, req, peer.ip()).await;
                }
                let (status, ctype, body) = match req.uri().path() {
                    "/metrics" => (
                        StatusCode::OK,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        gw.metrics.render(),
                    ),
                    "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
                    "/readyz" if *stopping.borrow() => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "shutting down\n".to_string(),
                    ),
                    "/readyz" => match readiness(&gw).await {
                        Ok(()) => (StatusCode::OK, "text/plain", "ready\n".to_string()),
                        Err(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "text/plain",
                            format!("{reason}\n"),
                        ),
                    },
                    _ => (
                        StatusCode::NOT_FOUND,
                        "text/plain",
                        "not found\n".to_string(),
                    ),
                };
                Response::builder()
                    .status(status)
                    .header(CONTENT_TYPE, ctype)
                    .body(Body::full(body))
                    .expect("valid response")
            }
        },
    )
    .await
}

/// `308` to the same path on https. The host is `server.public_host` when
/// set; otherwise the client's own `Host` (it can only redirect itself).
pub async fn serve_redirect(
    listener: TcpListener,
    live: Arc<Live>,
    https_port: u16,
    shutdown: watch::Receiver<bool>,
) {
    serve_plain(listener, shutdown, move |req: Request<Incoming>, _| {
        let gw = live.gateway();
        async move {
            let host = gw.cfg.server.public_host.clone().or_else(|| {
                let h = req.headers().get(HOST)?.to_str().ok()?;
                let name = h.rsplit_once(':').map_or(h, |(n, _)| n);
                let port = if https_port == 443 {
                    String::new()
                } else {
                    format!(":{https_port}")
                };
                Some(format!("{name}{port}"))
            });
            let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
            match host.filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            }) {
                Some(h) => Response::builder()
                    .status(StatusCode::PERMANENT_REDIRECT)
                    .header(LOCATION, format!("https://{h}{pq}"))
                    .body(Body::empty())
                    .expect("valid response"),
                None => Response::builder()
                    .status(StatusCode::BAD_REQUEST)
                    .body(Body::full("missing Host\n"))
                    .expect("valid response"),
            }
        }
    })
    .await
}
