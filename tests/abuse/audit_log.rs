//! The audit trail, captured in-process: the JSON lines the audit layer
//! writes to its file and everything the normal log would print beside it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use otpgate::audit::{AuditLayer, AuditSink, TARGET};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use crate::support::{gateway, upstream, H1, PHONE, SECRET};
use crate::{h2, ip, lim, phone, send, verify, wide};

/// Audit file and log text of everything this test's thread does (the
/// gateway runs on the test's single-threaded runtime).
pub struct Capture {
    pub audit_path: PathBuf,
    log: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture() -> Capture {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let log = Arc::new(Mutex::new(Vec::new()));
    let shared = Shared(log.clone());
    // No timestamps: their digits could look like a code.
    let text = tracing_subscriber::fmt::layer()
        .without_time()
        .with_ansi(false)
        .with_writer(move || shared.clone())
        .with_filter(tracing_subscriber::EnvFilter::new("info,otpgate=trace"));
    let subscriber = tracing_subscriber::registry()
        .with(text)
        .with(AuditLayer::new(AuditSink::file(&audit_path).unwrap()));
    let guard = tracing::subscriber::set_default(subscriber);
    Capture {
        audit_path,
        log,
        _guard: guard,
        _dir: dir,
    }
}

impl Capture {
    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap_or_default()
    }
    pub fn log_text(&self) -> String {
        String::from_utf8(self.log.lock().unwrap().clone()).unwrap()
    }
    pub fn lines(&self) -> Vec<Value> {
        self.audit_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    }
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|v| v["event"] == event)
            .collect()
    }
}

/// Whether `needle` occurs in `hay` as a whole word (not inside a longer
/// run of letters or digits).
fn has_token(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let after = hay[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        before && after
    })
}

#[tokio::test]
async fn the_trail_records_who_did_what_and_never_a_secret() {
    let trail = capture();
    let shop = upstream().await;
    let gw = wide(gateway(&shop))
        .route("/checkout", "otp")
        .set("otp.length", "8")
        .set("otp.max_attempts", "2")
        .set("limits.send_per_phone", &lim(3, "10m"))
        .set("limits.pumping", "{ min_sends = 3 }")
        .run()
        .await;

    // A shopper logs in with the forms, then out.
    let mut b = gw.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let session = b
        .cookies
        .get("__Host-otpgate")
        .cloned()
        .expect("a session cookie");
    let csrf = b.get("/.otpgate/login").await.csrf();
    assert_eq!(
        b.post_form("/.otpgate/logout", &[("csrf", &csrf)])
            .await
            .status,
        303
    );

    // Over the API: two wrong codes void a challenge.
    let client = h2(&gw);
    let guessed = phone(300, 1);
    let pending = send(&client, &gw, &guessed, Some(&ip(1))).await;
    assert_eq!(
        verify(&client, &gw, "00000000", &pending, Some(&ip(1)))
            .await
            .status,
        422
    );
    assert_eq!(
        verify(&client, &gw, "00000000", &pending, Some(&ip(1)))
            .await
            .status,
        410
    );
    // A per-phone limit, a pumped prefix and a number from nowhere.
    let flooded = phone(301, 1);
    for _ in 0..4 {
        send(&client, &gw, &flooded, Some(&ip(2))).await;
    }
    // From 4 networks: one network alone is only throttled (issue 8).
    for i in 0..4 {
        let from = format!("100.64.{}.3", 10 + i);
        send(&client, &gw, &phone(302, i), Some(&from)).await;
    }
    assert_eq!(send(&client, &gw, "12345", Some(&ip(4))).await.status, 422);

    for event in [
        "code_sent",
        "verified",
        "session_issued",
        "logout",
        "verify_failed",
        "challenge_voided",
        "rate_limited",
        "prefix_blocked",
        "phone_refused",
    ] {
        assert!(
            !trail.events(event).is_empty(),
            "no {event} in\n{}",
            trail.audit_text()
        );
    }
    for line in trail.lines() {
        assert!(
            line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert!(line["peer"].is_string(), "{line}");
        if !matches!(line["event"].as_str(), Some("session_issued" | "logout")) {
            assert!(
                line["client_ip"].is_string() && line["endpoint"].is_string(),
                "{line}"
            );
        }
    }
    let limited: Vec<String> = trail
        .events("rate_limited")
        .iter()
        .map(|v| v["limit"].as_str().unwrap().to_string())
        .collect();
    assert!(
        limited.contains(&"send_per_phone".to_string()) && limited.contains(&"pumping".to_string()),
        "{limited:?}"
    );
    let voided = &trail.events("challenge_voided")[0];
    assert_eq!(voided["client_ip"], ip(1));
    assert_eq!(voided["endpoint"], "verify");
    assert_eq!(voided["phone"], "+91******0001");
    let sent = &trail.events("code_sent")[0];
    assert_eq!(
        (sent["provider"].as_str(), sent["country"].as_str()),
        (Some("file"), Some("IN"))
    );

    let audit = trail.audit_text();
    let log = trail.log_text();
    assert!(
        log.contains("code_sent"),
        "the text log was captured: {log}"
    );
    let codes: Vec<String> = gw
        .sms()
        .iter()
        .map(|(_, body)| crate::support::code_in(body))
        .collect();
    assert!(codes.len() >= 5);
    for (name, text) in [("audit file", &audit), ("log", &log)] {
        for code in &codes {
            assert!(!has_token(text, code), "code {code} in the {name}");
        }
        assert!(!text.contains(SECRET), "the session secret in the {name}");
        assert!(!text.contains(&session), "the session cookie in the {name}");
        for number in [
            PHONE.to_string(),
            guessed.clone(),
            flooded.clone(),
            phone(302, 0),
        ] {
            assert!(!text.contains(&number), "unmasked {number} in the {name}");
        }
    }
}

#[tokio::test]
async fn sighup_reopens_the_audit_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::file(&path).unwrap();
    tokio::spawn(otpgate::audit::reopen_on_sighup(sink.clone()).unwrap());
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(AuditLayer::new(sink)),
    );
    tracing::info!(target: TARGET, event = "before_rotation");
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the audit file was not reopened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tracing::info!(target: TARGET, event = "after_rotation");
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(
        old.contains("before_rotation") && !old.contains("after_rotation"),
        "{old}"
    );
    assert!(
        new.contains("after_rotation") && !new.contains("before_rotation"),
        "{new}"
    );
}
