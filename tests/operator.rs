//! Small things an operator expects of the binary: `--version`, shell
//! completions, `otpgate_build_info`, and logs without colour codes when
//! standard error is not a terminal.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{gateway, upstream};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn otpgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn version_names_the_package_version() {
    for flag in ["--version", "-V"] {
        let out = otpgate(&[flag]);
        assert!(out.status.success(), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("otpgate {VERSION}"),
            "{flag}"
        );
    }
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    // What each shell's script must contain to be loadable by that shell.
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef otpgate"),
        ("fish", "complete -c otpgate"),
    ] {
        let out = otpgate(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains(marker),
            "{shell}: no {marker:?} in\n{script}"
        );
        for sub in ["check-config", "gen-secret", "completions"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
    }
    let out = otpgate(&["completions", "tcsh"]);
    assert!(!out.status.success(), "an unknown shell is an error");
}

#[tokio::test]
async fn build_info_carries_the_version() {
    let shop = upstream().await;
    let gw = gateway(&shop).run().await;
    let metrics = gw.metrics().await;
    let want = format!("otpgate_build_info{{version=\"{VERSION}\"}} 1");
    assert!(
        metrics.lines().any(|l| l == want),
        "no {want:?} in\n{metrics}"
    );
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `otpgate demo` with standard error going to a file: the log lines there
/// (start-up and one access line) carry no ANSI escape.
#[tokio::test]
async fn logs_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        // Neither may decide the outcome: only "is stderr a terminal".
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    // Standard output carries the banner, then the console provider's
    // messages: it is read to the end, or a send would fail on a closed pipe.
    let (banner, found) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut banner = Some(banner);
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(i) = l.find("https://") {
                if let Some(tx) = banner.take() {
                    let _ = tx.send(l[i..].trim_end_matches('/').to_string());
                }
            }
        }
    });
    let base = tokio::time::timeout(Duration::from_secs(30), found)
        .await
        .expect("the demo started")
        .expect("the demo banner");
    let cert = std::fs::read(dir.path().join("certs/cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let resp = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await.unwrap();
    // The access line is written when the body ends; wait for it.
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).unwrap();
        if log.contains("request") && log.contains("status") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(log.contains("status"), "no access line in:\n{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a log file:\n{log:?}"
    );

    // At the default level the audit line names the request it belongs
    // to: its id (the one the shopper's answer carries), route and user
    // agent (issue 12: they were missing outside tests).
    let sent = client
        .post(format!("{base}/.otpgate/api/send"))
        .header("user-agent", "audit-probe/1")
        .json(&serde_json::json!({"phone": "+919812345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let rid = sent.headers()["x-request-id"].to_str().unwrap().to_string();
    let _ = sent.bytes().await.unwrap();
    let mut audit = None;
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).unwrap();
        audit = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "code_sent");
        if audit.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit = audit.unwrap_or_else(|| panic!("no code_sent audit line in:\n{log}"));
    assert_eq!(audit["request_id"], rid.as_str(), "{audit}");
    assert_eq!(audit["route"], "/.otpgate/api/send", "{audit}");
    assert_eq!(audit["user_agent"], "audit-probe/1", "{audit}");
}

/// The config the Debian package installs as /etc/otpgate/otpgate.toml is
/// valid once postinst has made its certificate and secret (here in a
/// temporary directory standing in for /etc/otpgate).
#[test]
fn packaged_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().display().to_string();
    let packaged =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/debian/otpgate.toml"))
            .unwrap();
    assert!(packaged.contains("/etc/otpgate/"));
    let text = packaged.replace("/etc/otpgate", &etc);
    std::fs::write(dir.path().join("otpgate.toml"), text).unwrap();
    assert!(otpgate(&["gen-cert", "--dir", &etc, "--host", "localhost"])
        .status
        .success());
    let secret = otpgate(&["gen-secret"]);
    std::fs::write(dir.path().join("session-secret"), &secret.stdout).unwrap();
    let config = format!("{etc}/otpgate.toml");
    let out = otpgate(&["check-config", "-c", &config]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `otpgate completions bash | head -1` (or `grep -q`) closes the pipe
/// early: that is no crash.
#[test]
fn completions_into_a_closed_pipe_do_not_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}
