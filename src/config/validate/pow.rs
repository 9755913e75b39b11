//! `[pow]`: when a send needs a proof-of-work and how hard it is (pow.rs).

use super::kit::{duration, int_in, Problems};
use crate::config::raw::RawPow;
use crate::config::PowConfig;

/// Off by default: an operator turns it on (ideally in `mode = "shadow"`
/// first). The difficulty defaults are measured (tests/browser_pow.rs:
/// 6,500–25,000 WebCrypto digests a second on a CPU throttled 4×): 2^12
/// digests take a few hundred ms on a phone-class CPU; each risk point
/// above the threshold quadruples the work (`step = 2`), up to 2^20 (one
/// to three minutes: at that risk a send is in practice refused).
/// Velocities are per 10 minutes: a shopper makes one or two attempts, a
/// household behind one NAT a few.
pub(super) fn pow(p: &mut Problems, raw: &RawPow) -> PowConfig {
    let mode = super::limits::mode(p, "pow.mode", raw.mode.as_ref());
    let base = int_in(p, "pow.base_difficulty", raw.base_difficulty, 12, 1, 32) as u8;
    let max = int_in(p, "pow.max_difficulty", raw.max_difficulty, 20, 1, 32) as u8;
    if max < base {
        p.add(
            "pow.max_difficulty",
            format!("{max} is below pow.base_difficulty ({base})"),
        );
    }
    let low_conversion = match raw.low_conversion {
        None => 0.3,
        Some(v) if (0.0..=1.0).contains(&v) => v,
        Some(v) => {
            p.add(
                "pow.low_conversion",
                format!("{v} must be between 0.0 and 1.0"),
            );
            0.3
        }
    };
    let ttl = duration(p, "pow.ttl", raw.ttl.as_ref(), "2m");
    if ttl > std::time::Duration::from_secs(3600) {
        p.add(
            "pow.ttl",
            "must be at most 1h: a solved challenge is a send waiting to happen",
        );
    }
    PowConfig {
        enabled: raw.enabled.unwrap_or(false),
        mode,
        base_difficulty: base,
        max_difficulty: max.max(base),
        step: int_in(p, "pow.step", raw.step, 2, 0, 32) as u8,
        threshold: int_in(p, "pow.threshold", raw.threshold, 1, 0, 100) as u32,
        ttl,
        window: duration(p, "pow.window", raw.window.as_ref(), "10m"),
        fingerprint_sends: int_in(
            p,
            "pow.fingerprint_sends",
            raw.fingerprint_sends,
            20,
            1,
            1_000_000,
        ) as u64,
        ip_sends: int_in(p, "pow.ip_sends", raw.ip_sends, 6, 1, 1_000_000) as u64,
        low_conversion,
        min_prefix_sends: int_in(
            p,
            "pow.min_prefix_sends",
            raw.min_prefix_sends,
            10,
            1,
            1_000_000,
        ) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_for_test as parse;
    use crate::fraud::Mode;

    #[test]
    fn off_by_default_and_every_key_reads() {
        let c = parse("").unwrap().pow;
        assert!(!c.enabled);
        assert_eq!((c.base_difficulty, c.max_difficulty, c.step), (12, 20, 2));
        assert_eq!(c.mode, Mode::Enforce);
        let c = parse(
            "[pow]\nenabled = true\nmode = \"shadow\"\nbase_difficulty = 10\nmax_difficulty = 20\n\
             step = 3\nthreshold = 2\nttl = \"90s\"\nwindow = \"5m\"\nfingerprint_sends = 7\n\
             ip_sends = 4\nlow_conversion = 0.5\nmin_prefix_sends = 3\n",
        )
        .unwrap()
        .pow;
        assert!(c.enabled);
        assert_eq!(c.mode, Mode::Shadow);
        assert_eq!((c.base_difficulty, c.max_difficulty, c.step), (10, 20, 3));
        assert_eq!(
            (c.threshold, c.ttl.as_secs(), c.window.as_secs()),
            (2, 90, 300)
        );
        assert_eq!(
            (c.fingerprint_sends, c.ip_sends, c.min_prefix_sends),
            (7, 4, 3)
        );
        assert_eq!(c.low_conversion, 0.5);
    }

    #[test]
    fn a_wrong_value_names_the_key() {
        for (bad, key) in [
            ("mode = \"log\"", "pow.mode:"),
            ("base_difficulty = 0", "pow.base_difficulty:"),
            ("max_difficulty = 33", "pow.max_difficulty:"),
            (
                "base_difficulty = 20\nmax_difficulty = 10",
                "pow.max_difficulty:",
            ),
            ("low_conversion = 1.5", "pow.low_conversion:"),
            ("ttl = \"2h\"", "pow.ttl:"),
            ("ttl = \"soon\"", "pow.ttl:"),
            ("ip_sends = 0", "pow.ip_sends:"),
            ("enabled = \"yes\"", "pow.enabled:"),
            ("threshold = -1", "pow.threshold:"),
        ] {
            let e = parse(&format!("[pow]\n{bad}\n")).unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
        let e = parse("[pow]\nbase_dificulty = 3\n").unwrap_err();
        assert!(e.contains("did you mean `base_difficulty`"), "{e}");
    }
}
