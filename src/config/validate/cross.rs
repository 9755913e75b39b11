//! Checks that read two keys together: each key can be valid alone and the
//! pair still be wrong (`default_region = "US"` with `allowed_regions =
//! ["IN"]` refuses every Indian number written without +91, issue 12).
//! `route[i].max_age` against `session.ttl` sits with the routes.

use super::kit::Problems;
use crate::config::raw::RawConfig;
use crate::config::{AdminConfig, OtpConfig, PhoneConfig, ServerConfig};

pub(super) fn check(
    p: &mut Problems,
    raw: &RawConfig,
    server: &ServerConfig,
    phone: &PhoneConfig,
    otp: &OtpConfig,
    admin: &AdminConfig,
) {
    region_is_allowed(p, raw, phone);
    listeners_differ(p, server, admin);
    if otp.resend_after >= otp.ttl {
        p.warn(
            "otp.resend_after",
            format!(
                "{} is not shorter than otp.ttl ({}): a shopper whose code expired waits with none that works",
                humantime::format_duration(otp.resend_after),
                humantime::format_duration(otp.ttl)
            ),
        );
    }
    if raw.store.redis_url.is_some() && raw.store.backend.as_deref().unwrap_or("memory") == "memory"
    {
        p.warn(
            "store.redis_url",
            "is ignored: store.backend is \"memory\" (sessions are not shared and do not survive a restart)",
        );
    }
}

/// A number written without `+` is read in `default_region`, so that
/// region must be one that may get a code.
fn region_is_allowed(p: &mut Problems, raw: &RawConfig, phone: &PhoneConfig) {
    let already = p.list.iter().any(|x| x.key.starts_with("phone."));
    if already || phone.allowed_regions.contains(&phone.default_region) {
        return;
    }
    let allowed: Vec<String> = phone
        .allowed_regions
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    let message = format!(
        "{:?} is not in phone.allowed_regions ({}): numbers written without a country code are read as {:?} numbers and refused; set default_region to one of the allowed regions",
        phone.default_region,
        allowed.join(", "),
        phone.default_region
    );
    // Name the key the operator wrote: the default ("IN") has no line.
    let key = if raw.phone.default_region.is_some() {
        "phone.default_region"
    } else {
        "phone.allowed_regions"
    };
    p.add(key, message);
}

/// Two listeners on one address cannot both bind; the admin one must never
/// share the public port (metrics are not for the internet).
fn listeners_differ(p: &mut Problems, server: &ServerConfig, admin: &AdminConfig) {
    let same = |a: std::net::SocketAddr, b: std::net::SocketAddr| a == b && a.port() != 0;
    if let Some(redirect) = server.redirect_http {
        if same(redirect, server.listen) {
            p.add("server.redirect_http", "must differ from server.listen");
        }
        if admin.listen.is_some_and(|a| same(a, redirect)) {
            p.add("admin.listen", "must differ from server.redirect_http");
        }
    }
}

/// `log.level`: a level, or a filter whose every part names a level
/// (`"info,otpgate=debug"`). A bare word such as `"verbose"` is a valid
/// `EnvFilter` (a target name at every level) that silences everything
/// else, so it is refused here (issue 12).
pub(super) fn log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in level.split(',').map(str::trim) {
        let named = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&named.to_ascii_lowercase().as_str()) {
            let what = crate::validation::not_one_of(named, &LEVELS);
            return Err(format!(
                "{what}; a filter such as \"info,otpgate=debug\" names a level in each part"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(drop)
        .map_err(|e| format!("`{level}` is not a log filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::log_level;

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "DEBUG",
            "off",
            "info,otpgate=debug",
            "warn,hyper=error",
        ] {
            assert!(log_level(ok).is_ok(), "{ok}");
        }
        for bad in ["verbose", "", "info,otpgate", "otpgate=loud", "inf"] {
            assert!(log_level(bad).is_err(), "{bad}");
        }
        let e = log_level("verbos").unwrap_err();
        assert!(
            e.contains("\"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\""),
            "{e}"
        );
        assert!(log_level("inf")
            .unwrap_err()
            .contains("did you mean \"info\""));
    }
}
