//! Files a configuration names, tried through the real binary (issue 12):
//! relative paths are read from the config file's folder by `check-config`
//! and `run` alike, and every `*_file` secret follows one rule.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/cli.rs"]
mod cli;

use cli::{dir_with, otpgate, text, SECRET};

fn assert_has(t: &str, expected: &[&str]) {
    for e in expected {
        assert!(t.contains(e), "missing {e:?} in:\n{t}");
    }
}

/// An operator's layout: the config and everything it names in one
/// folder, written with relative paths, and otpgate started elsewhere.
fn etc_layout(root: &Path) -> std::path::PathBuf {
    let etc = root.join("etc");
    std::fs::create_dir_all(etc.join("pages")).unwrap();
    std::fs::create_dir_all(root.join("cwd")).unwrap();
    assert!(otpgate(root, &["gen-cert", "--dir", "etc/certs"])
        .status
        .success());
    std::fs::write(etc.join("session-secret"), format!("{SECRET}\n")).unwrap();
    std::fs::write(
        etc.join("otpgate.toml"),
        r#"[server]
listen = "127.0.0.1:0"
public_host = "shop.example.com"
[tls]
cert = "certs/cert.pem"
key = "certs/key.pem"
[upstream]
url = "http://127.0.0.1:9"
[brand]
templates_dir = "pages"
[session]
secret_file = "session-secret"
[sms]
provider = "file"
[sms.file]
path = "out/sms.jsonl"
[admin]
listen = "127.0.0.1:0"
[log]
audit_file = "audit.jsonl"
"#,
    )
    .unwrap();
    etc
}

#[test]
fn relative_paths_are_read_from_the_config_folder() {
    let root = tempfile::tempdir().unwrap();
    let etc = etc_layout(root.path());
    let cwd = root.path().join("cwd");
    let out = otpgate(
        &cwd,
        &["check-config", "-c", "../etc/otpgate.toml", "--strict"],
    );
    assert!(out.status.success(), "{}", text(&out));

    // The same files beside the working directory are not what is read:
    // without them in the config's folder, the absolute path is named.
    std::fs::rename(etc.join("session-secret"), cwd.join("session-secret")).unwrap();
    std::fs::rename(etc.join("certs"), cwd.join("certs")).unwrap();
    std::fs::rename(etc.join("pages"), cwd.join("pages")).unwrap();
    let out = otpgate(&cwd, &["check-config", "-c", "../etc/otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    let shown = std::fs::canonicalize(&etc).unwrap();
    let shown = shown.display();
    assert_has(
        &t,
        &[
            &format!("tls.cert: {shown}/certs/cert.pem does not exist"),
            &format!("tls.key: {shown}/certs/key.pem does not exist"),
            &format!("session.secret_file: cannot read {shown}/session-secret"),
            &format!("brand.templates_dir: {shown}/pages is not a directory"),
        ],
    );
}

#[test]
fn run_reads_relative_paths_from_the_config_folder() {
    let root = tempfile::tempdir().unwrap();
    let etc = etc_layout(root.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(["run", "-c", "../etc/otpgate.toml"])
        .current_dir(root.path().join("cwd"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let started = loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("otpgate listening") => break true,
            Some(Ok(line)) => seen.push(line),
            _ => break false,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started, "run did not start:\n{}", seen.join("\n"));
    // The audit trail went to the config's folder, not the working one.
    assert!(etc.join("audit.jsonl").exists());
    assert!(!root.path().join("cwd/audit.jsonl").exists());
}

#[test]
fn every_secret_file_follows_one_rule() {
    let dir = dir_with("");
    let twilio = |file: &str| {
        format!(
            "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret_file = \"session\"\n[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC0123\"\nauth_token_file = \"{file}\"\nfrom = \"+15005550006\"\n"
        )
    };
    // Session: one per line, rotation; a comment and a CRLF are fine.
    std::fs::write(
        dir.path().join("session"),
        format!("# new first\r\n{SECRET}-new\r\n\r\n{SECRET}\n"),
    )
    .unwrap();
    // A provider token as `echo` writes it: one line.
    std::fs::write(dir.path().join("token"), "tok-one-0123456789\n").unwrap();
    std::fs::write(dir.path().join("otpgate.toml"), twilio("token")).unwrap();
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert!(out.status.success(), "{}", text(&out));

    // Two tokens where one is meant: refused with key and line, no value.
    std::fs::write(
        dir.path().join("two"),
        "tok-one-0123456789\ntok-two-9876543210\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("otpgate.toml"), twilio("two")).unwrap();
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert_has(
        &t,
        &[
            "line 9: sms.twilio.auth_token_file:",
            "holds 2 lines; this key takes one secret",
        ],
    );
    assert!(!t.contains("tok-one") && !t.contains("tok-two"), "{t}");

    // An empty file is no secret, for either kind of key.
    std::fs::write(dir.path().join("session"), "\n# nothing\n").unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    std::fs::write(dir.path().join("otpgate.toml"), twilio("empty")).unwrap();
    let t = text(&otpgate(
        dir.path(),
        &["check-config", "-c", "otpgate.toml"],
    ));
    assert_has(
        &t,
        &[
            "line 4: session.secret_file:",
            "session holds no secret",
            "line 9: sms.twilio.auth_token_file:",
            "empty holds no secret",
        ],
    );
}
