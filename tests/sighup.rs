//! A signal must never kill the gateway: `SIGHUP` (logrotate, an operator
//! expecting a reload) once ended any process without `[log] audit_file`,
//! the demo and the default config among them, with no log line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's standard error, line by line, with a bounded wait per line.
fn lines_of(child: &mut Child) -> impl FnMut(&str) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    move |needle: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {needle:?} on stderr"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn hup(child: &Child) {
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success());
}

async fn serves(base: &str, cert_pem: &[u8]) {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{base}/.otpgate/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Sends SIGHUP twice; after each, the gateway logs it and still serves.
async fn survives_sighup(mut child: Child, cert: std::path::PathBuf) {
    let mut next_line_with = lines_of(&mut child);
    let listening = next_line_with("otpgate listening");
    let addr = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("the listen address in the log line")
        .to_string();
    let base = format!("https://{addr}");
    let child = Killed(child);
    let cert_pem = std::fs::read(cert).unwrap();
    serves(&base, &cert_pem).await;
    for _ in 0..2 {
        hup(&child.0);
        next_line_with("SIGHUP received");
        serves(&base, &cert_pem).await;
    }
    let mut child = child;
    assert!(child.0.try_wait().unwrap().is_none(), "the gateway exited");
}

fn otpgate(args: &[&str], dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn sighup_without_an_audit_file_does_not_stop_run() {
    let dir = tempfile::tempdir().unwrap();
    otpgate::tls::write_self_signed(dir.path(), &["127.0.0.1".into()]).unwrap();
    let config = r#"
[server]
listen = "127.0.0.1:0"
[tls]
cert = "cert.pem"
key = "key.pem"
[upstream]
url = "http://127.0.0.1:9"
[brand]
name = "Test Shop"
[phone]
default_region = "IN"
allowed_regions = ["IN"]
[session]
secret = "0123456789abcdef0123456789abcdef-test-secret"
[sms]
provider = "console"
"#;
    std::fs::write(dir.path().join("otpgate.toml"), config).unwrap();
    let child = otpgate(&["run", "-c", "otpgate.toml"], dir.path());
    survives_sighup(child, dir.path().join("cert.pem")).await;
}

#[tokio::test]
async fn sighup_does_not_stop_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let child = otpgate(&["demo", "--listen", "127.0.0.1:0"], dir.path());
    survives_sighup(child, dir.path().join("certs/cert.pem")).await;
}
