//! Listeners: the public TLS port (HTTP/1.1 and HTTP/2 by ALPN), the
//! optional plain-HTTP redirect, and the admin port. Connections are
//! capped in total (`max_connections`) and per client (`per_ip.rs`); each
//! one's phases are bounded in `connection.rs`. Shutdown lets in-flight
//! requests finish within `server.shutdown_grace`, and not a moment more.

mod connection;
mod idle;
pub mod live;
mod per_ip;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StoreConfig};
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::ratelog::LogLimit;
use crate::store::{MemoryStore, RedisStore, Store};
use connection::Connection;
use live::{Kept, Live, ReloadError, Reloaded};
use per_ip::{IpSlot, PerIp};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    Upstream(#[from] crate::upstream::UpstreamSetupError),
    /// Redis could not be reached: startup fails rather than serving a
    /// gateway that refuses every sign-in.
    #[error("{key}: {source}")]
    Store {
        key: &'static str,
        source: crate::store::StoreError,
    },
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        key: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A gateway that is serving; dropped or shut down, it stops.
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub redirect_addr: Option<SocketAddr>,
    /// The configuration in force; [`RunningGateway::reload`] swaps it.
    pub live: Arc<Live>,
    shutdown: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl RunningGateway {
    /// The gateway new requests get now.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.live.gateway()
    }

    /// Puts a validated configuration in force for new requests and TLS
    /// handshakes; open connections and requests in flight keep theirs.
    /// On an error nothing changes.
    pub fn reload(&self, cfg: Config) -> Result<Reloaded, ReloadError> {
        self.live.reload(cfg)
    }

    /// [`RunningGateway::reload`] from a file, logged (what `SIGHUP` does).
    pub fn reload_file(&self, path: &std::path::Path) -> Result<Reloaded, ReloadError> {
        self.live.reload_file(path)
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace
    /// period) and returns when every connection is closed.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.done.await;
    }
}

async fn bind(key: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { key, addr, source })
}

/// Builds everything from a validated config, binds the listeners and
/// starts serving. The clock is injectable for tests.
pub async fn start(
    cfg: Config,
    clock: Option<Arc<dyn Clock>>,
) -> Result<RunningGateway, StartError> {
    let certs =
        crate::tls::CertResolver::new(crate::tls::certified_key(&cfg.tls.cert, &cfg.tls.key)?);
    let clock: Arc<dyn Clock> = clock.unwrap_or_else(|| Arc::new(SystemClock));
    let tickets = crate::tls::ticketer(
        cfg.tls
            .tickets
            .as_ref()
            .map(|t| (&t.secret, t.rotation, clock.clone())),
    )?;
    let tls = crate::tls::server_config_with(certs.clone(), tickets)?;
    let metrics = Arc::new(Metrics::new());
    let store: Arc<dyn Store> = match &cfg.store {
        StoreConfig::Memory => {
            let memory = MemoryStore::new();
            crate::store::spawn_sweeper(memory.clone(), clock.clone());
            memory
        }
        // Redis TTLs collect expired entries; no sweeper.
        StoreConfig::Redis { target } => Arc::new(
            RedisStore::open(target, metrics.store.clone())
                .await
                .map_err(|source| StartError::Store {
                    key: if target.is_cluster() {
                        "store.redis_cluster_urls"
                    } else {
                        "store.redis_url"
                    },
                    source,
                })?,
        ),
    };
    // Delivery times on the gateway's clock; the p95 window's length is
    // read once, at start.
    let sms_metrics = Arc::new(crate::sms::SmsMetrics::with_delivery(Arc::new(
        crate::sms::measure::DeliveryStats::new(clock.clone(), cfg.sms.skip_slow),
    )));
    metrics.register(|r| sms_metrics.register(r));
    let public = bind("server.listen", cfg.server.listen).await?;
    let redirect = match cfg.server.redirect_http {
        Some(a) => Some(bind("server.redirect_http", a).await?),
        None => None,
    };
    let admin = match cfg.admin.listen {
        Some(a) => Some(bind("admin.listen", a).await?),
        None => None,
    };
    let epoch = Arc::new(crate::store::EpochWatch::new(
        metrics.store_epoch_changes.clone(),
    ));
    let kept = Kept {
        store,
        clock,
        metrics,
        sms_metrics,
        epoch,
    };
    let live = Live::new(cfg, kept, certs)?;
    let gw = live.gateway();
    // The first look at the store's epoch (written if the store is new or
    // emptied); later looks compare against it.
    if let Err(e) = gw.check_store_epoch().await {
        tracing::warn!(error = %e, "cannot read the store's epoch yet");
    }
    drop(gw);
    let addr = public.local_addr().expect("bound socket has an address");
    let (tx, rx) = watch::channel(false);
    live::spawn_epoch_check(live.clone(), rx.clone());
    let redirect_addr = redirect.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(l) = redirect {
        tokio::spawn(crate::admin::serve_redirect(
            l,
            live.clone(),
            addr.port(),
            rx.clone(),
        ));
    }
    let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(l) = admin {
        tokio::spawn(crate::admin::serve_admin(l, live.clone(), rx.clone()));
    }
    let done = tokio::spawn(accept_loop(
        public,
        live.clone(),
        TlsAcceptor::from(tls),
        rx,
    ));
    let admin = admin_addr.map_or_else(|| "off".to_string(), |a| a.to_string());
    tracing::info!(%addr, %admin, "otpgate listening");
    Ok(RunningGateway {
        addr,
        admin_addr,
        redirect_addr,
        live,
        shutdown: tx,
        done,
    })
}

/// A connection handed from the acceptor to a worker.
struct Accepted {
    tcp: std::net::TcpStream,
    peer: SocketAddr,
    /// Returned when the connection ends; shutdown waits for all of them.
    slot: OwnedSemaphorePermit,
    /// `None` for trusted proxies, which are not counted per IP.
    ip_slot: Option<IpSlot>,
}

/// One worker per core, each a single-threaded runtime: a client
/// connection, its requests and the pooled upstream connections they use
/// all live on one thread, so forwarding a request never wakes another
/// thread (nginx's worker model). Profiling the multi-threaded runtime put
/// ~15% of proxy CPU in cross-thread wake-ups and context switches.
fn spawn_worker(
    index: usize,
    live: Arc<Live>,
    acceptor: TlsAcceptor,
    mut incoming: mpsc::UnboundedReceiver<Accepted>,
    stop: watch::Receiver<bool>,
    mut hard_stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // Workers log through the subscriber of the thread that started them
    // (the global one in production, a test's scoped one in tests).
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    std::thread::Builder::new()
        .name(format!("otpgate-worker-{index}"))
        .spawn(move || {
            let _logs = tracing::dispatcher::set_default(&dispatch);
            crate::upstream::set_worker(index);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("worker runtime");
            rt.block_on(async move {
                let mut conns = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        next = incoming.recv() => {
                            let Some(a) = next else { break };
                            let Ok(tcp) = TcpStream::from_std(a.tcp) else { continue };
                            // The connection's protocol settings come from
                            // the configuration in force when it arrived.
                            let builder = connection::builder(&live.gateway().cfg);
                            let conn = Connection { live: live.clone(), acceptor: acceptor.clone(), builder, stop: stop.clone() };
                            conns.spawn(async move {
                                conn.serve(tcp, a.peer).await;
                                drop(a.ip_slot);
                                drop(a.slot);
                            });
                        }
                        Some(_) = conns.join_next(), if !conns.is_empty() => {}
                    }
                }
                // The acceptor is gone: finish what is in flight, unless the
                // grace period ends first.
                tokio::select! {
                    _ = async { while conns.join_next().await.is_some() {} } => {}
                    _ = hard_stop.wait_for(|stop| *stop) => {}
                }
            });
        })
}

async fn accept_loop(
    listener: TcpListener,
    live: Arc<Live>,
    acceptor: TlsAcceptor,
    mut shutdown: watch::Receiver<bool>,
) {
    // Sized once: restart-only keys (reload.rs).
    let gw = live.gateway();
    let max = gw.cfg.server.max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let per_ip = PerIp::new(gw.cfg.server.max_connections_per_ip);
    let (hard_stop, hard_stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    let workers_n = gw.workers();
    drop(gw);
    for index in 0..workers_n {
        let (tx, rx) = mpsc::unbounded_channel();
        match spawn_worker(
            index,
            live.clone(),
            acceptor.clone(),
            rx,
            shutdown.clone(),
            hard_stop_rx.clone(),
        ) {
            Ok(_) => workers.push(tx),
            Err(e) => tracing::error!(error = %e, "cannot start a worker thread"),
        }
    }
    let mut next = 0usize;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let gw = live.gateway();
                let Some(ip_slot) = ip_slot(&gw, &per_ip, peer) else {
                    continue;
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    gw.metrics.connections_refused.inc();
                    continue;
                };
                let Ok(tcp) = tcp.into_std() else { continue };
                next = next.wrapping_add(1);
                let accepted = Accepted { tcp, peer, slot, ip_slot };
                if let Some(w) = workers.get(next % workers.len().max(1)) {
                    let _ = w.send(accepted);
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let grace = live.gateway().cfg.server.shutdown_grace;
    tracing::info!(?grace, "shutting down: finishing in-flight requests");
    drop(workers);
    // Every connection holds a slot until it ends: all of them back means
    // all connections are closed.
    let all_closed = slots.acquire_many(max as u32);
    tokio::select! {
        _ = all_closed => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; dropping remaining connections");
            let _ = hard_stop.send(true);
        }
    }
}

static REFUSED_PER_IP: LogLimit = LogLimit::per_second();

/// The per-IP slot for a new connection: `Some(None)` for a trusted proxy
/// (not counted), `None` when this client is at its cap.
fn ip_slot(gw: &Gateway, per_ip: &Arc<PerIp>, peer: SocketAddr) -> Option<Option<IpSlot>> {
    if gw.trusted().contains(peer.ip()) {
        return Some(None);
    }
    match per_ip.try_acquire(peer.ip()) {
        Some(slot) => Some(Some(slot)),
        None => {
            gw.metrics.connections_refused.inc();
            if let Some(suppressed) = REFUSED_PER_IP.check() {
                tracing::warn!(
                    client = %per_ip::client_key(peer.ip()),
                    suppressed,
                    "connection refused: server.max_connections_per_ip reached"
                );
            }
            None
        }
    }
}

/// Runs until SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
