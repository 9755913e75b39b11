//! One function per configuration section: the raw table in, the typed
//! section out, every problem added to `p` with its key.

use std::path::PathBuf;
use std::str::FromStr;

use http::Uri;
use ipnet::IpNet;

use super::kit::{addr, duration, int_in, secret, Problems};
use crate::config::raw::{OneOrMany, RawConfig};
use crate::config::{PhoneConfig, ServerConfig, SessionConfig, UpstreamConfig};
use crate::validation::secret_file;

pub(super) fn server(p: &mut Problems, raw: &RawConfig) -> ServerConfig {
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
        let net = IpNet::from_str(v).or_else(|_| std::net::IpAddr::from_str(v).map(IpNet::from));
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
        idle_timeout: duration(p, "server.idle_timeout", s.idle_timeout.as_ref(), "60s"),
        body_timeout: duration(p, "server.body_timeout", s.body_timeout.as_ref(), "20s"),
        body_min_rate: int_in(p, "server.body_min_rate", s.body_min_rate, 500, 0, 1 << 40) as u64,
        http2_keepalive_interval: duration(
            p,
            "server.http2_keepalive_interval",
            s.http2_keepalive_interval.as_ref(),
            "30s",
        ),
        http2_keepalive_timeout: duration(
            p,
            "server.http2_keepalive_timeout",
            s.http2_keepalive_timeout.as_ref(),
            "20s",
        ),
        max_connections_per_ip: int_in(
            p,
            "server.max_connections_per_ip",
            s.max_connections_per_ip,
            256,
            1,
            1_000_000,
        ) as usize,
    }
}

pub(super) fn upstream(p: &mut Problems, raw: &RawConfig) -> UpstreamConfig {
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
}

pub(super) fn session(p: &mut Problems, raw: &RawConfig) -> SessionConfig {
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
    // One secret per line, for rotation (the one `*_file` rule, validation.rs).
    if let Some(path) = &s.secret_file {
        match secret_file(std::path::Path::new(path)) {
            Ok(list) => secrets.extend(list),
            Err(e) => p.add("session.secret_file", e),
        }
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
}

pub(super) fn phone(p: &mut Problems, raw: &RawConfig) -> PhoneConfig {
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
    let lookup_url = match ph.lookup_url.as_deref() {
        None => None,
        Some(v) => match v.parse::<Uri>() {
            Ok(u)
                if matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some() =>
            {
                Some(u)
            }
            _ => {
                p.add(
                    "phone.lookup_url",
                    format!("`{v}` must be an http:// or https:// URL"),
                );
                None
            }
        },
    };
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
        lookup_url,
        blocked_prefixes: blocked,
    }
}
