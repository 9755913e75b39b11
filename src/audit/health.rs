//! Whether the audit trail is being written. A failed write (full disk,
//! quota, `RLIMIT_FSIZE`, a dead stderr) must never pass silently: it is
//! counted (`otpgate_audit_write_failures_total`), logged to the operator
//! log (at most one line per [`LOG_EVERY`], with the count since the last
//! one, so a full disk under load does not flood the log as well),
//! reported by `/readyz`, and with `[log] audit_required = true` it stops
//! sign-ins until a write succeeds again.
//!
//! The state is process-wide because the trail is: the audit layer is the
//! global tracing subscriber's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// Not `otpgate::audit…`: these lines belong in the operator log, and the
/// operator log filters the audit target out (and an `otpgate::audit`
/// prefix would match that filter).
pub const LOG_TARGET: &str = "otpgate::trail";

pub const LOG_EVERY: Duration = Duration::from_secs(5);

static FAILURES: LazyLock<Counter> = LazyLock::new(Counter::default);
static FAILING: AtomicBool = AtomicBool::new(false);
/// When the last failure line was logged, and failures since.
static LOGGED: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

/// The failure counter, for the metrics registry.
pub fn write_failures() -> &'static Counter {
    &FAILURES
}

/// `false` while the last audit write failed.
pub fn writable() -> bool {
    !FAILING.load(Ordering::Acquire)
}

/// A line for the operator log about the trail.
enum Report {
    Failing {
        error: String,
        failures: u64,
        total: u64,
    },
    Recovered {
        unlogged: u64,
    },
}

/// Hands `r` to a logging thread, which logs through the global
/// subscriber: the outcome is recorded inside the audit layer's
/// `on_event`, where tracing drops any event dispatched re-entrantly.
fn report(r: Report) {
    static TX: OnceLock<Sender<Report>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = channel::<Report>();
        let _ = std::thread::Builder::new()
            .name("audit-health".into())
            .spawn(move || {
                for r in rx {
                    match r {
                        Report::Failing {
                            error,
                            failures,
                            total,
                        } => tracing::error!(
                            target: LOG_TARGET,
                            error,
                            failures,
                            total,
                            "audit events are being lost: cannot write the audit trail"
                        ),
                        Report::Recovered { unlogged } => tracing::warn!(
                            target: LOG_TARGET,
                            unlogged_failures = unlogged,
                            "audit trail writable again"
                        ),
                    }
                }
            });
        tx
    });
    let _ = tx.send(r);
}

/// Records the outcome of one audit write. Call without holding the
/// sink's lock.
pub(super) fn record(result: std::io::Result<()>) {
    match result {
        Ok(()) => {
            if FAILING.swap(false, Ordering::AcqRel) {
                let lost = LOGGED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .map_or(0, |(_, n)| n);
                report(Report::Recovered { unlogged: lost });
            }
        }
        Err(e) => {
            FAILURES.inc();
            FAILING.store(true, Ordering::Release);
            let now = Instant::now();
            let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
            let due = match &mut *logged {
                Some((at, n)) if now.duration_since(*at) < LOG_EVERY => {
                    *n += 1;
                    None
                }
                Some((at, n)) => {
                    let since = *n + 1;
                    *at = now;
                    *n = 0;
                    Some(since)
                }
                None => {
                    *logged = Some((now, 0));
                    Some(1)
                }
            };
            drop(logged);
            if let Some(failures) = due {
                report(Report::Failing {
                    error: e.to_string(),
                    failures,
                    total: FAILURES.get(),
                });
            }
        }
    }
}
