//! What a replay found: sends, blocks per rule and per prefix, what the
//! shadow rules would have blocked, and the shoppers turned away; as text
//! for a terminal or JSON (`--json`) for a script.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Send attempts replayed.
    pub attempts: u64,
    /// Of them, sent (an SMS would have gone out).
    pub sent: u64,
    /// Refused, by rule (a limit's name, `pumping`, `pumping_network`,
    /// `pumping_fingerprint`, `region`).
    pub blocked_by_rule: BTreeMap<String, u64>,
    /// Refused, by number prefix.
    pub blocked_by_prefix: BTreeMap<String, u64>,
    /// Sends a shadow rule would have refused (let through), by rule.
    pub would_block_by_rule: BTreeMap<String, u64>,
    /// Verifies in the trail.
    pub verifies: u64,
    /// Verifies whose send the candidate refused: shoppers who completed
    /// the check under the old configuration and would have been turned
    /// away by this one.
    pub verifies_lost: u64,
    /// Lines of sends and verifies that could not be replayed (no
    /// `prefix`/`phone_key`: written before the trail carried them).
    pub skipped: u64,
}

impl Report {
    /// One attempt into `prefix`, refused by `blocked` (a rule) or sent.
    pub(super) fn sent(&mut self, prefix: &str, blocked: Option<&str>) {
        self.attempts += 1;
        match blocked {
            None => self.sent += 1,
            Some(rule) => {
                *self.blocked_by_rule.entry(rule.to_string()).or_default() += 1;
                *self
                    .blocked_by_prefix
                    .entry(prefix.to_string())
                    .or_default() += 1;
            }
        }
    }

    /// Reads `otpgate_fraud_decisions_total{…,mode="shadow",decision="would_block"}`.
    pub(super) fn shadow_from_metrics(&mut self, text: &str) {
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("otpgate_fraud_decisions_total{") else {
                continue;
            };
            if !rest.contains("decision=\"would_block\"") {
                continue;
            }
            let rule = rest
                .split("rule=\"")
                .nth(1)
                .and_then(|r| r.split('"').next());
            let n = line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok());
            if let (Some(rule), Some(n)) = (rule, n) {
                *self
                    .would_block_by_rule
                    .entry(rule.to_string())
                    .or_default() += n;
            }
        }
    }

    pub fn blocked(&self) -> u64 {
        self.blocked_by_rule.values().sum()
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report is plain data")
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "send attempts: {}   sent: {}   blocked: {}   verifies: {}   verifies lost (send blocked): {}   skipped lines: {}",
            self.attempts,
            self.sent,
            self.blocked(),
            self.verifies,
            self.verifies_lost,
            self.skipped
        );
        for (title, map) in [
            ("blocked by rule", &self.blocked_by_rule),
            (
                "would block (shadow rules, let through)",
                &self.would_block_by_rule,
            ),
            ("blocked by prefix", &self.blocked_by_prefix),
        ] {
            let _ = writeln!(out, "\n{title}:");
            if map.is_empty() {
                let _ = writeln!(out, "  (none)");
            }
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (k, n) in rows {
                let _ = writeln!(out, "  {k:<28} {n:>8}");
            }
        }
        out
    }
}
