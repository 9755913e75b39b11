//! The audit trail of a test, as the gateway writes it: the audit layer
//! set as this thread's subscriber, into a file (the gateway runs on the
//! test's single-threaded runtime, so it writes here).

use std::path::PathBuf;

use otpgate::audit::{AuditLayer, AuditSink};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

pub struct Trail {
    pub path: PathBuf,
    _guard: tracing::subscriber::DefaultGuard,
    _dir: tempfile::TempDir,
}

pub fn trail() -> Trail {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let subscriber =
        tracing_subscriber::registry().with(AuditLayer::new(AuditSink::file(&path).unwrap()));
    Trail {
        path,
        _guard: tracing::subscriber::set_default(subscriber),
        _dir: dir,
    }
}

impl Trail {
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    pub fn events(&self, event: &str) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["event"] == event)
            .collect()
    }
}
