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
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            problems: vec![Problem {
                key: "(file)".into(),
                line: None,
                message: format!("cannot read {}: {e}", path.display()),
            }],
        })?;
        let folder = folder_of(path);
        validate::validate(&text, Some(&folder)).map_err(|problems| ConfigError {
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
