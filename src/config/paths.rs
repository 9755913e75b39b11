//! Where a relative path in the configuration points: the folder of the
//! file that names it, as nginx reads `include` and systemd units are
//! written, so `otpgate run -c /etc/otpgate/otpgate.toml` reads
//! `certs/cert.pem` as `/etc/otpgate/certs/cert.pem` whatever the working
//! directory of the service manager (issue 12). Text without a file (the
//! demo, tests) has no folder: its relative paths stay relative to the
//! working directory.

use std::path::{Path, PathBuf};

/// The folder relative paths of the file at `config` are read from, made
/// absolute (and without `..`, for readable messages) so that a later
/// working-directory change cannot move it.
pub fn folder_of(config: &Path) -> PathBuf {
    let parent = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::canonicalize(parent)
        .or_else(|_| std::path::absolute(parent))
        .unwrap_or_else(|_| parent.to_path_buf())
}

/// `value` as the path it names: absolute ones as written, relative ones
/// under `folder` when there is one. Every path key goes through here.
pub fn resolve(folder: Option<&Path>, value: &str) -> PathBuf {
    let path = Path::new(value);
    match folder {
        Some(dir) if path.is_relative() && !value.is_empty() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::{folder_of, resolve};
    use std::path::{Path, PathBuf};

    #[test]
    fn relative_paths_are_read_from_the_config_folder() {
        let etc = Some(Path::new("/etc/otpgate"));
        assert_eq!(
            resolve(etc, "certs/cert.pem"),
            PathBuf::from("/etc/otpgate/certs/cert.pem")
        );
        assert_eq!(
            resolve(etc, "../secrets/s"),
            PathBuf::from("/etc/otpgate/../secrets/s")
        );
        assert_eq!(
            resolve(etc, "/run/secrets/s"),
            PathBuf::from("/run/secrets/s")
        );
        // Without a file (the demo): the working directory, as before.
        assert_eq!(
            resolve(None, "certs/cert.pem"),
            PathBuf::from("certs/cert.pem")
        );
        // An empty path stays empty, for validation to refuse.
        assert_eq!(resolve(etc, ""), PathBuf::from(""));
    }

    #[test]
    fn the_folder_is_absolute() {
        let cwd = std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap();
        assert_eq!(folder_of(Path::new("otpgate.toml")), cwd);
        assert_eq!(folder_of(Path::new("conf/otpgate.toml")), cwd.join("conf"));
        assert_eq!(
            folder_of(Path::new("/etc/otpgate/otpgate.toml")),
            PathBuf::from("/etc/otpgate")
        );
    }
}
