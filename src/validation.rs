//! The configuration toolkit, one for every section (`config/` and
//! `sms/`): problems with their dotted keys, durations, required values,
//! secrets (inline, `${VAR}` or `*_file`), base URLs and "did you mean".
//! One copy of each rule, so two sections cannot read the same kind of
//! key two ways.

use std::time::Duration;

use crate::secret::Secret;

/// Problems found while validating, each with its dotted key.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }
}

/// Parses a positive humantime duration (`"5s"`, `"1500ms"`).
pub fn duration(problems: &mut Problems, key: &str, value: Option<&str>) -> Option<Duration> {
    let value = value?;
    match humantime::parse_duration(value) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            problems.push(key, "must be a positive duration");
            None
        }
        Err(_) => {
            problems.push(key, format!("\"{value}\" is not a duration like \"5s\""));
            None
        }
    }
}

/// A required plain value: present and not blank.
pub fn required(problems: &mut Problems, key: &str, value: Option<&String>) -> Option<String> {
    match value.map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Some(v.to_owned()),
        Some(_) => {
            problems.push(key, "must not be empty");
            None
        }
        None => {
            problems.push(key, "missing");
            None
        }
    }
}

/// A secret from `key = "…"`, `key = "${VAR}"` or `key_file = "path"`.
/// Returns `None` (without a problem) when neither is given; callers decide
/// whether it was required. Messages never include the value.
pub fn secret(
    problems: &mut Problems,
    key: &str,
    value: Option<&Secret>,
    file: Option<&String>,
) -> Option<Secret> {
    let raw = match (value, file) {
        (Some(_), Some(_)) => {
            problems.push(key, format!("give either {key} or {key}_file, not both"));
            return None;
        }
        (None, None) => return None,
        (Some(v), None) => match env_reference(v.expose()) {
            Some(var) => match std::env::var(var) {
                Ok(v) => v,
                Err(_) => {
                    problems.push(key, format!("environment variable {var} is not set"));
                    return None;
                }
            },
            None => v.expose().to_owned(),
        },
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(v) => v.trim_end_matches(['\r', '\n']).to_owned(),
            Err(err) => {
                problems.push(format!("{key}_file"), format!("cannot read {path}: {err}"));
                return None;
            }
        },
    };
    if raw.trim().is_empty() {
        problems.push(key, "must not be empty");
        return None;
    }
    Some(Secret::new(raw))
}

fn env_reference(value: &str) -> Option<&str> {
    value.strip_prefix("${")?.strip_suffix('}')
}

/// An `http(s)` base URL without query or fragment, returned without a
/// trailing `/` so paths can be appended.
pub fn base_url(
    problems: &mut Problems,
    key: &str,
    value: Option<&String>,
    default: &str,
) -> Option<String> {
    let value = value.map(String::as_str).unwrap_or(default);
    match reqwest::Url::parse(value) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none() =>
        {
            Some(value.trim_end_matches('/').to_owned())
        }
        Ok(_) => {
            problems.push(
                key,
                "must be an http(s) URL without credentials, query or fragment",
            );
            None
        }
        Err(err) => {
            problems.push(key, format!("not a URL: {err}"));
            None
        }
    }
}

/// The closest known name within two edits, for "did you mean" hints.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (here + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = here;
        }
    }
    row[b.len()]
}
