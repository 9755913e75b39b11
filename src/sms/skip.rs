//! `[sms] skip_slow`: routing by measured delivery. A provider whose p95
//! (send → receipt, or send → code entered) or conversion over the window
//! is past a threshold, once it has `min_sends` sends there, is moved to
//! the end of its chain. Off unless configured.
//!
//! Recovery needs no probe: a skipped provider gets (almost) no sends, so
//! its bad minutes leave the window, it falls under `min_sends`, and it
//! is tried first again; if it is still slow, it is skipped again. The
//! last provider not skipped is never skipped: when every provider is
//! slow the chain keeps its configured order (a slow code beats none).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::sms::window::{Measured, Window};
use crate::validation::{duration, Problems};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSkipSlow {
    pub p95_above: Option<String>,
    pub conversion_below: Option<f64>,
    pub window: Option<String>,
    pub min_sends: Option<u32>,
}

/// A validated `skip_slow`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkipRule {
    pub p95_above: Option<Duration>,
    pub conversion_below: Option<f64>,
    pub window: Duration,
    pub min_sends: u32,
}

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

impl SkipRule {
    pub fn validate(raw: &RawSkipSlow, problems: &mut Problems) -> Option<SkipRule> {
        let before = problems.0.len();
        let p95_above = duration(
            problems,
            "sms.skip_slow.p95_above",
            raw.p95_above.as_deref(),
        );
        let window = duration(problems, "sms.skip_slow.window", raw.window.as_deref())
            .unwrap_or(DEFAULT_WINDOW);
        if let Some(c) = raw.conversion_below {
            if !(c > 0.0 && c <= 1.0) {
                problems.push(
                    "sms.skip_slow.conversion_below",
                    format!("`{c}` must be a fraction above 0 and at most 1 (e.g. 0.3)"),
                );
            }
        }
        if raw.p95_above.is_none() && raw.conversion_below.is_none() {
            problems.push(
                "sms.skip_slow",
                "set `p95_above` or `conversion_below` (or remove `skip_slow`)",
            );
        }
        if raw.min_sends == Some(0) {
            problems.push(
                "sms.skip_slow.min_sends",
                "must be at least 1: a provider is judged on its own sends",
            );
        }
        (problems.0.len() == before).then_some(SkipRule {
            p95_above,
            conversion_below: raw.conversion_below,
            window,
            min_sends: raw.min_sends.unwrap_or(20),
        })
    }

    /// Whether `m` is past a threshold, with enough sends to judge.
    pub fn slow(&self, m: &Measured) -> bool {
        if m.sent < self.min_sends {
            return false;
        }
        let late = match (self.p95_above, m.p95) {
            (Some(limit), Some(p95)) => p95 > limit.as_secs_f64(),
            _ => false,
        };
        let unconverted = match (self.conversion_below, m.conversion()) {
            (Some(floor), Some(c)) => c < floor,
            _ => false,
        };
        late || unconverted
    }
}

/// Which providers are skipped now, remembered to log changes.
#[derive(Default)]
pub struct Skipped {
    now: HashMap<&'static str, bool>,
}

/// A change of one provider's skip state, for the log and the gauge.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub provider: &'static str,
    pub skipped: bool,
}

impl Skipped {
    /// The chain's order for the next send: indexes into `chain`, the
    /// providers not skipped first (in their order), then the skipped.
    pub fn order(
        &mut self,
        rule: &SkipRule,
        window: &Window,
        chain: &[&'static str],
        now_ms: u64,
        changes: &mut Vec<Change>,
    ) -> Vec<usize> {
        let mut slow: Vec<bool> = chain
            .iter()
            .map(|p| rule.slow(&window.measured(p, now_ms)))
            .collect();
        // Never skip the last one left: all slow is no reason to reorder.
        if slow.iter().all(|s| *s) {
            slow.iter_mut().for_each(|s| *s = false);
        }
        for (name, s) in chain.iter().zip(&slow) {
            let was = self.now.insert(name, *s).unwrap_or(false);
            if was != *s {
                changes.push(Change {
                    provider: name,
                    skipped: *s,
                });
            }
        }
        let mut order: Vec<usize> = (0..chain.len()).filter(|i| !slow[*i]).collect();
        order.extend((0..chain.len()).filter(|i| slow[*i]));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, RawSkipSlow, SkipRule, Skipped};
    use crate::clock::{Clock, ManualClock};
    use crate::sms::window::Window;
    use crate::validation::Problems;
    use std::time::Duration;

    const MIN: Duration = Duration::from_secs(60);

    fn rule() -> SkipRule {
        SkipRule {
            p95_above: Some(Duration::from_secs(30)),
            conversion_below: Some(0.3),
            window: 15 * MIN,
            min_sends: 20,
        }
    }

    /// `n` sends by `p`, each with a receipt after `secs`, `verified` of
    /// them with the code entered.
    fn traffic(w: &mut Window, now: u64, p: &str, n: u32, secs: f64, verified: u32) {
        for i in 0..n {
            w.sent(p, now);
            w.receipt(p, now, secs);
            if i < verified {
                w.verified(p, now, secs + 5.0);
            }
        }
    }

    #[test]
    fn a_slow_provider_moves_to_the_end_and_recovers() {
        let clock = ManualClock::at(1_000_000_000);
        let mut w = Window::new(15 * MIN);
        let mut s = Skipped::default();
        let chain = ["twilio", "msg91", "vonage"];
        let mut changes = Vec::new();
        traffic(&mut w, clock.now_ms(), "twilio", 25, 45.0, 20);
        traffic(&mut w, clock.now_ms(), "msg91", 25, 4.0, 20);
        let order = s.order(&rule(), &w, &chain, clock.now_ms(), &mut changes);
        assert_eq!(order, [1, 2, 0]);
        let skipped = Change {
            provider: "twilio",
            skipped: true,
        };
        assert_eq!(changes, [skipped]);
        // Unchanged state logs nothing.
        changes.clear();
        s.order(&rule(), &w, &chain, clock.now_ms(), &mut changes);
        assert!(changes.is_empty());
        // Its slow minute leaves the window: tried first again.
        clock.advance(15 * MIN);
        let order = s.order(&rule(), &w, &chain, clock.now_ms(), &mut changes);
        assert_eq!(order, [0, 1, 2]);
        let back = Change {
            provider: "twilio",
            skipped: false,
        };
        assert_eq!(changes, [back]);
    }

    #[test]
    fn low_conversion_skips_and_too_few_sends_do_not() {
        let now = 1_000_000_000;
        let mut w = Window::new(15 * MIN);
        let mut changes = Vec::new();
        // Fast receipts, but codes nobody enters (e.g. pumped or dropped).
        traffic(&mut w, now, "twilio", 30, 2.0, 5);
        traffic(&mut w, now, "msg91", 19, 200.0, 0);
        let order = Skipped::default().order(&rule(), &w, &["twilio", "msg91"], now, &mut changes);
        assert_eq!(order, [1, 0], "msg91 has too few sends to be judged");
        // Exactly the floor is not below it.
        let mut w = Window::new(15 * MIN);
        traffic(&mut w, now, "twilio", 20, 2.0, 6);
        let order = Skipped::default().order(&rule(), &w, &["twilio", "msg91"], now, &mut changes);
        assert_eq!(order, [0, 1]);
    }

    #[test]
    fn never_skips_the_last_provider_left() {
        let now = 1_000_000_000;
        let mut w = Window::new(15 * MIN);
        let mut changes = Vec::new();
        traffic(&mut w, now, "twilio", 25, 100.0, 0);
        let mut s = Skipped::default();
        assert_eq!(s.order(&rule(), &w, &["twilio"], now, &mut changes), [0]);
        traffic(&mut w, now, "msg91", 25, 100.0, 0);
        let both = ["twilio", "msg91"];
        assert_eq!(s.order(&rule(), &w, &both, now, &mut changes), [0, 1]);
        assert!(changes.is_empty(), "nothing was skipped");
    }

    #[test]
    fn validation_names_the_key() {
        let mut problems = Problems::default();
        let raw = RawSkipSlow {
            conversion_below: Some(1.5),
            min_sends: Some(0),
            window: Some("soon".into()),
            ..RawSkipSlow::default()
        };
        assert!(SkipRule::validate(&raw, &mut problems).is_none());
        let keys: Vec<&str> = problems.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sms.skip_slow.window",
                "sms.skip_slow.conversion_below",
                "sms.skip_slow.min_sends"
            ]
        );
        let mut problems = Problems::default();
        let empty = RawSkipSlow::default();
        assert!(SkipRule::validate(&empty, &mut problems).is_none());
        assert_eq!(problems.0[0].0, "sms.skip_slow");
    }
}
