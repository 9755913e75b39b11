//! The configuration file exactly as written: every field optional, every
//! value in the type TOML gives it. Meaning (defaults, ranges, cross-checks)
//! is given in `validate.rs`; unknown keys are found in `schema.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub tls: RawTls,
    #[serde(default)]
    pub upstream: RawUpstream,
    #[serde(default)]
    pub route: Vec<RawRoute>,
    #[serde(default)]
    pub brand: RawBrand,
    #[serde(default)]
    pub otp: RawOtp,
    #[serde(default)]
    pub phone: RawPhone,
    #[serde(default)]
    pub session: RawSession,
    #[serde(default)]
    pub sms: toml::Table,
    #[serde(default)]
    pub channels: toml::Table,
    #[serde(default)]
    pub whatsapp: toml::Table,
    #[serde(default)]
    pub voice: toml::Table,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub fingerprint: RawFingerprint,
    #[serde(default)]
    pub hold: RawHold,
    #[serde(default)]
    pub pow: RawPow,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: Option<String>,
    pub redirect_http: Option<String>,
    pub public_host: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub max_connections: Option<i64>,
    pub workers: Option<i64>,
    pub handshake_timeout: Option<String>,
    pub header_timeout: Option<String>,
    pub max_header_bytes: Option<i64>,
    pub shutdown_grace: Option<String>,
    pub idle_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub body_min_rate: Option<i64>,
    pub http2_keepalive_interval: Option<String>,
    pub http2_keepalive_timeout: Option<String>,
    pub max_connections_per_ip: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTls {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub ticket_key_file: Option<String>,
    pub ticket_rotation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawUpstream {
    pub url: Option<String>,
    pub connect_timeout: Option<String>,
    pub response_timeout: Option<String>,
    pub preserve_host: Option<bool>,
    pub ca_file: Option<String>,
    pub pool_idle_timeout: Option<String>,
    pub pool_max_idle: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRoute {
    pub path: Option<String>,
    pub require: Option<String>,
    pub max_age: Option<String>,
    pub methods: Option<Vec<String>>,
    pub confirm: Option<String>,
    pub amount_field: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawBrand {
    pub name: Option<String>,
    pub color: Option<String>,
    pub logo_url: Option<String>,
    pub languages: Option<Vec<String>>,
    pub templates_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawOtp {
    pub length: Option<i64>,
    pub ttl: Option<String>,
    pub max_attempts: Option<i64>,
    pub resend_after: Option<String>,
    pub message: Option<String>,
    /// Per language tag, e.g. `hi = "…"`.
    pub messages: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPhone {
    pub default_region: Option<String>,
    pub allowed_regions: Option<Vec<String>>,
    pub lookup_url: Option<String>,
    pub blocked_prefixes: Option<Vec<String>>,
}

/// `secret` is a string or a list of strings (rotation).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSession {
    pub secret: Option<OneOrMany>,
    pub secret_file: Option<String>,
    pub ttl: Option<String>,
    pub cookie_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStore {
    pub backend: Option<String>,
    pub redis_url: Option<String>,
    pub redis_cluster_urls: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawAdmin {
    pub listen: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
}

/// One `window`-long counter: at most `max` events per key per window.
#[derive(Debug, Deserialize, Clone)]
pub struct RawLimit {
    pub max: Option<i64>,
    pub window: Option<String>,
    /// `"enforce"` (default) or `"shadow"` (fraud.rs).
    pub mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLimits {
    #[serde(flatten)]
    pub by_name: BTreeMap<String, RawLimit>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
    pub audit_file: Option<String>,
    pub audit_required: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFingerprint {
    pub forward: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawHold {
    pub enabled: Option<bool>,
    /// A string (`"64KiB"`) or a number of bytes: read in validate/hold.rs.
    pub max_body: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPow {
    pub enabled: Option<bool>,
    pub mode: Option<String>,
    pub base_difficulty: Option<i64>,
    pub max_difficulty: Option<i64>,
    pub step: Option<i64>,
    pub threshold: Option<i64>,
    pub ttl: Option<String>,
    pub window: Option<String>,
    pub fingerprint_sends: Option<i64>,
    pub ip_sends: Option<i64>,
    pub low_conversion: Option<f64>,
    pub min_prefix_sends: Option<i64>,
}
