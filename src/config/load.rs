//! Reading a configuration file: every problem found at once, before any
//! port is bound (validate.rs does the checking).

use std::path::Path;

use super::validate;
use super::{Config, ConfigError, Problem};

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            problems: vec![Problem {
                key: "(file)".into(),
                line: None,
                message: format!("cannot read {}: {e}", path.display()),
            }],
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Validates configuration text. Relative paths are relative to the
    /// working directory, as in the documented example.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        validate::validate(text).map_err(|problems| ConfigError {
            source_name: source_name.to_string(),
            problems,
        })
    }
}
