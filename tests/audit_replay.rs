//! `otpgate audit-replay` on a trail recorded by a real gateway run: a few
//! genuine shoppers (send, then the right code) and a pumping run into
//! one prefix from many networks, recorded under a lax configuration (no
//! detector). Replayed through candidates, the report says what each
//! would have blocked, per rule and per prefix, and whom it would have
//! turned away — the CLI as an operator runs it, text and `--json`.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::trail::{trail, Trail};
use support::{code_in, gateway, upstream, GatewayBuilder, Gw, H2};

const GENUINE: u32 = 5;
const PUMPED: u32 = 30;

/// Sends and verifies over the JSON API, from `xff` (the gateway trusts
/// the loopback proxy).
async fn post(gw: &Gw, path: &str, body: Value, xff: &str, cookie: &str) -> (u16, String) {
    let resp = gw
        .client(H2)
        .post(gw.url(path))
        .header("x-forwarded-for", xff)
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookies = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    (status, cookies)
}

async fn record() -> (Gw, Trail) {
    let trail = trail();
    let shop = upstream().await;
    let mut b = gateway(&shop)
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .set("limits.pumping", "{ enabled = false }");
    for name in [
        "send_per_ip",
        "send_per_phone",
        "send_per_prefix",
        "send_per_country",
        "sms_per_hour",
        "sms_per_day",
    ] {
        b = b.set(&format!("limits.{name}"), "{ max = 1000, window = \"1h\" }");
    }
    let gw = b.run().await;
    for i in 0..GENUINE {
        let from = format!("198.51.100.{}", i + 1);
        let phone = format!("+91981001{i:04}");
        let (status, pending) = post(
            &gw,
            "/.otpgate/api/send",
            json!({"phone": phone}),
            &from,
            "",
        )
        .await;
        assert_eq!(status, 200);
        let code = code_in(&gw.sms().last().unwrap().1);
        let (status, _) = post(
            &gw,
            "/.otpgate/api/verify",
            json!({"code": code}),
            &from,
            &pending,
        )
        .await;
        assert_eq!(status, 200);
    }
    for i in 0..PUMPED {
        let from = format!("203.0.{}.9", i % 10);
        let phone = format!("+91981002{i:04}");
        let (status, _) = post(
            &gw,
            "/.otpgate/api/send",
            json!({"phone": phone}),
            &from,
            "",
        )
        .await;
        assert_eq!(status, 200, "recorded under the lax configuration");
    }
    (gw, trail)
}

/// `otpgate audit-replay --config <candidate> <trail> [--json]`.
fn replay(candidate: GatewayBuilder, trail: &Path, json: bool) -> String {
    let file = candidate.dir().join("candidate.toml");
    std::fs::write(&file, candidate.config_text()).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_otpgate"));
    cmd.arg("audit-replay")
        .arg("--config")
        .arg(&file)
        .arg(trail);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn report(candidate: GatewayBuilder, trail: &Path) -> Value {
    serde_json::from_str(&replay(candidate, trail, true)).unwrap()
}

#[tokio::test]
async fn a_recorded_trail_replays_through_candidate_configurations() {
    let (gw, trail) = record().await;
    assert_eq!(trail.events("code_sent").len() as u32, GENUINE + PUMPED);
    for line in trail.events("code_sent") {
        // What the replay keys on, and never the whole number.
        assert!(
            line["prefix"].is_string() && line["phone_key"].is_string(),
            "{line}"
        );
        assert!(line["client_ip"].is_string(), "{line}");
        assert!(line.get("phone").is_none(), "{line}");
    }
    assert!(!trail.text().contains("+919810010000"));

    // As recorded: nothing blocked, every verify counted.
    let same = report(gw.edit(), &trail.path);
    assert_eq!(same["attempts"], GENUINE + PUMPED, "{same}");
    assert_eq!(same["sent"], GENUINE + PUMPED, "{same}");
    assert_eq!(same["verifies"], GENUINE, "{same}");
    assert_eq!(same["verifies_lost"], 0, "{same}");

    // The detector on: the pumped prefix is blocked, the shoppers' is not.
    let detector = gw.edit().set(
        "limits.pumping",
        "{ enabled = true, min_sends = 5, min_networks = 3 }",
    );
    let r = report(detector, &trail.path);
    let blocked = r["blocked_by_rule"]["pumping"].as_u64().unwrap_or(0);
    assert!(blocked >= 20, "{r}");
    assert_eq!(r["blocked_by_prefix"]["+91981002"], blocked, "{r}");
    assert!(r["blocked_by_prefix"].get("+91981001").is_none(), "{r}");
    assert_eq!(r["verifies_lost"], 0, "{r}");

    // The same detector in shadow: nothing blocked, all of it counted.
    let shadow = gw.edit().set(
        "limits.pumping",
        "{ enabled = true, min_sends = 5, min_networks = 3, mode = \"shadow\" }",
    );
    let r = report(shadow, &trail.path);
    assert_eq!(r["sent"], GENUINE + PUMPED, "{r}");
    assert!(
        r["would_block_by_rule"]["pumping"].as_u64().unwrap_or(0) >= 20,
        "{r}"
    );

    // Too tight a prefix limit turns genuine shoppers away, and says so.
    let tight = || {
        gw.edit()
            .set("limits.send_per_prefix", "{ max = 2, window = \"1h\" }")
    };
    let r = report(tight(), &trail.path);
    assert_eq!(
        r["blocked_by_rule"]["send_per_prefix"],
        28 + (GENUINE - 2),
        "{r}"
    );
    assert_eq!(r["blocked_by_prefix"]["+91981001"], GENUINE - 2, "{r}");
    assert_eq!(r["verifies_lost"], GENUINE - 2, "{r}");
    let text = replay(tight(), &trail.path, false);
    assert!(
        text.contains("send_per_prefix") && text.contains("+91981001"),
        "{text}"
    );
    assert!(text.contains("verifies lost (send blocked): 3"), "{text}");
}
