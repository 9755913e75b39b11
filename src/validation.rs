//! The configuration toolkit, one for every section (`config/` and
//! `sms/`): problems with their dotted keys, durations, required values,
//! secrets (inline, `${VAR}` or `*_file`), base URLs and "did you mean".
//! One copy of each rule, so two sections cannot read the same kind of
//! key two ways.
//!
//! The one `*_file` rule: **one secret per line**. Surrounding whitespace
//! (and a CRLF) is trimmed, blank lines and lines starting with `#` are
//! skipped. `session.secret_file` takes one or more lines (the first seals
//! new cookies, the others still open old ones: rotation); every other
//! `*_file` holds exactly one. So a key file written by `echo`, by an editor
//! that adds a final newline or by systemd's `LoadCredential` reads the
//! same, and a file with two tokens where one is meant is refused instead of
//! sending a provider half of it. Messages never include a value.

use std::path::Path;
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

/// An optional duration key, by [`parse_duration`].
pub fn duration(problems: &mut Problems, key: &str, value: Option<&str>) -> Option<Duration> {
    parse_duration(value?)
        .map_err(|e| problems.push(key, e))
        .ok()
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
    match (value, file) {
        (Some(_), Some(_)) => {
            problems.push(key, format!("give either {key} or {key}_file, not both"));
            None
        }
        (None, None) => None,
        (Some(v), None) => secret_value(v.expose())
            .map_err(|e| problems.push(key, e))
            .ok(),
        // The path is already resolved against the config file's folder.
        (None, Some(path)) => one_secret_file(Path::new(path))
            .map_err(|e| problems.push(format!("{key}_file"), e))
            .ok(),
    }
}

/// A secret written in the file itself: `"${VAR}"` reads the environment
/// variable, anything else is the secret.
pub fn secret_value(value: &str) -> Result<Secret, String> {
    let trimmed = value.trim();
    if let Some(var) = trimmed.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
            Ok(_) => Err(format!("environment variable {var} is empty")),
            Err(_) => Err(format!("environment variable {var} is not set")),
        };
    }
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Secret::new(value.to_string()))
}

/// Every secret in the file at `path` (already resolved, `paths.rs`), one
/// per line; at least one.
pub fn secret_file(path: &Path) -> Result<Vec<Secret>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
    let secrets: Vec<Secret> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(Secret::new)
        .collect();
    if secrets.is_empty() {
        return Err(format!("{} holds no secret", path.display()));
    }
    Ok(secrets)
}

/// The one secret in the file at `path`, for keys that take one.
pub fn one_secret_file(path: &Path) -> Result<Secret, String> {
    let mut secrets = secret_file(path)?;
    if secrets.len() > 1 {
        return Err(format!(
            "{} holds {} lines; this key takes one secret (only session.secret_file takes several, for rotation)",
            path.display(),
            secrets.len()
        ));
    }
    Ok(secrets.remove(0))
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

/// The known name closest to `name`, if one is close enough to be what was
/// meant: at most 2 edits (a quarter of the name for long ones), counting a
/// swap of two neighbours as one edit (Damerau–Levenshtein), ignoring case.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Why `value` is refused for a key that takes one of `valid`: the list,
/// and the closest one when there is one.
pub fn not_one_of(value: &str, valid: &[&str]) -> String {
    let list = valid
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(value, valid) {
        Some(s) => format!("`{value}` is not one of {list} (did you mean \"{s}\"?)"),
        None => format!("`{value}` is not one of {list}"),
    }
}

#[cfg(test)]
mod secret_tests {
    use super::{one_secret_file, secret_file, secret_value};

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn exposed(list: Vec<crate::secret::Secret>) -> Vec<String> {
        list.iter().map(|s| s.expose().to_string()).collect()
    }

    #[test]
    fn one_secret_per_line_trimmed_comments_skipped() {
        let f = file("# rotated 2026-01\r\n  new-secret  \r\n\nold-secret\n");
        assert_eq!(
            exposed(secret_file(f.path()).unwrap()),
            ["new-secret", "old-secret"]
        );
        // The same token written by echo, printf or an editor reads the same.
        for text in ["tok\n", "tok", "tok\r\n", "\ntok\n\n"] {
            let f = file(text);
            assert_eq!(
                one_secret_file(f.path()).unwrap().expose(),
                "tok",
                "{text:?}"
            );
        }
    }

    #[test]
    fn single_secret_keys_refuse_several_and_none() {
        let f = file("first-token\nsecond-token\n");
        let e = one_secret_file(f.path()).err().unwrap();
        assert!(e.contains("holds 2 lines"), "{e}");
        assert!(!e.contains("token"), "no value in messages: {e}");
        let f = file("\n# only a comment\n");
        assert!(secret_file(f.path())
            .err()
            .unwrap()
            .contains("holds no secret"));
        let e = secret_file(std::path::Path::new("/nonexistent/otpgate"))
            .err()
            .unwrap();
        assert!(e.contains("cannot read /nonexistent/otpgate"), "{e}");
    }

    #[test]
    fn environment_references() {
        // PATH is set in every test environment; no variable is mutated.
        assert_eq!(
            secret_value("${PATH}").unwrap().expose(),
            std::env::var("PATH").unwrap()
        );
        let e = secret_value("${OTPGATE_SECRETS_RS_UNSET}").err().unwrap();
        assert_eq!(
            e,
            "environment variable OTPGATE_SECRETS_RS_UNSET is not set"
        );
        assert_eq!(secret_value("literal").unwrap().expose(), "literal");
        assert!(secret_value("  ").is_err());
    }
}

#[cfg(test)]
mod suggest_tests {
    use super::{did_you_mean, not_one_of};

    #[test]
    fn suggests_the_close_name_only() {
        let keys = ["listen", "redirect_http", "public_host"];
        assert_eq!(did_you_mean("listn", &keys), Some("listen"));
        assert_eq!(
            did_you_mean("lisetn", &keys),
            Some("listen"),
            "a swap is one edit"
        );
        assert_eq!(did_you_mean("LISTEN", &keys), Some("listen"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(
            did_you_mean("twilo", &["console", "twilio"]),
            Some("twilio")
        );
        assert_eq!(did_you_mean("x", &["ip"]), None);
    }

    #[test]
    fn names_every_valid_value() {
        assert_eq!(
            not_one_of("jsn", &["text", "json"]),
            "`jsn` is not one of \"text\", \"json\" (did you mean \"json\"?)"
        );
        assert_eq!(
            not_one_of("maybe", &["otp", "none"]),
            "`maybe` is not one of \"otp\", \"none\""
        );
    }
}
