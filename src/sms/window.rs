//! A sliding window of delivery times and conversions per provider, for
//! `otpgate_delivery_p95_seconds` and the `skip_slow` rule (skip.rs).
//!
//! Written by hand: the window is [`SLOTS`] slots of fixed bucket counts
//! (what a Prometheus histogram keeps, rotated), a few hundred bytes per
//! provider whatever the traffic. A crate such as `hdrhistogram` gives
//! exact quantiles but no sliding window; rotating several of them would
//! be more code than this. The p95 is the upper bound of the bucket the
//! 95th observation falls in (as `histogram_quantile` would, without the
//! interpolation), so it errs on the slow side.

use std::collections::HashMap;
use std::time::Duration;

/// Upper bounds (seconds) of the window's buckets; the last catches all.
pub const BOUNDS: [f64; 16] = [
    1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 900.0,
];

/// Slots per window: one minute each for the default 15-minute window.
pub const SLOTS: usize = 15;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// `now / slot_ms` when the slot was last written; older is empty.
    epoch: u64,
    receipts: [u32; BOUNDS.len()],
    verifies: [u32; BOUNDS.len()],
    sent: u32,
    verified: u32,
}

/// What the window says of one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Send → delivery receipt, or send → code entered when no receipt
    /// arrived in the window (providers without receipts).
    pub p95: Option<f64>,
    pub sent: u32,
    pub verified: u32,
}

impl Measured {
    /// verified ÷ sent, `None` before any send.
    pub fn conversion(&self) -> Option<f64> {
        (self.sent > 0).then(|| f64::from(self.verified) / f64::from(self.sent))
    }
}

/// Per provider, the last `window` of sends, receipts and verifications.
pub struct Window {
    slot_ms: u64,
    providers: HashMap<String, [Slot; SLOTS]>,
}

enum Event {
    Sent,
    Receipt(f64),
    Verified(f64),
}

impl Window {
    pub fn new(window: Duration) -> Self {
        Window {
            slot_ms: (window.as_millis() as u64 / SLOTS as u64).max(1),
            providers: HashMap::new(),
        }
    }

    pub fn sent(&mut self, provider: &str, now_ms: u64) {
        self.record(provider, now_ms, Event::Sent);
    }

    /// A delivery receipt `secs` after the send.
    pub fn receipt(&mut self, provider: &str, now_ms: u64, secs: f64) {
        self.record(provider, now_ms, Event::Receipt(secs));
    }

    /// A code entered correctly `secs` after the send.
    pub fn verified(&mut self, provider: &str, now_ms: u64, secs: f64) {
        self.record(provider, now_ms, Event::Verified(secs));
    }

    fn record(&mut self, provider: &str, now_ms: u64, event: Event) {
        let epoch = now_ms / self.slot_ms;
        // Provider names come from our own chains (a handful), never
        // from a request.
        let slots = self
            .providers
            .entry(provider.to_owned())
            .or_insert([Slot::default(); SLOTS]);
        let slot = &mut slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Slot {
                epoch,
                ..Slot::default()
            };
        }
        match event {
            Event::Sent => slot.sent += 1,
            Event::Receipt(secs) => slot.receipts[bucket(secs)] += 1,
            Event::Verified(secs) => {
                slot.verified += 1;
                slot.verifies[bucket(secs)] += 1;
            }
        }
    }

    /// The providers seen so far.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    pub fn measured(&self, provider: &str, now_ms: u64) -> Measured {
        let epoch = now_ms / self.slot_ms;
        let mut receipts = [0u32; BOUNDS.len()];
        let mut verifies = [0u32; BOUNDS.len()];
        let (mut sent, mut verified) = (0, 0);
        let live = self
            .providers
            .get(provider)
            .into_iter()
            .flatten()
            .filter(|s| {
                // The current slot and the SLOTS - 1 before it.
                s.epoch <= epoch && epoch - s.epoch < SLOTS as u64
            });
        for s in live {
            for i in 0..BOUNDS.len() {
                receipts[i] += s.receipts[i];
                verifies[i] += s.verifies[i];
            }
            sent += s.sent;
            verified += s.verified;
        }
        let p95 = p95(&receipts).or_else(|| p95(&verifies));
        Measured {
            p95,
            sent,
            verified,
        }
    }
}

fn bucket(secs: f64) -> usize {
    BOUNDS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(BOUNDS.len() - 1)
}

fn p95(counts: &[u32; BOUNDS.len()]) -> Option<f64> {
    let total: u64 = counts.iter().map(|c| u64::from(*c)).sum();
    if total == 0 {
        return None;
    }
    // The smallest bucket holding at least 95 % of the observations.
    let rank = (total * 95).div_ceil(100);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += u64::from(*c);
        if seen >= rank {
            return Some(BOUNDS[i]);
        }
    }
    BOUNDS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::Window;
    use crate::clock::{Clock, ManualClock};
    use std::time::Duration;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn p95_is_the_bucket_of_the_95th_receipt() {
        let clock = ManualClock::at(1_000_000_000);
        let mut w = Window::new(15 * MIN);
        for _ in 0..95 {
            w.receipt("twilio", clock.now_ms(), 2.5);
        }
        assert_eq!(w.measured("twilio", clock.now_ms()).p95, Some(3.0));
        // Six slow ones out of 101: the 95th observation is now slow.
        for _ in 0..6 {
            w.receipt("twilio", clock.now_ms(), 40.0);
        }
        assert_eq!(w.measured("twilio", clock.now_ms()).p95, Some(45.0));
        assert_eq!(w.measured("msg91", clock.now_ms()).p95, None);
    }

    #[test]
    fn verify_times_stand_in_only_without_receipts() {
        let clock = ManualClock::at(1_000_000_000);
        let mut w = Window::new(15 * MIN);
        w.sent("webhook", clock.now_ms());
        w.verified("webhook", clock.now_ms(), 12.0);
        let m = w.measured("webhook", clock.now_ms());
        assert_eq!((m.p95, m.sent, m.verified), (Some(15.0), 1, 1));
        assert_eq!(m.conversion(), Some(1.0));
        w.receipt("webhook", clock.now_ms(), 0.5);
        assert_eq!(w.measured("webhook", clock.now_ms()).p95, Some(1.0));
    }

    #[test]
    fn old_slots_leave_the_window() {
        let clock = ManualClock::at(1_000_000_000);
        let mut w = Window::new(15 * MIN);
        w.sent("twilio", clock.now_ms());
        w.receipt("twilio", clock.now_ms(), 100.0);
        clock.advance(14 * MIN);
        w.sent("twilio", clock.now_ms());
        let m = w.measured("twilio", clock.now_ms());
        assert_eq!((m.sent, m.p95), (2, Some(120.0)));
        // 15 minutes on, the first minute is out, and its slot reused
        // by a later write starts empty rather than adding to it.
        clock.advance(MIN);
        let m = w.measured("twilio", clock.now_ms());
        assert_eq!((m.sent, m.p95), (1, None));
        clock.advance(14 * MIN);
        w.sent("twilio", clock.now_ms());
        let m = w.measured("twilio", clock.now_ms());
        assert_eq!(m.sent, 1, "a reused slot starts empty");
        // A clock that went back reads no slot from the future.
        assert_eq!(w.measured("twilio", clock.now_ms() - 30 * 60_000).sent, 0);
    }
}
