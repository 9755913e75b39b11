//! `[hold]`: whether a protected POST without a session is kept across the
//! code step, and how large a body may be kept.

use super::kit::Problems;
use crate::config::raw::RawHold;
use crate::config::HoldConfig;

/// 64 KiB: a checkout form or JSON order is a few KiB; a file upload is
/// not something to keep in the store for minutes.
const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Every held body sits in the store (memory or Redis) for `otp.ttl`.
const MAX_MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) fn hold(p: &mut Problems, raw: &RawHold) -> HoldConfig {
    // A wrong type (`enabled = "yes"`) is reported by typecheck.rs.
    let enabled = raw.enabled.unwrap_or(true);
    let max_body = match &raw.max_body {
        None => DEFAULT_MAX_BODY,
        Some(v) => match size(v) {
            Some(n) if (1..=MAX_MAX_BODY).contains(&n) => n,
            Some(_) => {
                p.add(
                    "hold.max_body",
                    format!("`{v}` must be between 1 byte and 16MiB"),
                );
                DEFAULT_MAX_BODY
            }
            None => {
                p.add(
                    "hold.max_body",
                    format!("`{v}` is not a size: write e.g. \"64KiB\", \"1MiB\" or 65536"),
                );
                DEFAULT_MAX_BODY
            }
        },
    };
    HoldConfig { enabled, max_body }
}

/// `65536`, `"65536"`, `"512B"`, `"64KiB"`, `"1MiB"` (also `KB`/`MB`,
/// read as powers of 1024 like nginx's `k`/`m`).
fn size(v: &toml::Value) -> Option<usize> {
    let text = match v {
        toml::Value::Integer(n) => return usize::try_from(*n).ok(),
        toml::Value::String(s) => s.trim(),
        _ => return None,
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: usize = digits.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::super::parse_for_test as parse;

    #[test]
    fn on_with_64_kib_by_default() {
        let c = parse("").unwrap();
        assert!(c.hold.enabled);
        assert_eq!(c.hold.max_body, 64 * 1024);
        let c = parse("[hold]\nenabled = false\nmax_body = \"1MiB\"\n").unwrap();
        assert!(!c.hold.enabled);
        assert_eq!(c.hold.max_body, 1024 * 1024);
        assert_eq!(
            parse("[hold]\nmax_body = 512\n").unwrap().hold.max_body,
            512
        );
        assert_eq!(
            parse("[hold]\nmax_body = \"8 KiB\"\n")
                .unwrap()
                .hold
                .max_body,
            8192
        );
    }

    #[test]
    fn a_wrong_value_names_the_key() {
        for bad in ["\"lots\"", "0", "-1", "\"64GiB\"", "\"1.5MiB\"", "true"] {
            let e = parse(&format!("[hold]\nmax_body = {bad}\n")).unwrap_err();
            assert!(e.contains("hold.max_body:"), "{bad}: {e}");
        }
        let e = parse("[hold]\nenabled = \"yes\"\n").unwrap_err();
        assert!(e.contains("hold.enabled:"), "{e}");
        let e = parse("[hold]\nmax_bdy = 1\n").unwrap_err();
        assert!(e.contains("did you mean `max_body`"), "{e}");
    }
}
