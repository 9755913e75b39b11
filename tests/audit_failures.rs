//! The audit trail cannot be written (a full disk, a file-size limit):
//! the real binary logs it (rate-limited, with a count), counts it
//! (`otpgate_audit_write_failures_total`), `/readyz` says so, and with
//! `[log] audit_required = true` sign-ins fail closed until the trail
//! takes lines again. Without privileges: `/dev/full` (every write fails
//! with ENOSPC) and `RLIMIT_FSIZE` set by `prlimit` (writes past the limit
//! fail with EFBIG; otpgate handles SIGXFSZ so it is not killed).

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{gateway, upstream, Browser, H1, PHONE};

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    base: String,
    admin: String,
    browser: Browser,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn line_with(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line with {needle:?}; saw {:#?}", self.seen));
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Every line logged so far (waits briefly for stragglers).
    fn drain(&mut self) -> Vec<String> {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        self.seen.clone()
    }

    async fn readyz(&self) -> (u16, String) {
        let r = reqwest::get(format!("http://{}/readyz", self.admin))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn failures(&self) -> u64 {
        let m = reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        m.lines()
            .find_map(|l| l.strip_prefix("otpgate_audit_write_failures_total "))
            .unwrap_or_else(|| panic!("no audit failure metric in\n{m}"))
            .trim()
            .parse()
            .unwrap()
    }
}

/// The binary with `audit_file` and `audit_required`, under `prlimit`
/// when `fsize` is given.
async fn spawn(dir: &Path, audit_file: &Path, required: bool, fsize: Option<u64>) -> Running {
    let shop = upstream().await;
    otpgate::tls::write_self_signed(dir, &["127.0.0.1".into()]).unwrap();
    let sms = dir.join("sms.jsonl");
    let text = gateway(&shop)
        .route("/checkout", "otp")
        .set("tls.cert", &format!("{:?}", dir.join("cert.pem")))
        .set("tls.key", &format!("{:?}", dir.join("key.pem")))
        .set("sms.file.path", &format!("{sms:?}"))
        .set("log.format", "\"json\"")
        .set("log.audit_file", &format!("{audit_file:?}"))
        .set(
            "log.audit_required",
            if required { "true" } else { "false" },
        )
        .config_text();
    let cfg = dir.join("otpgate.toml");
    std::fs::write(&cfg, text).unwrap();
    let bin = env!("CARGO_BIN_EXE_otpgate");
    let mut cmd = match fsize {
        Some(bytes) => {
            if Command::new("prlimit").arg("--version").output().is_err() {
                assert!(
                    std::env::var("OTPGATE_REQUIRE_ALL").as_deref() != Ok("1"),
                    "prlimit (util-linux) is required (OTPGATE_REQUIRE_ALL=1)"
                );
                eprintln!("SKIPPED: prlimit not found; apt-get install -y util-linux");
                std::process::exit(0);
            }
            let mut c = Command::new("prlimit");
            c.arg(format!("--fsize={bytes}")).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = cmd
        .arg("run")
        .arg("-c")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut r = Running {
        child,
        lines,
        seen: vec![],
        base: String::new(),
        admin: String::new(),
        browser: Browser::new(reqwest::Client::new(), String::new(), sms.clone(), H1),
    };
    let listening: serde_json::Value =
        serde_json::from_str(&r.line_with("otpgate listening")).unwrap();
    let fields = &listening["fields"];
    r.base = format!("https://{}", fields["addr"].as_str().unwrap());
    let admin = fields["admin"].as_str().unwrap();
    r.admin = admin
        .trim_start_matches("Some(")
        .trim_end_matches(')')
        .to_string();
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .build()
        .unwrap();
    r.browser = Browser::new(client, r.base.clone(), sms, H1);
    drop(shop_keepalive(shop));
    r
}

/// The storefront runs on this test's runtime for as long as it lives.
fn shop_keepalive(shop: support::Shop) -> Box<dyn std::any::Any> {
    Box::leak(Box::new(shop));
    Box::new(())
}

#[tokio::test]
async fn a_full_disk_is_logged_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = spawn(dir.path(), Path::new("/dev/full"), false, None).await;
    // The start-up line already failed: the trail is known broken.
    let first = gw.line_with("audit events are being lost");
    assert!(first.contains("ERROR"), "{first}");
    assert!(first.contains("No space left"), "{first}");
    let (status, why) = gw.readyz().await;
    assert_eq!(status, 503);
    assert!(why.contains("audit"), "{why}");
    // Not required: shoppers still sign in; their events are counted lost.
    gw.browser.log_in(PHONE, "/checkout").await;
    assert_eq!(gw.browser.get("/checkout").await.status, 200);
    let failures = gw.failures().await;
    assert!(
        failures >= 4,
        "started, code_sent, verified, session: {failures}"
    );
    let lines = gw.drain();
    let logged = lines
        .iter()
        .filter(|l| l.contains("audit events are being lost"))
        .count();
    assert!(
        logged >= 1 && (logged as u64) < failures,
        "rate-limited: {logged} lines for {failures} failures"
    );
    assert!(
        !lines.iter().any(|l| l.contains("\"event\"")),
        "no audit line went to the operator log instead"
    );
}

#[tokio::test]
async fn audit_required_stops_sign_ins_while_the_trail_fails() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let limit = 64 * 1024;
    let mut gw = spawn(dir.path(), &audit, true, Some(limit)).await;
    assert_eq!(gw.readyz().await.0, 200);
    let sent = gw.browser.start(PHONE, "/checkout").await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let code = gw.browser.code_for(PHONE);

    // The disk fills up (another writer; this test is not limited).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&audit)
        .unwrap();
    f.write_all(&vec![b'\n'; limit as usize]).unwrap();
    // A wrong code still gets its answer; its event is the first lost.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(gw.browser.enter_code(wrong).await.status, 422);
    gw.line_with("audit events are being lost");
    // Now the right code, and new sends, are refused: no unaudited sign-in.
    assert_eq!(gw.browser.enter_code(&code).await.status, 503);
    let mut other = Browser::new(
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(
                    &std::fs::read(dir.path().join("cert.pem")).unwrap(),
                )
                .unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        gw.base.clone(),
        dir.path().join("sms.jsonl"),
        H1,
    );
    assert_eq!(other.start("+919812340002", "/checkout").await.status, 503);
    assert!(gw.failures().await >= 2);
    let (status, why) = gw.readyz().await;
    assert_eq!((status, why.contains("audit")), (503, true), "{why}");
    assert!(
        gw.child.try_wait().unwrap().is_none(),
        "SIGXFSZ did not end it"
    );

    // Space again: the next sign-in's probe finds the trail writable.
    f.set_len(0).unwrap();
    assert_eq!(gw.browser.enter_code(&code).await.status, 303);
    assert_eq!(gw.readyz().await.0, 200);
    gw.line_with("audit trail writable again");
    // Rotation: the reopen is news for the operator, not an audit event.
    let hup = Command::new("kill")
        .args(["-HUP", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let reopened = gw.line_with("audit file reopened");
    assert!(reopened.contains("otpgate::trail"), "{reopened}");
    let trail = std::fs::read_to_string(&audit).unwrap();
    assert!(trail.contains("\"event\":\"verified\""), "{trail}");
    assert!(!trail.contains("reopened"), "{trail}");
}
