//! Rate-limited log lines: during an outage every failed request has the
//! same cause, and one WARN per request (4,800 lines in 12 s, issue 17)
//! buries the log and costs I/O when it can least be afforded. A
//! [`LogLimit`] lets one line per interval through and counts the rest, so
//! the next line that passes says how many were suppressed.
//!
//! ```
//! use otpgate::ratelog::LogLimit;
//! static UPSTREAM_DOWN: LogLimit = LogLimit::per_second();
//! if let Some(suppressed) = UPSTREAM_DOWN.check() {
//!     tracing::warn!(suppressed, "upstream connect failed");
//! }
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One kind of log line, allowed at most once per `interval`.
pub struct LogLimit {
    interval: Duration,
    /// The last time a line passed, and how many were held back since.
    /// A plain mutex: held for a few instructions, never across an await.
    state: Mutex<State>,
}

struct State {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    pub const fn new(interval: Duration) -> Self {
        LogLimit {
            interval,
            state: Mutex::new(State {
                last: None,
                suppressed: 0,
            }),
        }
    }

    pub const fn per_second() -> Self {
        LogLimit::new(Duration::from_secs(1))
    }

    /// `Some(n)` when a line may be written now, `n` being how many were
    /// suppressed since the last one; `None` when this one is suppressed.
    pub fn check(&self) -> Option<u64> {
        self.check_at(Instant::now())
    }

    /// [`LogLimit::check`] at a given time (tests).
    pub fn check_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                s.suppressed += 1;
                None
            }
            _ => {
                s.last = Some(now);
                Some(std::mem::take(&mut s.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_of_the_rest() {
        let limit = LogLimit::per_second();
        let t0 = Instant::now();
        assert_eq!(limit.check_at(t0), Some(0));
        for i in 1..=99 {
            assert_eq!(limit.check_at(t0 + Duration::from_millis(i * 10)), None);
        }
        // 99 held back within the second; the next line reports them.
        assert_eq!(limit.check_at(t0 + Duration::from_secs(1)), Some(99));
        assert_eq!(limit.check_at(t0 + Duration::from_millis(1500)), None);
        assert_eq!(limit.check_at(t0 + Duration::from_secs(3)), Some(1));
        assert_eq!(limit.check_at(t0 + Duration::from_secs(5)), Some(0));
    }

    #[test]
    fn kinds_are_limited_separately() {
        let a = LogLimit::per_second();
        let b = LogLimit::per_second();
        let t0 = Instant::now();
        assert_eq!(a.check_at(t0), Some(0));
        assert_eq!(b.check_at(t0), Some(0));
        assert_eq!(a.check_at(t0), None);
    }
}
