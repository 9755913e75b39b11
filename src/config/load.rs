//! Reading a configuration file: every problem found at once, before any
//! port is bound (validate.rs does the checking).

use std::path::Path;

use super::paths::folder_of;
use super::validate;
use super::{Config, ConfigError, Problem};

impl Config {
    /// Reads and validates the file at `path`; relative paths in it are
    /// read from its folder (`paths.rs`), for `run` and `check-config` alike.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, validate::Dlt::Compare)
    }

    /// Reads and validates the file at `path` without comparing the SMS
    /// texts with the registered DLT templates: `otpgate dlt-template`
    /// prints the texts to register, which is how a mismatch gets fixed.
    pub fn load_before_dlt(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, validate::Dlt::Skip)
    }

    fn load_with(path: &Path, dlt: validate::Dlt) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            problems: vec![Problem {
                key: "(file)".into(),
                line: None,
                message: format!("cannot read {}: {e}", path.display()),
            }],
        })?;
        let folder = folder_of(path);
        validate::validate_with(&text, Some(&folder), dlt).map_err(|problems| ConfigError {
            source_name: path.display().to_string(),
            problems,
        })
    }

    /// Validates configuration text that has no file (the demo, tests):
    /// relative paths are relative to the working directory.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        validate::validate(text, None).map_err(|problems| ConfigError {
            source_name: source_name.to_string(),
            problems,
        })
    }
}
