//! Shadow mode: every fraud rule (the send limits, the pumping detector's
//! prefix and fingerprint blocks, proof-of-work) runs in one of two modes,
//! and [`decide`] is the one place that turns "this rule would block" into
//! "block" or "let it through and say so". An operator tries a new rule in
//! `"shadow"` first: it blocks nothing, but every send it would have
//! refused is counted and logged, so its effect on real shoppers is known
//! before it is turned on (the way WAF rule sets are rolled out in
//! "detection only" before "blocking").
//!
//! How to call it, for a new rule:
//!
//! ```text
//! let would_block = /* the rule's own verdict */;
//! if fraud::decide(&metrics, "pow", mode, would_block) {
//!     return Err(/* the rule's refusal */);
//! }
//! // allowed, or only a shadow block: carry on
//! ```
//!
//! Every call counts `otpgate_fraud_decisions_total{rule, mode, decision}`
//! with `decision` one of `allow`, `block` (enforced) or `would_block`
//! (shadow), and a shadow block is logged at `warn` with its rule. The
//! rule names are those of `otpgate_rate_limited_total{limit}` and the
//! `limit` field of the audit trail's `rate_limited` events. Configured
//! as `mode = "enforce" | "shadow"` beside each rule's other keys; the
//! default is `"enforce"`.

pub mod mode;

pub use self::mode::Mode;

use crate::metrics::{FraudLabel, Metrics};

/// Counts rule `rule`'s decision and returns whether to block: true only
/// when the rule would block and is enforced.
pub fn decide(metrics: &Metrics, rule: &'static str, mode: Mode, would_block: bool) -> bool {
    let decision = match (would_block, mode) {
        (false, _) => "allow",
        (true, Mode::Enforce) => "block",
        (true, Mode::Shadow) => "would_block",
    };
    metrics
        .fraud_decisions
        .get_or_create(&FraudLabel {
            rule,
            mode: mode.as_str(),
            decision,
        })
        .inc();
    if decision == "would_block" {
        tracing::warn!(
            rule,
            decision,
            "shadow rule would have blocked this request; let through"
        );
    }
    would_block && mode == Mode::Enforce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_enforced_rule_blocks_and_every_decision_is_counted() {
        let m = Metrics::new();
        assert!(decide(&m, "send_per_ip", Mode::Enforce, true));
        assert!(!decide(&m, "send_per_ip", Mode::Shadow, true));
        assert!(!decide(&m, "send_per_ip", Mode::Shadow, false));
        assert!(!decide(&m, "send_per_ip", Mode::Enforce, false));
        let text = m.render();
        for (mode, decision) in [
            ("enforce", "block"),
            ("shadow", "would_block"),
            ("shadow", "allow"),
            ("enforce", "allow"),
        ] {
            let series = format!(
                "otpgate_fraud_decisions_total{{rule=\"send_per_ip\",mode=\"{mode}\",decision=\"{decision}\"}} 1"
            );
            assert!(text.contains(&series), "{series} not in\n{text}");
        }
    }

    #[test]
    fn modes_read_as_written() {
        assert_eq!(Mode::parse("shadow"), Some(Mode::Shadow));
        assert_eq!(Mode::parse("enforce"), Some(Mode::Enforce));
        assert_eq!(Mode::parse("Shadow"), None);
        assert_eq!(Mode::default(), Mode::Enforce);
    }
}
