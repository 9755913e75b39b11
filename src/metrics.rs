//! Prometheus metrics, served on the admin listener only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// What kind of request, for `otpgate_requests_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// Forwarded, no rule required a session.
    Pass,
    /// Forwarded with a valid session.
    Protected,
    /// Stopped: no or stale session.
    Challenged,
    /// otpgate's own endpoint.
    Own,
    /// Refused before deciding (bad path, bad target).
    Refused,
}

const KINDS: [&str; 5] = ["pass", "protected", "challenged", "own", "refused"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    kind: &'static str,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderCountry {
    pub provider: String,
    pub country: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CountryLabel {
    pub country: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// One fraud rule's decision (fraud.rs).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FraudLabel {
    pub rule: &'static str,
    pub mode: &'static str,
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: &'static str,
}

fn store_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Store calls by operation: `otpgate_store_errors_total{op}` and
/// `otpgate_store_duration_seconds{op}`. Cloning shares the series.
#[derive(Clone)]
pub struct StoreMetrics {
    pub errors: Family<OpLabel, Counter>,
    pub seconds: Family<OpLabel, Histogram, fn() -> Histogram>,
    /// `otpgate_store_session_cache_synced`: 1 while the Redis store's
    /// revocation cache is in step (session checks answered without a
    /// round trip), 0 while every check asks Redis.
    pub session_cache_synced: Gauge,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            errors: Family::default(),
            seconds: Family::new_with_constructor(store_histogram),
            session_cache_synced: Gauge::default(),
        }
    }
}

impl StoreMetrics {
    pub fn observe(&self, op: &'static str, took: Duration, ok: bool) {
        let label = OpLabel { op };
        self.seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        if !ok {
            self.errors.get_or_create(&label).inc();
        }
    }
}

pub struct Metrics {
    registry: Mutex<Registry>,
    /// Pre-resolved so the hot path touches one atomic, no map or lock.
    requests: [[Counter; 5]; 5],
    pub upstream_seconds: Histogram,
    pub open_connections: Gauge,
    pub tls_handshake_failures: Counter,
    pub connections_refused: Counter,
    pub otp_sent: Family<ProviderCountry, Counter>,
    pub otp_verified: Family<CountryLabel, Counter>,
    pub otp_failed: Family<ReasonLabel, Counter>,
    pub rate_limited: Family<LimitLabel, Counter>,
    /// `otpgate_fraud_decisions_total{rule, mode, decision}` (fraud.rs).
    pub fraud_decisions: Family<FraudLabel, Counter>,
    pub sessions_issued: Counter,
    pub prefix_blocked: Gauge,
    pub prefix_blocks: Counter,
    pub conversion: Family<CountryLabel, Gauge<f64, AtomicU64>>,
    pub send_seconds: Histogram,
    pub store: StoreMetrics,
    pub store_epoch_changes: Counter,
    /// Held requests by outcome: held, replayed, expired, refused.
    pub held_requests: Family<OutcomeLabel, Counter>,
    /// Prefix -> unix ms its block ends, as this instance set it: feeds the
    /// `prefix_blocked` gauge (the block itself lives in the store).
    blocked: Mutex<HashMap<String, u64>>,
    /// Moving average of successful sends (µs), so that refusals can be
    /// made to take as long as a real send (enumeration by timing).
    typical_send_us: AtomicU64,
}

impl Metrics {
    /// Counts one held request's `outcome`.
    pub fn held(&self, outcome: &'static str) {
        self.held_requests
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests_family = Family::<RequestLabels, Counter>::default();
        let requests = std::array::from_fn(|k| {
            std::array::from_fn(|c| {
                requests_family
                    .get_or_create(&RequestLabels {
                        kind: KINDS[k],
                        class: CLASSES[c],
                    })
                    .clone()
            })
        });
        registry.register(
            "otpgate_requests",
            "Requests by route kind and status class",
            requests_family,
        );
        let upstream_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "otpgate_upstream_duration_seconds",
            "Time to the upstream's response head",
            upstream_seconds.clone(),
        );
        let m = Metrics {
            requests,
            upstream_seconds,
            open_connections: Gauge::default(),
            tls_handshake_failures: Counter::default(),
            connections_refused: Counter::default(),
            otp_sent: Family::default(),
            otp_verified: Family::default(),
            otp_failed: Family::default(),
            rate_limited: Family::default(),
            fraud_decisions: Family::default(),
            sessions_issued: Counter::default(),
            prefix_blocked: Gauge::default(),
            prefix_blocks: Counter::default(),
            conversion: Family::default(),
            send_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            store: StoreMetrics::default(),
            store_epoch_changes: Counter::default(),
            held_requests: Family::default(),
            blocked: Mutex::new(HashMap::new()),
            typical_send_us: AtomicU64::new(0),
            registry: Mutex::new(Registry::default()),
        };
        registry.register(
            "otpgate_open_connections",
            "Open client connections",
            m.open_connections.clone(),
        );
        registry.register(
            "otpgate_tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            m.tls_handshake_failures.clone(),
        );
        registry.register(
            "otpgate_connections_refused",
            "Connections refused over server.max_connections",
            m.connections_refused.clone(),
        );
        registry.register("otpgate_otp_sent", "Codes sent by SMS", m.otp_sent.clone());
        registry.register(
            "otpgate_held_requests",
            "Held requests by outcome (held, replayed, expired, refused)",
            m.held_requests.clone(),
        );
        registry.register(
            "otpgate_otp_verified",
            "Codes verified",
            m.otp_verified.clone(),
        );
        registry.register(
            "otpgate_otp_failed",
            "Failed verifications by reason",
            m.otp_failed.clone(),
        );
        registry.register(
            "otpgate_rate_limited",
            "Requests refused by a limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "otpgate_fraud_decisions",
            "Decisions of the fraud rules (limits, pumping, fingerprints) by rule, mode and decision (allow, block, would_block)",
            m.fraud_decisions.clone(),
        );
        registry.register(
            "otpgate_sessions_issued",
            "Session cookies issued",
            m.sessions_issued.clone(),
        );
        registry.register(
            "otpgate_prefix_blocked",
            "Number prefixes blocked by the pumping detector",
            m.prefix_blocked.clone(),
        );
        registry.register(
            "otpgate_prefix_blocks",
            "Prefixes blocked by the pumping detector",
            m.prefix_blocks.clone(),
        );
        registry.register(
            "otpgate_conversion_ratio",
            "Verified / sent per country over the detector window",
            m.conversion.clone(),
        );
        registry.register(
            "otpgate_send_duration_seconds",
            "Time the send step took, refusals included",
            m.send_seconds.clone(),
        );
        registry.register(
            "otpgate_store_errors",
            "Store calls that failed, by operation",
            m.store.errors.clone(),
        );
        registry.register(
            "otpgate_store_duration_seconds",
            "Store call latency, by operation (a retry included)",
            m.store.seconds.clone(),
        );
        registry.register(
            "otpgate_store_session_cache_synced",
            "1 while the Redis store answers session checks from its revocation cache, 0 while each asks Redis",
            m.store.session_cache_synced.clone(),
        );
        registry.register(
            "otpgate_store_epoch_changes",
            "Times this instance found the store had lost its data (epoch missing or changed)",
            m.store_epoch_changes.clone(),
        );
        registry.register(
            "otpgate_audit_write_failures",
            "Audit lines that could not be written",
            crate::audit::write_failures().clone(),
        );
        // The Prometheus "info" idiom: a constant 1 whose label says which
        // build is running, so dashboards can join on it across a rollout.
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("otpgate_build_info", "Which build is running", build_info);
        *m.registry.lock().expect("fresh mutex") = registry;
        m
    }

    pub fn request(&self, kind: RouteKind, status: u16) {
        let class = ((status / 100) as usize).clamp(1, 5) - 1;
        self.requests[kind as usize][class].inc();
    }

    /// Lets other parts (SMS providers) add their own metrics.
    pub fn register(&self, f: impl FnOnce(&mut Registry)) {
        f(&mut self.registry.lock().expect("metrics registry lock"));
    }

    pub fn rate_limited(&self, limit: &str) {
        self.rate_limited
            .get_or_create(&LimitLabel {
                limit: limit.to_string(),
            })
            .inc();
    }

    /// Records a prefix block and refreshes the gauge of live blocks.
    pub fn prefix_blocked(&self, prefix: &str, until_ms: u64, now_ms: u64) {
        self.prefix_blocks.inc();
        let mut blocked = self.blocked.lock().expect("blocked prefixes lock");
        blocked.insert(prefix.to_string(), until_ms);
        blocked.retain(|_, until| *until > now_ms);
        self.prefix_blocked.set(blocked.len() as i64);
    }

    /// Forgets this instance's block of `prefix` (lifted by the admin API),
    /// so a later store loss does not write it again.
    pub fn prefix_unblocked(&self, prefix: &str) {
        let mut blocked = self.blocked.lock().expect("blocked prefixes lock");
        blocked.remove(prefix);
        self.prefix_blocked.set(blocked.len() as i64);
    }

    /// When this instance's block of `prefix` ends, if it knows of one.
    pub fn prefix_blocked_until(&self, prefix: &str, now_ms: u64) -> Option<u64> {
        let mut blocked = self.blocked.lock().expect("blocked prefixes lock");
        blocked.retain(|_, until| *until > now_ms);
        self.prefix_blocked.set(blocked.len() as i64);
        blocked.get(prefix).copied()
    }

    /// The blocks this instance set that have not ended: written again
    /// after the store lost its data.
    pub fn live_blocks(&self, now_ms: u64) -> Vec<(String, u64)> {
        let mut blocked = self.blocked.lock().expect("blocked prefixes lock");
        blocked.retain(|_, until| *until > now_ms);
        blocked.iter().map(|(p, u)| (p.clone(), *u)).collect()
    }

    pub fn conversion(&self, country: &str, ratio: f64) {
        self.conversion
            .get_or_create(&CountryLabel {
                country: country.to_string(),
            })
            .set(ratio);
    }

    /// Folds a successful send's duration into the moving average (1/8
    /// weight: a few slow provider calls move it, one does not).
    pub fn observe_send(&self, took: Duration, sent: bool) {
        self.send_seconds.observe(took.as_secs_f64());
        if sent {
            let us = took.as_micros() as u64;
            let _ =
                self.typical_send_us
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                        Some(if old == 0 { us } else { old - old / 8 + us / 8 })
                    });
        }
    }

    /// Capped at 3 s: a provider's slow cold start must not make every
    /// refusal (and the attacker's connection) linger.
    pub fn typical_send(&self) -> Duration {
        Duration::from_micros(self.typical_send_us.load(Ordering::Relaxed))
            .min(Duration::from_secs(3))
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry lock");
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
