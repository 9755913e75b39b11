//! Configuration: read at start-up (and again on `SIGHUP`), validated
//! completely before any port is bound (or anything is swapped). `raw` is the file as written, `schema` knows every key,
//! `validate` turns the raw file into the typed [`Config`] below or into the
//! full list of problems, each with its key and line: unknown keys and wrong
//! types first (`typecheck`), then meaning. Relative paths are read from the
//! config file's folder (`paths`); the rules shared with `[sms]` (durations,
//! secrets and the one `*_file` rule, "did you mean") are `crate::validation`.

mod load;
pub mod paths;
mod raw;
mod schema;
mod typecheck;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use ipnet::IpNet;

pub use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub upstream: UpstreamConfig,
    pub routes: Vec<RouteRule>,
    pub brand: Brand,
    pub otp: OtpConfig,
    pub phone: PhoneConfig,
    pub session: SessionConfig,
    pub sms: crate::sms::SmsConfig,
    /// `[channels]`, `[whatsapp]`, `[voice]` (sms/channel.rs).
    pub channels: crate::sms::ChannelsConfig,
    pub store: StoreConfig,
    pub admin: AdminConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    pub fingerprint: crate::fingerprint::FingerprintConfig,
    pub hold: HoldConfig,
    pub pow: PowConfig,
    /// Non-fatal advice `check-config` prints (e.g. missing DLT fields).
    pub warnings: Vec<String>,
}

/// `[hold]`: a protected POST without a session is kept across the code
/// step and sent once after it (own/held.rs).
#[derive(Debug, Clone)]
pub struct HoldConfig {
    pub enabled: bool,
    /// The largest body kept, in bytes; a larger one gets 413.
    pub max_body: usize,
}

/// `[pow]`: a proof-of-work the shopper's browser computes before a
/// risky send (pow.rs; defaults and ranges in validate/pow.rs).
#[derive(Debug, Clone, PartialEq)]
pub struct PowConfig {
    pub enabled: bool,
    /// `"shadow"`: a send that would need the work is let through and
    /// counted (fraud.rs, rule `pow`).
    pub mode: crate::fraud::mode::Mode,
    /// Leading zero bits at the first risk level at or over `threshold`.
    pub base_difficulty: u8,
    /// Never more, however high the risk.
    pub max_difficulty: u8,
    /// Bits added per risk point above `threshold`.
    pub step: u8,
    /// Risk points from which a send needs a proof-of-work.
    pub threshold: u32,
    /// How long a challenge may be solved and used.
    pub ttl: Duration,
    /// The velocity counters' window.
    pub window: Duration,
    /// Send attempts per window from one TLS fingerprint (JA4) before it
    /// adds risk.
    pub fingerprint_sends: u64,
    /// Send attempts per window from one client IP before it adds risk.
    pub ip_sends: u64,
    /// A prefix converting below this (verified / sent, over
    /// `limits.pumping.window`) adds risk...
    pub low_conversion: f64,
    /// ...once it has at least this many sends to judge by.
    pub min_prefix_sends: u64,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub redirect_http: Option<SocketAddr>,
    pub public_host: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub max_connections: usize,
    /// Worker threads (default: one per CPU).
    pub workers: usize,
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub shutdown_grace: Duration,
    /// A connection with no request in progress is closed after this
    /// (HTTP/1.1 keep-alive and HTTP/2 alike); a new connection must start
    /// its first request within `header_timeout`.
    pub idle_timeout: Duration,
    /// How long a client may keep otpgate waiting for request-body bytes,
    /// plus one second per `body_min_rate` bytes it has sent (Apache
    /// mod_reqtimeout's `body=20,MinRate=500`).
    pub body_timeout: Duration,
    /// Bytes per second; 0 = `body_timeout` bounds the whole body.
    pub body_min_rate: u64,
    pub http2_keepalive_interval: Duration,
    pub http2_keepalive_timeout: Duration,
    /// Open connections per client address (IPv6: per /64); peers in
    /// `trusted_proxies` are exempt.
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `ticket_key_file` and `ticket_rotation`: session-ticket keys shared
    /// by every instance (tls/tickets.rs); `None`, random per process.
    pub tickets: Option<TicketKeys>,
}

/// The shared session-ticket secret and how long each derived key seals.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketKeys {
    pub secret: Secret,
    pub rotation: Duration,
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `http` or `https` origin; its path, if any, is ignored.
    pub url: Uri,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub preserve_host: bool,
    /// Extra CA (PEM) trusted for an `https` upstream with a private CA.
    pub ca_file: Option<PathBuf>,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Require {
    None,
    Otp,
}

#[derive(Debug, Clone)]
pub struct RouteRule {
    /// Normalized and lower-cased, as the request path is before matching.
    pub path: String,
    pub require: Require,
    pub max_age: Duration,
    /// Upper-cased; empty means every method.
    pub methods: Vec<String>,
    /// `confirm`: a session opens it, or every request needs its own code.
    pub confirm: Confirmation,
    /// `amount_field` (transaction routes only): the held body's field that
    /// names the amount the code confirms.
    pub amount_field: Option<String>,
    /// `currency`: ISO 4217, upper case (default `INR`).
    pub currency: String,
}

/// `[[route]] confirm` (SPEC "Checkout integrity").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// A fresh-enough session opens the route.
    Session,
    /// Never a session: each request is held and needs its own code, bound
    /// to it (PSD2 RTS art. 5, dynamic linking).
    Transaction,
}

impl RouteRule {
    pub fn is_transaction(&self) -> bool {
        self.confirm == Confirmation::Transaction
    }

    /// How strict the rule is, strictest first: a transaction route, then
    /// the shortest `max_age` (which of several rules a request could be
    /// judged by: policy.rs, forward auth).
    pub fn strictness(&self) -> (bool, Duration) {
        (!self.is_transaction(), self.max_age)
    }
}

#[derive(Debug, Clone)]
pub struct Brand {
    pub name: String,
    pub color: String,
    pub logo_url: Option<String>,
    /// Offered page languages; the first is the default.
    pub languages: Vec<String>,
    /// Overrides of the built-in templates and strings.
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct OtpConfig {
    pub length: u32,
    pub ttl: Duration,
    pub max_attempts: u32,
    pub resend_after: Duration,
    pub message: String,
    /// The SMS text per language tag; others use `message`.
    pub messages: std::collections::BTreeMap<String, String>,
    /// The send step never answers faster than this (enumeration timing);
    /// zero unless set. Refusals are also padded to a typical send.
    pub min_send_time: Duration,
}

impl OtpConfig {
    /// The SMS template for a page language (`[otp.messages]`, else
    /// `[otp] message`).
    pub fn message_in(&self, lang: &str) -> &str {
        self.messages.get(lang).unwrap_or(&self.message)
    }
}

impl Config {
    /// The SMS texts this configuration sends and what fills them, for the
    /// DLT pre-flight and `otpgate dlt-template`.
    pub fn sms_texts(&self) -> crate::sms::dlt::SmsTexts<'_> {
        use crate::sms::dlt::{SmsText, SmsTexts, Values};
        use phonenumber::country::Id;
        let own = &self.otp.messages;
        let fallback_languages = self
            .brand
            .languages
            .iter()
            .filter(|l| !own.contains_key(*l))
            .cloned()
            .collect();
        let amount_currency = self
            .routes
            .iter()
            .filter(|r| r.amount_field.is_some())
            .max_by_key(|r| crate::money::longest(&r.currency))
            .map(|r| r.currency.as_str());
        let messages = std::iter::once((
            "otp.message".to_string(),
            fallback_languages,
            &self.otp.message,
        ))
        .chain(
            own.iter()
                .map(|(lang, text)| (format!("otp.messages.{lang}"), vec![lang.clone()], text)),
        )
        .flat_map(|(key, languages, template)| {
            // A text with `{amount}` is sent in two forms: without the
            // amount lines (a sign-in) and with them (a transaction).
            let both = amount_currency.is_some() && template.contains("{amount}");
            let forms: &[bool] = if both { &[false, true] } else { &[false] };
            forms
                .iter()
                .map(|&with_amount| SmsText {
                    key: key.clone(),
                    languages: languages.clone(),
                    template,
                    with_amount,
                })
                .collect::<Vec<_>>()
        })
        .collect();
        SmsTexts {
            messages,
            values: Values {
                code_length: self.otp.length as usize,
                brand: &self.brand.name,
                ttl_minutes: self.otp.ttl.as_secs().div_ceil(60),
                host: self.server.public_host.as_deref(),
                amount_currency,
            },
            india: self.phone.default_region == Id::IN
                || self.phone.allowed_regions.contains(&Id::IN),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PhoneConfig {
    pub default_region: phonenumber::country::Id,
    pub allowed_regions: Vec<phonenumber::country::Id>,
    pub lookup_url: Option<Uri>,
    /// E.164 prefixes (with '+') that never get an SMS.
    pub blocked_prefixes: Vec<String>,
}

#[derive(Clone)]
pub struct SessionConfig {
    /// First seals new cookies; all open them.
    pub secrets: Vec<Secret>,
    pub ttl: Duration,
    pub cookie_name: String,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("ttl", &self.ttl)
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

/// `Debug` shows the Redis target redacted (its URLs may hold a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    /// One server, a master behind Sentinel, or a Cluster.
    Redis {
        target: crate::store::target::RedisTarget,
    },
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: Option<SocketAddr>,
    /// The bearer token of the admin API (`/api/*`); without one the API
    /// does not exist (404).
    pub token: Option<Secret>,
}

/// At most `max` events per key per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
    /// Shadow: counted and logged, never refused (fraud.rs).
    pub mode: crate::fraud::mode::Mode,
}

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub send_per_phone: Limit,
    pub send_per_ip: Limit,
    pub send_per_prefix: Limit,
    pub send_per_country: Limit,
    /// Per client TLS fingerprint (JA4); a client without one (behind a
    /// trusted proxy, whose own hello otpgate sees) is not counted.
    pub send_per_fingerprint: Limit,
    pub sms_per_hour: Limit,
    pub sms_per_day: Limit,
    /// The WhatsApp and voice budgets, like `sms_per_hour` (a call costs
    /// several texts, so its default is lower).
    pub whatsapp_per_hour: Limit,
    pub voice_per_hour: Limit,
    pub verify_fail_per_phone: Limit,
    pub verify_per_ip: Limit,
    pub pumping: PumpingConfig,
}

/// `[limits.pumping]`: a prefix that sends more than `min_sends` in
/// `window` while fewer than `min_conversion` of its codes are verified is
/// refused for `block_for` once `min_networks` client networks sent it
/// unverified codes; before that only the networks over `min_sends` are
/// refused, for the rest of `window` (defaults and sources in validate.rs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpingConfig {
    pub enabled: bool,
    pub window: Duration,
    pub min_sends: u64,
    pub min_conversion: f64,
    pub min_networks: u64,
    pub block_for: Duration,
    /// Of the prefix block and the network throttle.
    pub mode: crate::fraud::mode::Mode,
    /// Conversion per client fingerprint: a JA4 that sent more than
    /// `fingerprint_min_sends` in `window` with conversion under
    /// `min_conversion` is refused for `block_for` (pumping/fingerprint.rs).
    pub fingerprints: bool,
    pub fingerprint_min_sends: u64,
    pub fingerprint_mode: crate::fraud::mode::Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
    pub audit_file: Option<PathBuf>,
    /// Sign-ins fail closed (503) while the audit trail cannot be written.
    pub audit_required: bool,
}

/// One problem with the configuration, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Every problem found, in file order.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{}",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}
