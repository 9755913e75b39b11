//! How every secret in the configuration is read, once for all sections
//! (`[session]`, `[store]`, the SMS providers): written literally, as
//! `"${ENV_VAR}"`, or in a file named by the key's `*_file` twin.
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

use crate::config::Secret;

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

#[cfg(test)]
mod tests {
    use super::{one_secret_file, secret_file, secret_value};

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn exposed(list: Vec<crate::config::Secret>) -> Vec<String> {
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
