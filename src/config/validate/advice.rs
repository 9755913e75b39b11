//! Warnings for settings weaker than the standards the README cites: the
//! file is valid and `run` accepts it, but `check-config` says so and
//! `check-config --strict` refuses it (issue 12).

use std::net::SocketAddr;
use std::time::Duration;

use super::kit::Problems;
use crate::config::{AdminConfig, OtpConfig};

/// NIST SP 800-63B §5.1.3: an out-of-band secret is valid for at most 10
/// minutes.
const MAX_TTL: Duration = Duration::from_secs(10 * 60);
/// PSD2 RTS (Delegated Regulation (EU) 2018/389) art. 4(3)(b): at most 5
/// failed authentication attempts in a row.
const MAX_ATTEMPTS: u32 = 5;

pub(super) fn check(p: &mut Problems, otp: &OtpConfig, admin: &AdminConfig) {
    if otp.ttl > MAX_TTL {
        p.warn(
            "otp.ttl",
            format!(
                "{} is longer than 10 minutes, the most NIST SP 800-63B §5.1.3 allows an SMS code to stay valid",
                humantime::format_duration(otp.ttl)
            ),
        );
    }
    if otp.max_attempts > MAX_ATTEMPTS {
        p.warn(
            "otp.max_attempts",
            format!(
                "{} is more than 5, the most failed attempts PSD2 RTS art. 4(3)(b) allows before the code is spent",
                otp.max_attempts
            ),
        );
    }
    // `[admin] token` guards only the admin API (`/api/*`): metrics and
    // health answer anyone who reaches a non-loopback listener, token or
    // not, so every such listener is reported.
    if let Some(listen) = admin.listen.filter(|a| exposed(*a)) {
        p.warn(
            "admin.listen",
            format!(
                "{listen} is not a loopback address: /metrics, /healthz and /readyz answer anyone who can reach it (an [admin] token guards only /api/*); listen on 127.0.0.1 or firewall the port"
            ),
        );
    }
}

/// Whether the admin listener answers the network.
fn exposed(listen: SocketAddr) -> bool {
    // `::ffff:127.0.0.1` is loopback too.
    !listen.ip().to_canonical().is_loopback()
}
