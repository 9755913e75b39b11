//! Raw file -> typed [`Config`], collecting every problem before giving up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use http::Uri;
use ipnet::IpNet;
use serde::Deserialize;

use super::raw::{OneOrMany, RawConfig, RawLimit};
use super::schema::{unknown_keys, Locator};
use super::{
    AdminConfig, Brand, Config, Limit, LimitsConfig, LogConfig, LogFormat, OtpConfig, PhoneConfig,
    Problem, PumpingConfig, Require, RouteRule, Secret, ServerConfig, SessionConfig, StoreConfig,
    TlsConfig, UpstreamConfig,
};
use crate::normalize::normalize_path;

pub const DEFAULT_MESSAGE: &str =
    "{code} is your {brand} code. Valid {ttl_minutes} min. Never share it.\n\n@{host} #{code}";

/// Collects problems; `line` is filled in from the key's position.
struct Problems<'a> {
    locator: Locator<'a>,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, message: impl Into<String>) {
        self.list.push(Problem {
            key: key.to_string(),
            line: self.locator.line(key),
            message: message.into(),
        });
    }
}

pub fn validate(text: &str) -> Result<Config, Vec<Problem>> {
    let mut p = Problems {
        locator: Locator::new(text),
        list: Vec::new(),
    };
    // Pass 1: syntax and unknown keys (all of them, with suggestions).
    let doc = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.span().map(|s| p.locator.line_at(s.start));
            let message = e.message().trim().to_string();
            return Err(vec![Problem {
                key: "(syntax)".into(),
                line,
                message,
            }]);
        }
    };
    for unknown in unknown_keys(doc.as_table()) {
        let hint = match unknown.suggestion {
            Some(s) => format!("unknown key (did you mean `{s}`?)"),
            None => "unknown key".to_string(),
        };
        p.add(&unknown.path, hint);
    }
    // Pass 2: types.
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.span().map(|s| p.locator.line_at(s.start));
            p.list.push(Problem {
                key: "(type)".into(),
                line,
                message: e.message().trim().to_string(),
            });
            p.list.sort_by_key(|x| x.line);
            return Err(p.list);
        }
    };
    let abuse: RawAbuse = match toml::from_str(text) {
        Ok(a) => a,
        Err(e) => {
            let line = e.span().map(|s| p.locator.line_at(s.start));
            p.list.push(Problem {
                key: "(type)".into(),
                line,
                message: e.message().trim().to_string(),
            });
            return Err(p.list);
        }
    };
    // Pass 3: meaning.
    let config = build(raw, &abuse, &mut p);
    if p.list.is_empty() {
        config.ok_or_else(Vec::new)
    } else {
        p.list.sort_by_key(|x| x.line.unwrap_or(usize::MAX));
        Err(p.list)
    }
}

/// `"15m"`, `"2s"`, `"24h"`: any positive duration humantime reads.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if d.is_zero() => Err(format!("`{value}` must be a positive duration")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "`{value}` is not a duration ({e}); write e.g. \"2s\", \"15m\", \"24h\""
        )),
    }
}

fn duration(p: &mut Problems, key: &str, value: Option<&String>, default: &str) -> Duration {
    let text = value.map(String::as_str).unwrap_or(default);
    parse_duration(text).unwrap_or_else(|e| {
        p.add(key, e);
        Duration::from_secs(1)
    })
}

fn addr(p: &mut Problems, key: &str, value: &str) -> Option<SocketAddr> {
    match value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.add(
                key,
                format!("`{value}` is not an IP:port address (e.g. \"0.0.0.0:8443\")"),
            );
            None
        }
    }
}

fn int_in(p: &mut Problems, key: &str, value: Option<i64>, default: i64, lo: i64, hi: i64) -> i64 {
    let v = value.unwrap_or(default);
    if v < lo || v > hi {
        p.add(key, format!("{v} is out of range {lo}..={hi}"));
        default
    } else {
        v
    }
}

/// A secret written literally or as `"${ENV_VAR}"`. Never echoes the value.
fn secret(p: &mut Problems, key: &str, value: &str) -> Option<Secret> {
    let trimmed = value.trim();
    if let Some(var) = trimmed.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                p.add(key, format!("environment variable {var} is not set"));
                None
            }
        };
    }
    Some(Secret::new(value.to_string()))
}

fn secret_file(p: &mut Problems, key: &str, path: &str) -> Vec<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| Secret::new(l.to_string()))
            .collect(),
        Err(e) => {
            p.add(key, format!("cannot read {path}: {}", e.kind()));
            Vec::new()
        }
    }
}

fn build(raw: RawConfig, abuse: &RawAbuse, p: &mut Problems) -> Option<Config> {
    let server = {
        let s = &raw.server;
        let listen = addr(
            p,
            "server.listen",
            s.listen.as_deref().unwrap_or("0.0.0.0:8443"),
        );
        let redirect_http = s
            .redirect_http
            .as_deref()
            .and_then(|v| addr(p, "server.redirect_http", v));
        let mut trusted = Vec::new();
        for (i, v) in s.trusted_proxies.iter().flatten().enumerate() {
            let net =
                IpNet::from_str(v).or_else(|_| std::net::IpAddr::from_str(v).map(IpNet::from));
            match net {
                Ok(n) => trusted.push(n),
                Err(_) => p.add(
                    "server.trusted_proxies",
                    format!("entry {i} `{v}` is not an IP address or CIDR range"),
                ),
            }
        }
        let public_host = s.public_host.clone();
        if let Some(h) = &public_host {
            if h.is_empty() || h.contains(['/', ' ', '@', '#', '?']) {
                p.add("server.public_host", format!("`{h}` is not a host name"));
            }
        }
        ServerConfig {
            listen: listen.unwrap_or(([0, 0, 0, 0], 8443).into()),
            redirect_http,
            public_host,
            trusted_proxies: trusted,
            max_connections: int_in(
                p,
                "server.max_connections",
                s.max_connections,
                10_000,
                1,
                1_000_000,
            ) as usize,
            workers: match s.workers {
                None | Some(0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
                Some(n) => int_in(p, "server.workers", Some(n), 1, 1, 1024) as usize,
            },
            handshake_timeout: duration(
                p,
                "server.handshake_timeout",
                s.handshake_timeout.as_ref(),
                "10s",
            ),
            header_timeout: duration(p, "server.header_timeout", s.header_timeout.as_ref(), "10s"),
            max_header_bytes: int_in(
                p,
                "server.max_header_bytes",
                s.max_header_bytes,
                65_536,
                8_192,
                1 << 20,
            ) as usize,
            shutdown_grace: duration(p, "server.shutdown_grace", s.shutdown_grace.as_ref(), "30s"),
        }
    };

    let tls = TlsConfig {
        cert: PathBuf::from(raw.tls.cert.as_deref().unwrap_or("certs/cert.pem")),
        key: PathBuf::from(raw.tls.key.as_deref().unwrap_or("certs/key.pem")),
    };
    for (key, path) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
        if !path.exists() {
            p.add(
                key,
                format!(
                    "{} does not exist (create one with `otpgate gen-cert`)",
                    path.display()
                ),
            );
        }
    }

    let upstream = {
        let u = &raw.upstream;
        let url = match u.url.as_deref() {
            None => {
                p.add(
                    "upstream.url",
                    "missing: the storefront's address, e.g. \"http://127.0.0.1:3000\"",
                );
                None
            }
            Some(v) => match v.parse::<Uri>() {
                Ok(uri)
                    if matches!(uri.scheme_str(), Some("http" | "https"))
                        && uri.authority().is_some()
                        && uri.query().is_none() =>
                {
                    Some(uri)
                }
                _ => {
                    p.add(
                        "upstream.url",
                        format!("`{v}` must be an http:// or https:// URL with a host"),
                    );
                    None
                }
            },
        };
        let ca_file = u.ca_file.as_ref().map(PathBuf::from);
        if let Some(ca) = &ca_file {
            if !ca.exists() {
                p.add(
                    "upstream.ca_file",
                    format!("{} does not exist", ca.display()),
                );
            }
        }
        UpstreamConfig {
            url: url.unwrap_or_else(|| Uri::from_static("http://127.0.0.1:3000")),
            connect_timeout: duration(
                p,
                "upstream.connect_timeout",
                u.connect_timeout.as_ref(),
                "3s",
            ),
            response_timeout: duration(
                p,
                "upstream.response_timeout",
                u.response_timeout.as_ref(),
                "60s",
            ),
            preserve_host: u.preserve_host.unwrap_or(true),
            ca_file,
            pool_idle_timeout: duration(
                p,
                "upstream.pool_idle_timeout",
                u.pool_idle_timeout.as_ref(),
                "90s",
            ),
            pool_max_idle: int_in(
                p,
                "upstream.pool_max_idle",
                u.pool_max_idle,
                256,
                0,
                100_000,
            ) as usize,
        }
    };

    let session = {
        let s = &raw.session;
        let mut secrets = Vec::new();
        match &s.secret {
            Some(OneOrMany::One(v)) => secrets.extend(secret(p, "session.secret", v)),
            Some(OneOrMany::Many(vs)) => {
                for v in vs {
                    secrets.extend(secret(p, "session.secret", v));
                }
            }
            None => {}
        }
        if let Some(path) = &s.secret_file {
            secrets.extend(secret_file(p, "session.secret_file", path));
        }
        if secrets.is_empty() && !p.list.iter().any(|x| x.key.starts_with("session.secret")) {
            p.add(
                "session.secret",
                "missing: set it (or secret_file); `otpgate gen-secret` makes one",
            );
        }
        if secrets.iter().any(|s| s.expose().len() < 32) {
            p.add(
                "session.secret",
                "each secret must be at least 32 bytes (use `otpgate gen-secret`)",
            );
        }
        let cookie_name = s
            .cookie_name
            .clone()
            .unwrap_or_else(|| "__Host-otpgate".into());
        if cookie_name.is_empty()
            || !cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            p.add(
                "session.cookie_name",
                format!("`{cookie_name}` is not a valid cookie name (letters, digits, - and _)"),
            );
        }
        SessionConfig {
            secrets,
            ttl: duration(p, "session.ttl", s.ttl.as_ref(), "24h"),
            cookie_name,
        }
    };

    let mut routes: Vec<RouteRule> = Vec::new();
    for (i, r) in raw.route.iter().enumerate() {
        let key = |leaf: &str| format!("route[{i}].{leaf}");
        let Some(path) = r.path.as_deref() else {
            p.add(
                &key("path"),
                "missing: the path prefix this rule covers, e.g. \"/checkout\"",
            );
            continue;
        };
        let norm = match normalize_path(path) {
            Ok(n) => n.match_key().to_string(),
            Err(e) => {
                p.add(&key("path"), format!("`{path}` is not a usable path: {e}"));
                continue;
            }
        };
        if norm.starts_with("/.otpgate") {
            p.add(
                &key("path"),
                "/.otpgate/ is reserved for otpgate's own pages",
            );
        }
        let require = match r.require.as_deref().unwrap_or("otp") {
            "otp" => Require::Otp,
            "none" => Require::None,
            other => {
                p.add(
                    &key("require"),
                    format!("`{other}` must be \"otp\" or \"none\""),
                );
                Require::Otp
            }
        };
        let mut methods = Vec::new();
        for m in r.methods.iter().flatten() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                p.add(&key("methods"), format!("`{m}` is not an HTTP method"));
            } else {
                methods.push(m.to_ascii_uppercase());
            }
        }
        let rule = RouteRule {
            path: norm,
            require,
            max_age: duration(p, &key("max_age"), r.max_age.as_ref(), "15m"),
            methods,
        };
        if routes
            .iter()
            .any(|o| o.path == rule.path && o.methods == rule.methods)
        {
            p.add(
                &key("path"),
                format!(
                    "`{path}` is already covered by an earlier [[route]] with the same methods"
                ),
            );
        }
        if rule.max_age > session.ttl && rule.require == Require::Otp {
            p.add(
                &key("max_age"),
                "is longer than session.ttl: sessions expire first",
            );
        }
        routes.push(rule);
    }

    let brand = {
        let b = &raw.brand;
        let color = b.color.clone().unwrap_or_else(|| "#0f766e".into());
        let hex = color.strip_prefix('#').unwrap_or("");
        if !(matches!(hex.len(), 3 | 6) && hex.bytes().all(|c| c.is_ascii_hexdigit())) {
            p.add(
                "brand.color",
                format!("`{color}` must be a #rgb or #rrggbb colour"),
            );
        }
        if let Some(logo) = &b.logo_url {
            if !logo.starts_with('/')
                || logo.starts_with("//")
                || logo.contains(['"', '<', '>', '\\', ' '])
            {
                p.add("brand.logo_url", "must be a path on this site such as \"/static/logo.svg\" (pages allow no external assets)");
            }
        }
        let name = b.name.clone().unwrap_or_else(|| "Shop".into());
        if name.trim().is_empty() || name.chars().count() > 40 {
            p.add("brand.name", "must be 1 to 40 characters");
        }
        Brand {
            name,
            color,
            logo_url: b.logo_url.clone(),
        }
    };

    let otp = {
        let o = &raw.otp;
        let message = o.message.clone().unwrap_or_else(|| DEFAULT_MESSAGE.into());
        check_template(p, &message);
        OtpConfig {
            length: int_in(p, "otp.length", o.length, 6, 4, 10) as u32,
            ttl: duration(p, "otp.ttl", o.ttl.as_ref(), "5m"),
            max_attempts: int_in(p, "otp.max_attempts", o.max_attempts, 5, 1, 100) as u32,
            resend_after: duration(p, "otp.resend_after", o.resend_after.as_ref(), "30s"),
            message,
            min_send_time: match &abuse.otp.min_send_time {
                Some(v) => duration(p, "otp.min_send_time", Some(v), "1s"),
                None => Duration::ZERO,
            },
        }
    };

    let phone = {
        let ph = &raw.phone;
        let region = |p: &mut Problems, key: &str, v: &str| match phonenumber::country::Id::from_str(
            &v.to_ascii_uppercase(),
        ) {
            Ok(id) => Some(id),
            Err(_) => {
                p.add(
                    key,
                    format!("`{v}` is not an ISO 3166 region code such as \"IN\""),
                );
                None
            }
        };
        let default_region = region(
            p,
            "phone.default_region",
            ph.default_region.as_deref().unwrap_or("IN"),
        );
        let mut allowed = Vec::new();
        match &ph.allowed_regions {
            Some(list) => {
                for v in list {
                    allowed.extend(region(p, "phone.allowed_regions", v));
                }
                if list.is_empty() {
                    p.add(
                        "phone.allowed_regions",
                        "is empty: no number could ever get a code",
                    );
                }
            }
            None => allowed.extend(default_region),
        }
        if ph.lookup_url.is_some() {
            p.add(
                "phone.lookup_url",
                "registered-number mode is not available in this version; remove the key",
            );
        }
        let mut blocked = Vec::new();
        for v in ph.blocked_prefixes.iter().flatten() {
            let digits = v.strip_prefix('+').unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                p.add(
                    "phone.blocked_prefixes",
                    format!("`{v}` must be an E.164 prefix such as \"+4470\""),
                );
            } else {
                blocked.push(format!("+{digits}"));
            }
        }
        PhoneConfig {
            default_region: default_region.unwrap_or(phonenumber::country::Id::IN),
            allowed_regions: allowed,
            lookup_url: None,
            blocked_prefixes: blocked,
        }
    };

    let sms_unknown = p.list.iter().any(|x| x.key.starts_with("sms."));
    let sms = if sms_unknown {
        None // already reported with suggestions
    } else {
        let raw_sms = crate::sms::RawSmsConfig::deserialize(toml::Value::Table(raw.sms.clone()));
        match raw_sms
            .map_err(|e| vec![("sms".to_string(), e.message().to_string())])
            .and_then(|r| crate::sms::validate(&r))
        {
            Ok(c) => Some(c),
            Err(list) => {
                for (key, message) in list {
                    p.add(&key, message);
                }
                None
            }
        }
    };

    let store = match raw.store.backend.as_deref().unwrap_or("memory") {
        "memory" => StoreConfig::Memory,
        "redis" => {
            // The URL may carry a password: "${ENV_VAR}" keeps it out of the file.
            let url = match raw.store.redis_url.as_deref() {
                Some(v) => secret(p, "store.redis_url", v)
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default(),
                None => String::new(),
            };
            if let Some(problem) = redis_url_problem(&url) {
                p.add("store.redis_url", problem);
            }
            StoreConfig::Redis { url }
        }
        other => {
            p.add(
                "store.backend",
                format!("`{other}` must be \"memory\" or \"redis\""),
            );
            StoreConfig::Memory
        }
    };

    let admin = AdminConfig {
        listen: addr(
            p,
            "admin.listen",
            raw.admin.listen.as_deref().unwrap_or("127.0.0.1:9090"),
        ),
    };
    if admin.listen == Some(server.listen) && server.listen.port() != 0 {
        p.add(
            "admin.listen",
            "must differ from server.listen: metrics never go on the public port",
        );
    }

    let limits = limits(p, &raw.limits.by_name, abuse.limits.pumping.as_ref());

    let log = LogConfig {
        format: match raw.log.format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                p.add(
                    "log.format",
                    format!("`{other}` must be \"text\" or \"json\""),
                );
                LogFormat::Text
            }
        },
        level: raw.log.level.clone().unwrap_or_else(|| "info".into()),
        audit_file: raw.log.audit_file.as_ref().map(PathBuf::from),
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        p.add(
            "log.level",
            format!(
                "`{}` is not a log level or filter (e.g. \"info\", \"otpgate=debug\")",
                log.level
            ),
        );
    }

    let sms = sms?;
    let regions: Vec<String> = phone
        .allowed_regions
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    let mut warnings = crate::sms::warnings(&sms, &regions, &otp.message, &brand.name);
    if server.public_host.is_none() && otp.message.contains("{host}") {
        warnings.push(
            "server.public_host is not set: SMS messages leave out the `@host #code` autofill line"
                .into(),
        );
    }
    Some(Config {
        server,
        tls,
        upstream,
        routes,
        brand,
        otp,
        phone,
        session,
        sms,
        store,
        admin,
        limits,
        log,
        warnings,
    })
}

/// `{code}` is required; only the documented placeholders are allowed.
fn check_template(p: &mut Problems, message: &str) {
    if !message.contains("{code}") {
        p.add("otp.message", "must contain {code}");
    }
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        if !matches!(name, "code" | "brand" | "ttl_minutes" | "host") {
            p.add("otp.message", format!("unknown placeholder {{{name}}}; use {{code}}, {{brand}}, {{ttl_minutes}} or {{host}}"));
        }
        rest = &after[end.min(after.len())..];
    }
}

/// Defaults and their sources are documented in README "Abuse limits".
fn limits(
    p: &mut Problems,
    raw: &std::collections::BTreeMap<String, RawLimit>,
    pumping_raw: Option<&RawPumping>,
) -> LimitsConfig {
    let mut one = |name: &str, max: u64, window: &str| -> Limit {
        let key = format!("limits.{name}");
        let r = raw.get(name);
        let max = match r.and_then(|r| r.max) {
            None => max,
            Some(v) if v >= 1 => v as u64,
            Some(v) => {
                p.add(&format!("{key}.max"), format!("{v} must be at least 1"));
                max
            }
        };
        Limit {
            max,
            window: duration(
                p,
                &format!("{key}.window"),
                r.and_then(|r| r.window.as_ref()),
                window,
            ),
        }
    };
    LimitsConfig {
        send_per_phone: one("send_per_phone", 5, "10m"),
        send_per_ip: one("send_per_ip", 10, "1h"),
        send_per_prefix: one("send_per_prefix", 20, "1h"),
        send_per_country: one("send_per_country", 300, "1h"),
        sms_per_hour: one("sms_per_hour", 500, "1h"),
        sms_per_day: one("sms_per_day", 5_000, "24h"),
        verify_fail_per_phone: one("verify_fail_per_phone", 10, "1h"),
        verify_per_ip: one("verify_per_ip", 30, "5m"),
        pumping: pumping(p, pumping_raw),
    }
}

/// Keys read beside `RawConfig` (raw.rs ignores them): the pumping
/// detector and the send-time floor.
#[derive(Debug, Default, Deserialize)]
struct RawAbuse {
    #[serde(default)]
    limits: RawAbuseLimits,
    #[serde(default)]
    otp: RawAbuseOtp,
}

#[derive(Debug, Default, Deserialize)]
struct RawAbuseLimits {
    pumping: Option<RawPumping>,
}

#[derive(Debug, Default, Deserialize)]
struct RawAbuseOtp {
    min_send_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawPumping {
    enabled: Option<bool>,
    window: Option<String>,
    min_sends: Option<i64>,
    min_conversion: Option<f64>,
    block_for: Option<String>,
}

/// Defaults: the prefix (number minus its last 4 digits) is the unit
/// pumpers rent and the unit Twilio Verify's Fraud Guard blocks; a window
/// of an hour matches the other send limits; 10 sends is half the
/// per-prefix limit, so the detector acts before that limit alone would;
/// legitimate OTP conversion is normally well above 50%, so a floor of
/// 20% flags only prefixes where most codes are never used (Twilio's
/// guidance on monitoring verification conversion per country); a day's
/// block outlasts a pumping run, which typically cycles within hours.
fn pumping(p: &mut Problems, r: Option<&RawPumping>) -> PumpingConfig {
    let d = RawPumping::default();
    let r = r.unwrap_or(&d);
    let min_conversion = match r.min_conversion {
        None => 0.2,
        Some(v) if (0.0..=1.0).contains(&v) => v,
        Some(v) => {
            p.add(
                "limits.pumping.min_conversion",
                format!("{v} must be between 0.0 and 1.0"),
            );
            0.2
        }
    };
    PumpingConfig {
        enabled: r.enabled.unwrap_or(true),
        window: duration(p, "limits.pumping.window", r.window.as_ref(), "1h"),
        min_sends: int_in(p, "limits.pumping.min_sends", r.min_sends, 10, 1, 1_000_000) as u64,
        min_conversion,
        block_for: duration(p, "limits.pumping.block_for", r.block_for.as_ref(), "24h"),
    }
}

/// Why `url` cannot be used for `store.backend = "redis"`, if it cannot.
/// Messages never repeat a password.
fn redis_url_problem(url: &str) -> Option<String> {
    use redis::IntoConnectionInfo;
    if url.trim().is_empty() {
        return Some(
            "is required when store.backend = \"redis\" (e.g. \"redis://127.0.0.1:6379\")".into(),
        );
    }
    let shown = crate::store::redact_url(url);
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Some(format!("`{shown}` must start with redis:// or rediss://"));
    }
    match url.into_connection_info() {
        Ok(_) => None,
        Err(e) => Some(format!("`{shown}` is not a valid Redis URL: {e}")),
    }
}
