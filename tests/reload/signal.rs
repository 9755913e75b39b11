//! The signal path through the real binary: `kill -HUP` re-reads `run -c`'s
//! file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::support::{gateway, upstream};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of standard error up to and including the first containing
/// `needle` (bounded wait per line).
fn until(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {needle:?} on stderr after {seen:#?}"));
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return seen;
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

/// The signal path: `kill -HUP` re-reads `run -c`'s file. An invalid file
/// is refused with every problem logged and nothing changed; a valid one
/// takes effect, naming the key that needs a restart; the process lives.
#[tokio::test]
async fn sighup_reloads_the_file_or_logs_every_problem_and_keeps_serving() {
    let shop = upstream().await;
    let cfg = gateway(&shop);
    let file = cfg.dir().join("otpgate.toml");
    let good = cfg.config_text();
    std::fs::write(&file, &good).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(["run", "-c", file.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let listening = until(&rx, "otpgate listening").pop().unwrap();
    let word = |key: &str| {
        listening
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {listening}"))
            .trim_start_matches("Some(")
            .trim_end_matches(')')
            .to_string()
    };
    let (addr, admin) = (word("addr="), word("admin="));
    let cert = std::fs::read(cfg.dir().join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |path: &'static str| {
        let (client, addr) = (client.clone(), addr.clone());
        async move {
            let resp = client
                .get(format!("https://{addr}{path}"))
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    assert_eq!(status("/account").await, 200);

    // Two problems, both named; nothing changes.
    let invalid = format!("{good}\n[otp]\nlength = 99\nlenght = 6\n");
    std::fs::write(&file, invalid).unwrap();
    hup(&child.0);
    let lines = until(&rx, "configuration not reloaded");
    let refused: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("reload refused"))
        .collect();
    assert!(
        refused.iter().any(|l| l.contains("otp.length")),
        "{lines:#?}"
    );
    assert!(
        refused.iter().any(|l| l.contains("otp.lenght")),
        "{lines:#?}"
    );
    assert_eq!(
        status("/account").await,
        200,
        "the running configuration stays"
    );

    // Valid: the new route applies; the listen address needs a restart.
    let next = gateway(&shop)
        .route("/account", "otp")
        .set("server.listen", "\"127.0.0.1:1\"");
    let next = next.config_text().replace(
        &next.dir().display().to_string(),
        &cfg.dir().display().to_string(),
    );
    std::fs::write(&file, next).unwrap();
    hup(&child.0);
    let lines = until(&rx, "configuration reloaded");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("need a restart") && l.contains("server.listen")),
        "{lines:#?}"
    );
    assert_eq!(status("/account").await, 401, "the new route is enforced");
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("otpgate_config_reloads_total{result=\"error\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("otpgate_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("otpgate_config_last_reload_success_timestamp_seconds"));
    let mut child = child;
    assert!(child.0.try_wait().unwrap().is_none(), "the gateway exited");
}
