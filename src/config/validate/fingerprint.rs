//! `[fingerprint]`: whether the storefront gets the client's fingerprints.

use crate::config::raw::RawFingerprint;
use crate::fingerprint::FingerprintConfig;

pub(super) fn fingerprint(raw: &RawFingerprint) -> FingerprintConfig {
    // A wrong type (`forward = "yes"`) is reported by typecheck.rs.
    FingerprintConfig {
        forward: raw.forward.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_for_test as parse;

    #[test]
    fn off_by_default() {
        assert!(!parse("").unwrap().fingerprint.forward);
        assert!(!parse("[fingerprint]\n").unwrap().fingerprint.forward);
        assert!(
            parse("[fingerprint]\nforward = true\n")
                .unwrap()
                .fingerprint
                .forward
        );
    }

    #[test]
    fn a_wrong_value_names_the_key() {
        for bad in ["\"yes\"", "1", "\"true\""] {
            let e = parse(&format!("[fingerprint]\nforward = {bad}\n")).unwrap_err();
            assert!(e.contains("fingerprint.forward:"), "{bad}: {e}");
            assert!(e.contains("must be true or false"), "{bad}: {e}");
        }
        let e = parse("[fingerprint]\nforwrd = true\n").unwrap_err();
        assert!(e.contains("did you mean `forward`"), "{e}");
    }
}
