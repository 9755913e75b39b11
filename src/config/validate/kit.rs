//! The helpers every section's validation uses: problems (and advice) with
//! their key and line, durations, addresses, bounded integers, secrets,
//! values from a fixed set, default paths. The rules themselves are the
//! toolkit's (`crate::validation`), shared with `[sms]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::paths::resolve;
use crate::config::schema::Locator;
use crate::config::{Problem, Secret};
use crate::validation::{not_one_of, parse_duration, secret_value};

pub const DEFAULT_MESSAGE: &str =
    "{code} is your {brand} code. Valid {ttl_minutes} min. Never share it.\n\n@{host} #{code}";

/// Collects problems and advice; `line` is filled in from the key's position.
pub(super) struct Problems<'a> {
    pub(super) locator: Locator<'a>,
    pub(super) list: Vec<Problem>,
    /// Settings weaker than a standard the README cites: printed, fatal only
    /// under `check-config --strict`.
    pub(super) advice: Vec<Problem>,
    /// The config file's folder, for relative paths (`paths.rs`).
    pub(super) folder: Option<&'a Path>,
}

impl Problems<'_> {
    pub(super) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.list.push(Problem {
            key: key.to_string(),
            line: self.locator.line(key),
            message: message.into(),
        });
    }

    pub(super) fn warn(&mut self, key: &str, message: impl Into<String>) {
        self.advice.push(Problem {
            key: key.to_string(),
            line: self.locator.line(key),
            message: message.into(),
        });
    }

    /// `value` if it is one of `valid`, else a problem listing them.
    pub(super) fn choice<'v>(
        &mut self,
        key: &str,
        value: &'v str,
        valid: &[&str],
    ) -> Option<&'v str> {
        if valid.contains(&value) {
            Some(value)
        } else {
            self.add(key, not_one_of(value, valid));
            None
        }
    }

    /// A path key's default, resolved like a path written in the file.
    pub(super) fn default_path(&self, value: &str) -> PathBuf {
        resolve(self.folder, value)
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
    secret_value(value).map_err(|e| p.add(key, e)).ok()
}
