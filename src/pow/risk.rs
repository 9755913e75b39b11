//! How risky one send looks, from what the gateway sees for free
//! (issue 15): the prefix's conversion (pumped prefixes are rarely
//! verified: pumping.rs), how fast this TLS fingerprint (JA4) and this
//! client address are asking for codes (rotating IPs behind one client
//! stack keeps one JA4), and whether the number's country is new for this
//! address. Each signal is worth risk points; the points map to a
//! difficulty.
//!
//! The velocities count every attempt that reaches the gate, a demanded
//! one included (increment before check, like every limit: parallel
//! attempts cannot all see a low count), so hammering without solving
//! only raises the price. The country is remembered only for an admitted
//! send: a refused first try must not make the second look familiar.

use std::net::IpAddr;
use std::time::Duration;

use super::demand::Attempt;
use crate::config::{PowConfig, PumpingConfig};
use crate::store::{Count, Store, StoreError};

/// What a send's risk is made of (logged with a demand).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Signals {
    /// Sends into the prefix over `limits.pumping.window`, and the share
    /// verified.
    pub prefix_sends: f64,
    pub prefix_conversion: f64,
    /// Attempts in `pow.window` from this JA4 (0 without one) and this IP,
    /// this one included.
    pub fingerprint_sends: u64,
    pub ip_sends: u64,
    /// This IP sent to other countries today, never to this one.
    pub new_country: bool,
}

impl Signals {
    /// The signals as they were before this attempt was counted.
    pub fn before_this(self) -> Signals {
        Signals {
            fingerprint_sends: self.fingerprint_sends.saturating_sub(1),
            ip_sends: self.ip_sends.saturating_sub(1),
            ..self
        }
    }
}

/// A day: "new for this IP" looks back this far.
const COUNTRY_MEMORY: Duration = Duration::from_secs(24 * 3600);

fn value(c: Count) -> u64 {
    match c {
        Count::Allowed { count } => count,
        Count::Limited { .. } => u64::MAX,
    }
}

fn ip_key(ip: IpAddr) -> String {
    // One subscriber's IPv6 /64 is one address here, as for the pumping
    // detector's networks.
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => crate::pumping::network_of(ip),
        _ => ip.to_string(),
    }
}

fn country_keys(a: &Attempt) -> (String, String) {
    let ip = ip_key(a.ip);
    (
        format!("pow:ip-country:{ip}|{}", a.phone.region_code()),
        format!("pow:ip-countries:{ip}"),
    )
}

/// Counts this attempt and reads every signal.
pub async fn assess(
    store: &dyn Store,
    cfg: &PowConfig,
    pumping: &PumpingConfig,
    a: &Attempt<'_>,
    now_ms: u64,
) -> Result<Signals, StoreError> {
    let count = |key: String, cost: u64, window: Duration| async move {
        store
            .count(&key, cost, u64::MAX, window, now_ms)
            .await
            .map(value)
    };
    let fingerprint = async {
        match a.ja4 {
            Some(j) => count(format!("pow:ja4:{j}"), 1, cfg.window).await,
            None => Ok(0),
        }
    };
    let (this_country, countries) = country_keys(a);
    let (fingerprint_sends, ip_sends, seen_here, seen_any, prefix) = tokio::join!(
        fingerprint,
        count(format!("pow:ip:{}", ip_key(a.ip)), 1, cfg.window),
        count(this_country, 0, COUNTRY_MEMORY),
        count(countries, 0, COUNTRY_MEMORY),
        crate::pumping::prefix_conversion(store, pumping, a.phone, now_ms),
    );
    let (prefix_sends, prefix_conversion) = prefix?;
    Ok(Signals {
        prefix_sends,
        prefix_conversion,
        fingerprint_sends: fingerprint_sends?,
        ip_sends: ip_sends?,
        new_country: seen_here? == 0 && seen_any? > 0,
    })
}

/// Remembers the country of an admitted send for this address.
pub async fn admitted(store: &dyn Store, a: &Attempt<'_>, now_ms: u64) {
    let (this_country, countries) = country_keys(a);
    for key in [this_country, countries] {
        let _ = store.count(&key, 1, u64::MAX, COUNTRY_MEMORY, now_ms).await;
    }
}

/// 0 at or under `limit`, then one point, and one more per doubling:
/// twice the limit is 2, four times 3.
fn velocity_points(sends: u64, limit: u64) -> u32 {
    if sends <= limit {
        return 0;
    }
    1 + (sends / limit.max(1)).ilog2()
}

/// The risk points of `s`.
pub fn points(cfg: &PowConfig, s: &Signals) -> u32 {
    let low =
        s.prefix_sends >= cfg.min_prefix_sends as f64 && s.prefix_conversion < cfg.low_conversion;
    u32::from(low)
        + velocity_points(s.fingerprint_sends, cfg.fingerprint_sends)
        + velocity_points(s.ip_sends, cfg.ip_sends)
        + u32::from(s.new_country)
}

/// The difficulty for `points`: none under `threshold`, then
/// `base_difficulty`, `step` more bits per point, at most
/// `max_difficulty`.
pub fn difficulty(cfg: &PowConfig, points: u32) -> Option<u8> {
    let above = points.checked_sub(cfg.threshold)?;
    let bits = u32::from(cfg.base_difficulty) + above.saturating_mul(u32::from(cfg.step));
    Some(bits.min(u32::from(cfg.max_difficulty)) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fraud::Mode;

    fn cfg() -> PowConfig {
        PowConfig {
            enabled: true,
            mode: Mode::Enforce,
            base_difficulty: 12,
            max_difficulty: 20,
            step: 2,
            threshold: 1,
            ttl: Duration::from_secs(120),
            window: Duration::from_secs(600),
            fingerprint_sends: 20,
            ip_sends: 6,
            low_conversion: 0.3,
            min_prefix_sends: 10,
        }
    }

    #[test]
    fn difficulty_rises_with_each_signal_and_stops_at_the_cap() {
        let c = cfg();
        let calm = Signals {
            prefix_sends: 50.0,
            prefix_conversion: 0.9,
            fingerprint_sends: 3,
            ip_sends: 1,
            new_country: false,
        };
        assert_eq!(points(&c, &calm), 0);
        assert_eq!(difficulty(&c, 0), None, "low risk: no proof-of-work");
        let few = Signals {
            prefix_sends: 9.0,
            prefix_conversion: 0.0,
            ..calm
        };
        assert_eq!(points(&c, &few), 0, "too few sends to judge a prefix");
        let pumped = Signals {
            prefix_conversion: 0.1,
            ..calm
        };
        assert_eq!(points(&c, &pumped), 1);
        assert_eq!(difficulty(&c, 1), Some(12));
        let busy = Signals {
            ip_sends: 7,
            ..pumped
        };
        assert_eq!(points(&c, &busy), 2);
        assert_eq!(difficulty(&c, 2), Some(14));
        let hammering = Signals {
            ip_sends: 24,
            fingerprint_sends: 41,
            new_country: true,
            ..pumped
        };
        assert_eq!(points(&c, &hammering), 1 + 3 + 2 + 1);
        assert_eq!(difficulty(&c, 7), Some(20), "capped");
        assert_eq!(velocity_points(12, 6), 2);
        assert_eq!(velocity_points(11, 6), 1);
    }

    #[test]
    fn a_zero_threshold_asks_every_send() {
        let c = PowConfig {
            threshold: 0,
            ..cfg()
        };
        assert_eq!(difficulty(&c, 0), Some(12));
        assert_eq!(difficulty(&c, 1), Some(14));
    }
}
