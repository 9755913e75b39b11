//! Raw file -> typed [`Config`], collecting every problem before giving up.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::raw::RawConfig;
use super::schema::{unknown_keys, Locator};
use super::{
    AdminConfig, Config, LogConfig, LogFormat, OtpConfig, Problem, Require, RouteRule, StoreConfig,
    TlsConfig,
};
use crate::normalize::normalize_path;

mod brand;
mod fingerprint;
mod hold;
mod kit;
mod limits;
mod messages;
mod sections;

use self::kit::{addr, duration, int_in, secret, Problems, DEFAULT_MESSAGE};
use self::limits::{limits, RawAbuse};

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

fn build(raw: RawConfig, abuse: &RawAbuse, p: &mut Problems) -> Option<Config> {
    let server = sections::server(p, &raw);

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

    let upstream = sections::upstream(p, &raw);

    let session = sections::session(p, &raw);

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

    let (brand, brand_warnings) = brand::brand(p, &raw);

    let otp = {
        let o = &raw.otp;
        let message = o.message.clone().unwrap_or_else(|| DEFAULT_MESSAGE.into());
        messages::check_template(p, "otp.message", &message);
        let messages = messages::messages(p, &raw, &brand.languages);
        OtpConfig {
            length: int_in(p, "otp.length", o.length, 6, 4, 10) as u32,
            ttl: duration(p, "otp.ttl", o.ttl.as_ref(), "5m"),
            max_attempts: int_in(p, "otp.max_attempts", o.max_attempts, 5, 1, 100) as u32,
            resend_after: duration(p, "otp.resend_after", o.resend_after.as_ref(), "30s"),
            message,
            messages,
            min_send_time: match &abuse.otp.min_send_time {
                Some(v) => duration(p, "otp.min_send_time", Some(v), "1s"),
                None => Duration::ZERO,
            },
        }
    };

    let phone = sections::phone(p, &raw);

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
        audit_required: raw.log.audit_required.unwrap_or(false),
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
    warnings.extend(brand_warnings);
    warnings.extend(messages::segment_warnings(
        &otp,
        &brand.name,
        server.public_host.as_deref(),
    ));
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
        fingerprint: fingerprint::fingerprint(p, &raw.fingerprint),
        hold: hold::hold(p, &raw.hold),
        warnings,
    })
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
    let shown = crate::secret::redact_url(url);
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Some(format!("`{shown}` must start with redis:// or rediss://"));
    }
    match url.into_connection_info() {
        Ok(_) => None,
        Err(e) => Some(format!("`{shown}` is not a valid Redis URL: {e}")),
    }
}
