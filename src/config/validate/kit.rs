//! The helpers every section's validation uses: problems with their key
//! and line, durations, addresses, bounded integers, secrets.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::schema::Locator;
use crate::config::{Problem, Secret};

pub const DEFAULT_MESSAGE: &str =
    "{code} is your {brand} code. Valid {ttl_minutes} min. Never share it.\n\n@{host} #{code}";

/// Collects problems; `line` is filled in from the key's position.
pub(super) struct Problems<'a> {
    pub(super) locator: Locator<'a>,
    pub(super) list: Vec<Problem>,
}

impl Problems<'_> {
    pub(super) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.list.push(Problem {
            key: key.to_string(),
            line: self.locator.line(key),
            message: message.into(),
        });
    }
}

/// `"15m"`, `"2s"`, `"24h"`: any positive duration humantime reads.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if d.is_zero() => Err(format!("`{value}` must be a positive duration")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "`{value}` is not a duration ({e}); write e.g. \"2s\", \"15m\", \"24h\""
        )),
    }
}

pub(super) fn duration(
    p: &mut Problems,
    key: &str,
    value: Option<&String>,
    default: &str,
) -> Duration {
    let text = value.map(String::as_str).unwrap_or(default);
    parse_duration(text).unwrap_or_else(|e| {
        p.add(key, e);
        Duration::from_secs(1)
    })
}

pub(super) fn addr(p: &mut Problems, key: &str, value: &str) -> Option<SocketAddr> {
    match value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.add(
                key,
                format!("`{value}` is not an IP:port address (e.g. \"0.0.0.0:8443\")"),
            );
            None
        }
    }
}

pub(super) fn int_in(
    p: &mut Problems,
    key: &str,
    value: Option<i64>,
    default: i64,
    lo: i64,
    hi: i64,
) -> i64 {
    let v = value.unwrap_or(default);
    if v < lo || v > hi {
        p.add(key, format!("{v} is out of range {lo}..={hi}"));
        default
    } else {
        v
    }
}

/// A secret written literally or as `"${ENV_VAR}"`. Never echoes the value.
pub(super) fn secret(p: &mut Problems, key: &str, value: &str) -> Option<Secret> {
    let trimmed = value.trim();
    if let Some(var) = trimmed.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                p.add(key, format!("environment variable {var} is not set"));
                None
            }
        };
    }
    Some(Secret::new(value.to_string()))
}

pub(super) fn secret_file(p: &mut Problems, key: &str, path: &str) -> Vec<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| Secret::new(l.to_string()))
            .collect(),
        Err(e) => {
            p.add(key, format!("cannot read {path}: {}", e.kind()));
            Vec::new()
        }
    }
}
