//! `[limits]` and `[limits.pumping]`: the abuse limits, with the default
//! of each and where it comes from, plus `otp.min_send_time`.

use serde::Deserialize;

use super::kit::{duration, int_in, Problems};
use crate::config::raw::RawLimit;
use crate::config::{Limit, LimitsConfig, PumpingConfig};
use crate::fraud::mode::Mode;

/// The guessing limits: a brute-force bound (NIST SP 800-63B §5.2.2), not
/// a fraud rule, so never in shadow.
const ALWAYS_ENFORCED: [&str; 2] = ["verify_fail_per_phone", "verify_per_ip"];

/// `mode = "enforce" | "shadow"` at `key` (fraud.rs), enforce when absent.
fn mode(p: &mut Problems, key: &str, raw: Option<&String>) -> Mode {
    match raw.map(String::as_str) {
        None => Mode::Enforce,
        Some(v) => Mode::parse(v).unwrap_or_else(|| {
            p.add(key, format!("{v:?} must be \"enforce\" or \"shadow\""));
            Mode::Enforce
        }),
    }
}

/// Defaults and their sources are documented in README "Abuse limits".
pub(super) fn limits(
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
        let mode = mode(p, &format!("{key}.mode"), r.and_then(|r| r.mode.as_ref()));
        if mode == Mode::Shadow && ALWAYS_ENFORCED.contains(&name) {
            p.add(
                &format!("{key}.mode"),
                "a guessing limit is always enforced (NIST SP 800-63B §5.2.2): only send limits and the pumping detector have a shadow mode",
            );
        }
        Limit {
            max,
            mode: if ALWAYS_ENFORCED.contains(&name) {
                Mode::Enforce
            } else {
                mode
            },
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
        // 80% of `sms_per_hour`: one client software stack cannot take the
        // whole SMS budget, while the most common browser on its own (a
        // popular Android Chrome release can be well over half of a
        // shop's shoppers) still has room below the budget.
        send_per_fingerprint: one("send_per_fingerprint", 400, "1h"),
        sms_per_hour: one("sms_per_hour", 500, "1h"),
        sms_per_day: one("sms_per_day", 5_000, "24h"),
        whatsapp_per_hour: one("whatsapp_per_hour", 500, "1h"),
        voice_per_hour: one("voice_per_hour", 100, "1h"),
        verify_fail_per_phone: one("verify_fail_per_phone", 10, "1h"),
        verify_per_ip: one("verify_per_ip", 30, "5m"),
        pumping: pumping(p, pumping_raw),
    }
}

/// Keys read beside `RawConfig` (raw.rs ignores them): the pumping
/// detector and the send-time floor.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawAbuse {
    #[serde(default)]
    pub(super) limits: RawAbuseLimits,
    #[serde(default)]
    pub(super) otp: RawAbuseOtp,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawAbuseLimits {
    pub(super) pumping: Option<RawPumping>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawAbuseOtp {
    pub(super) min_send_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawPumping {
    pub(super) enabled: Option<bool>,
    pub(super) window: Option<String>,
    pub(super) min_sends: Option<i64>,
    pub(super) min_conversion: Option<f64>,
    pub(super) min_networks: Option<i64>,
    pub(super) block_for: Option<String>,
    pub(super) mode: Option<String>,
    pub(super) fingerprints: Option<bool>,
    pub(super) fingerprint_min_sends: Option<i64>,
    pub(super) fingerprint_mode: Option<String>,
}

/// Defaults: the prefix (number minus its last 4 digits) is the unit
/// pumpers rent and the unit Twilio Verify's Fraud Guard blocks; a window
/// of an hour matches the other send limits; 10 sends is half the
/// per-prefix limit, so the detector acts before that limit alone would;
/// legitimate OTP conversion is normally well above 50%, so a floor of
/// 20% flags only prefixes where most codes are never used (Twilio's
/// guidance on monitoring verification conversion per country); a day's
/// block outlasts a pumping run, which typically cycles within hours.
/// A whole-prefix block needs unverified sends from 3 client networks
/// (/24, /64): one attacker's address must not deny a prefix to everyone
/// (issue 8), while a pumping run, spread over rented proxies, shows many.
/// A fingerprint is shared by every shopper on the same browser release,
/// so it needs more evidence than a prefix (10): two prefixes' worth of
/// unverified sends. Genuine traffic of one browser converts like any
/// genuine traffic (well above `min_conversion`), so even a common one is
/// not blocked; an automation stack that never verifies is, after 20.
const FINGERPRINT_MIN_SENDS: i64 = 20;

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
        min_networks: int_in(
            p,
            "limits.pumping.min_networks",
            r.min_networks,
            3,
            1,
            1_000_000,
        ) as u64,
        block_for: duration(p, "limits.pumping.block_for", r.block_for.as_ref(), "24h"),
        mode: mode(p, "limits.pumping.mode", r.mode.as_ref()),
        fingerprints: r.fingerprints.unwrap_or(true),
        fingerprint_min_sends: int_in(
            p,
            "limits.pumping.fingerprint_min_sends",
            r.fingerprint_min_sends,
            FINGERPRINT_MIN_SENDS,
            1,
            1_000_000,
        ) as u64,
        fingerprint_mode: mode(
            p,
            "limits.pumping.fingerprint_mode",
            r.fingerprint_mode.as_ref(),
        ),
    }
}
