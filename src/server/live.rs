//! The running configuration, swappable while serving. Each request takes
//! one snapshot of the [`Gateway`] when it starts (one atomic load) and
//! keeps it to the end, so a reload never changes the rules halfway
//! through a request; the next request, on the same keep-alive connection
//! or a new one, sees the new rules. The TLS certificate is swapped in the
//! resolver (tls.rs): new handshakes get the new one.
//!
//! What is not configuration survives a reload untouched: the store (and
//! the memory store's contents), the clock, the metrics and the store
//! epoch this instance knows.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::gateway::{Gateway, Parts};
use crate::metrics::Metrics;
use crate::sms::SmsMetrics;
use crate::store::{EpochWatch, Store};
use crate::tls::{CertResolver, TlsError};

/// What outlives every configuration.
#[derive(Clone)]
pub struct Kept {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub sms_metrics: Arc<SmsMetrics>,
    pub epoch: Arc<EpochWatch>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Upstream(#[from] crate::upstream::UpstreamSetupError),
}

/// A reload that took effect.
#[derive(Debug)]
pub struct Reloaded {
    /// Keys whose new value needs a restart; their old value stays.
    pub restart_needed: Vec<&'static str>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

pub struct Live {
    /// The snapshot new requests take.
    current: ArcSwap<Gateway>,
    kept: Kept,
    certs: Arc<CertResolver>,
    /// One reload at a time: two quick SIGHUPs must not interleave their
    /// certificate and gateway swaps.
    reloading: Mutex<()>,
    reloads: Family<ResultLabel, Counter>,
    last_success: Gauge,
}

impl Live {
    pub fn new(
        cfg: Config,
        kept: Kept,
        certs: Arc<CertResolver>,
    ) -> Result<Arc<Live>, crate::upstream::UpstreamSetupError> {
        let gw = build(cfg, &kept)?;
        let reloads = Family::<ResultLabel, Counter>::default();
        for result in ["ok", "error"] {
            let _ = reloads.get_or_create(&ResultLabel { result });
        }
        // Like Prometheus' own: the start counts as the first success.
        let last_success = Gauge::default();
        last_success.set(kept.clock.now_secs() as i64);
        kept.metrics.register(|r| {
            r.register(
                "otpgate_config_reloads",
                "Configuration reloads (SIGHUP) by result",
                reloads.clone(),
            );
            r.register(
                "otpgate_config_last_reload_success_timestamp_seconds",
                "When the configuration in force was loaded (start or reload)",
                last_success.clone(),
            );
        });
        Ok(Arc::new(Live {
            current: ArcSwap::from_pointee(gw),
            kept,
            certs,
            reloading: Mutex::new(()),
            reloads,
            last_success,
        }))
    }

    /// The configuration in force now. Take it once per request.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// Swaps in `next` for new requests and handshakes, or changes nothing
    /// when any part of it cannot be built.
    pub fn reload(&self, mut next: Config) -> Result<Reloaded, ReloadError> {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let result = (|| {
            let running = self.current.load();
            let restart_needed = crate::reload::keep_restart_only(&running.cfg, &mut next);
            // Read the files again even when the paths did not change: a
            // renewed certificate is the usual reason for a reload.
            let cert = crate::tls::certified_key(&next.tls.cert, &next.tls.key)?;
            let warnings = next.warnings.clone();
            let gw = build(next, &self.kept)?;
            self.certs.replace(cert);
            self.current.store(Arc::new(gw));
            Ok(Reloaded {
                restart_needed,
                warnings,
            })
        })();
        self.count(result.is_ok());
        result
    }

    fn count(&self, ok: bool) {
        let label = ResultLabel {
            result: if ok { "ok" } else { "error" },
        };
        self.reloads.get_or_create(&label).inc();
        if ok {
            self.last_success.set(self.kept.clock.now_secs() as i64);
        }
    }

    /// Reads `path`, validates it as `check-config` does and reloads; logs
    /// the outcome (every problem of an invalid file, every key that needs
    /// a restart). Never panics, never stops the process.
    pub fn reload_file(&self, path: &Path) -> Result<Reloaded, ReloadError> {
        let result = match Config::load(path) {
            Ok(cfg) => self.reload(cfg),
            Err(e) => {
                self.count(false);
                Err(e.into())
            }
        };
        match &result {
            Ok(done) => {
                for w in &done.warnings {
                    tracing::warn!("{w}");
                }
                if !done.restart_needed.is_empty() {
                    tracing::warn!(
                        keys = %done.restart_needed.join(", "),
                        "configuration reloaded, but these keys need a restart and keep their running value"
                    );
                }
                tracing::info!(config = %path.display(), "configuration reloaded");
            }
            Err(ReloadError::Config(e)) => {
                for p in &e.problems {
                    tracing::error!(config = %e.source_name, "reload refused: {p}");
                }
                tracing::error!(
                    config = %path.display(),
                    problems = e.problems.len(),
                    "configuration not reloaded: the running configuration stays"
                );
            }
            Err(e) => tracing::error!(
                config = %path.display(),
                "configuration not reloaded ({e}): the running configuration stays"
            ),
        }
        result
    }
}

fn build(cfg: Config, kept: &Kept) -> Result<Gateway, crate::upstream::UpstreamSetupError> {
    let sms = Arc::new(crate::sms::build_with_metrics(
        &cfg.sms,
        kept.sms_metrics.clone(),
    ));
    let channels = Arc::new(crate::sms::ChannelSet::build(
        &cfg.channels,
        kept.sms_metrics.clone(),
    ));
    Gateway::new(
        cfg,
        Parts {
            store: kept.store.clone(),
            clock: kept.clock.clone(),
            sms,
            channels,
            metrics: kept.metrics.clone(),
            epoch: kept.epoch.clone(),
        },
    )
}

/// Looks at the store's epoch (and sweeps expired sends, flow/measure.rs)
/// every [`crate::sessions::EPOCH_CHECK_EVERY`]
/// through the configuration in force, until shutdown.
pub fn spawn_epoch_check(
    live: Arc<Live>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::sessions::EPOCH_CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // Failures are already visible in `/readyz`, the store
                    // metrics and the requests that need the store.
                    let gateway = live.gateway();
                    let _ = gateway.check_store_epoch().await;
                    // On the same tick: expired sends (flow/measure.rs).
                    gateway.sweep_deliveries().await;
                }
                _ = shutdown.changed() => return,
            }
        }
    })
}
