//! The real binary run as an operator would, for the config tests
//! (`config_cli.rs`, `config_check.rs`, `config_files.rs`, `dlt.rs`); each
//! uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

pub fn otpgate(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(args)
        .current_dir(cwd)
        .env("OTPGATE_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A folder with `certs/` and `config` as `otpgate.toml`.
pub fn dir_with(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(otpgate(dir.path(), &["gen-cert"]).status.success());
    std::fs::write(dir.path().join("otpgate.toml"), config).unwrap();
    dir
}
