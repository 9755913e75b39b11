//! The pumping simulator: a reproducible, seeded SMS pumping attack mixed
//! with genuine shoppers, driven through the gateway's own send path
//! (limits, region policy, pumping detector: `audit_replay::Replay`, which
//! runs `flow::try_send`) over the memory store in simulated time — no
//! sockets, so it runs in seconds. Run it and see the tables:
//!
//! ```text
//! cargo test --test pumping_sim -- --nocapture --test-threads 1
//! ```
//!
//! Two attacks (README "SMS pumping simulator"), each from minute 10 on,
//! from 2,000 addresses (in 400 /24 networks), none ever verified:
//! - concentrated: 10,000 numbers across 20 prefixes over 50 minutes, on 50
//!   client fingerprints: the prefix detector's case;
//! - spread: 10,000 numbers across 1,000 prefixes, 10 each — never more
//!   than the prefix detector's `min_sends` — over 50 minutes, on 10
//!   fingerprints (one automation stack): only the fingerprint signal
//!   can see it.
//!
//! The genuine population: a shopper every 12 s for the whole hour (300),
//! each to a number in one of 5,000 other prefixes — or, one in 200, in an
//! attacked prefix — from their own address, on one of 8 common browser
//! fingerprints; 70% type their code 20 s later. The shop is sized for
//! that traffic (`send_per_country` and `sms_per_hour` 1,000: the defaults,
//! 300 and 500, are for a shop with fewer sends an hour). Two
//! configurations: "before" (no fingerprint signals: no
//! `send_per_fingerprint`, no conversion per fingerprint) and "after"
//! (the defaults).

use std::net::IpAddr;

use otpgate::audit_replay::{Attempt, Number, Outcome, Replay};
use otpgate::config::Config;

const MINUTE: u64 = 60_000;
const T0: u64 = 1_800_000_000_000;
const ATTACK_START: u64 = T0 + 10 * MINUTE;

/// xorshift64*: the same run on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A JA4-shaped fingerprint, `n` distinguishing it.
fn ja4(kind: char, n: u64) -> String {
    format!("t13d1516h2_{kind}{n:011x}_{:012x}", n * 7919)
}

struct Send {
    at_ms: u64,
    e164: String,
    ip: IpAddr,
    ja4: String,
    attacker: bool,
    verifies: bool,
}

/// One attack: `numbers` sends, `per_prefix` to each prefix, spread
/// evenly from minute 10 to minute 60, on `fingerprints` client stacks.
struct Attack {
    numbers: u64,
    per_prefix: u64,
    fingerprints: u64,
}

const CONCENTRATED: Attack = Attack {
    numbers: 10_000,
    per_prefix: 500,
    fingerprints: 50,
};

const SPREAD: Attack = Attack {
    numbers: 10_000,
    per_prefix: 10,
    fingerprints: 10,
};

fn population(attack: &Attack) -> Vec<Send> {
    let mut rng = Rng(0x005e_ed0f_9a7e);
    let mut out = Vec::new();
    let prefixes = attack.numbers / attack.per_prefix;
    // +91 90pppp: up to 10,000 prefixes, none a genuine shopper's +9198….
    let attack_prefix = |p: u64| format!("+9190{p:04}");
    for i in 0..attack.numbers {
        let net = rng.below(400);
        out.push(Send {
            at_ms: ATTACK_START + i * 50 * MINUTE / attack.numbers,
            e164: format!("{}{:04}", attack_prefix(i % prefixes), i / prefixes),
            ip: IpAddr::from([203, (net / 200) as u8, (net % 200) as u8, (i % 5) as u8 + 1]),
            ja4: ja4('a', rng.below(attack.fingerprints)),
            attacker: true,
            verifies: false,
        });
    }
    for i in 0..300u64 {
        let prefix = if rng.below(200) == 0 {
            attack_prefix(rng.below(prefixes))
        } else {
            format!("+9198{:04}", rng.below(5_000))
        };
        let at_ms = T0 + i * 12_000;
        out.push(Send {
            at_ms,
            e164: format!("{prefix}{:04}", rng.below(10_000)),
            ip: IpAddr::from([100, 64 + (i / 250) as u8, (i % 250) as u8, 1]),
            ja4: ja4('b', rng.below(8)),
            attacker: false,
            verifies: rng.below(10) < 7,
        });
    }
    out.sort_by_key(|s| s.at_ms);
    out
}

#[derive(Debug, Default)]
struct Row {
    attack_attempts: u64,
    attacker_sms: u64,
    after_detection_attempts: u64,
    after_detection_sms: u64,
    genuine: u64,
    genuine_blocked: u64,
    detected_after_ms: Option<u64>,
    /// Why genuine shoppers were refused, by rule.
    genuine_rules: std::collections::BTreeMap<&'static str, u64>,
}

fn config(extra: &str, dir: &std::path::Path) -> Config {
    otpgate::tls::write_self_signed(dir, &["localhost".into()]).unwrap();
    let p = |f: &str| dir.join(f).display().to_string();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n[phone]\ndefault_region = \"IN\"\n\
         [session]\nsecret = \"{}\"\n[sms]\nprovider = \"console\"\n{extra}",
        p("cert.pem"),
        p("key.pem"),
        "s".repeat(32)
    );
    Config::parse(&text, "sim").unwrap_or_else(|e| panic!("{e}"))
}

async fn run(cfg: &Config, sends: &[Send]) -> Row {
    let mut replay = Replay::new(cfg);
    let mut row = Row::default();
    // Verifies come 20 s after their send; keep them in time order.
    let mut pending: Vec<(u64, Attempt)> = Vec::new();
    for s in sends {
        pending.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        while pending.last().is_some_and(|(t, _)| *t <= s.at_ms) {
            let (_, a) = pending.pop().unwrap();
            replay.verify(&a).await;
        }
        let a = Attempt {
            at_ms: s.at_ms,
            number: Number::E164(s.e164.clone()),
            client_ip: s.ip,
            ja4: Some(s.ja4.clone()),
        };
        let outcome = replay.send(&a).await;
        let sent = outcome == Outcome::Sent;
        if s.attacker {
            row.attack_attempts += 1;
            row.attacker_sms += u64::from(sent);
            if let (Outcome::Blocked(rule), None) = (&outcome, row.detected_after_ms) {
                if rule.starts_with("pumping") {
                    row.detected_after_ms = Some(s.at_ms - ATTACK_START);
                }
            }
            if row.detected_after_ms.is_some() {
                row.after_detection_attempts += 1;
                row.after_detection_sms += u64::from(sent);
            }
        } else {
            row.genuine += 1;
            if let Outcome::Blocked(rule) = outcome {
                *row.genuine_rules.entry(rule).or_default() += 1;
                row.genuine_blocked += 1;
            } else if s.verifies {
                pending.push((
                    s.at_ms + 20_000,
                    Attempt {
                        at_ms: s.at_ms + 20_000,
                        ..a
                    },
                ));
            }
        }
    }
    row
}

fn pct(n: u64, of: u64) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

/// Both configurations on one attack: the table's two rows.
async fn before_and_after(attack: &Attack) -> [Row; 2] {
    let dir = tempfile::tempdir().unwrap();
    let sends = population(attack);
    let sized = "[limits]\nsend_per_country = { max = 1000, window = \"1h\" }\n\
                 sms_per_hour = { max = 1000, window = \"1h\" }\n";
    let before = config(
        &format!(
            "{sized}[limits.send_per_fingerprint]\nmax = 1000000\n\
             [limits.pumping]\nfingerprints = false\n"
        ),
        dir.path(),
    );
    let after = config(sized, dir.path());
    println!("| configuration | attacker SMS / attempts | attacker SMS after detection | genuine blocked | detection after attack start |");
    println!("| --- | --- | --- | --- | --- |");
    let mut rows = Vec::new();
    for (name, cfg) in [
        ("before (no fingerprint signals)", &before),
        ("after (defaults)", &after),
    ] {
        let r = run(cfg, &sends).await;
        println!(
            "| {name} | {} / {} ({:.2}%) | {} / {} ({:.2}%) | {} / {} ({:.2}%) | {} |",
            r.attacker_sms,
            r.attack_attempts,
            pct(r.attacker_sms, r.attack_attempts),
            r.after_detection_sms,
            r.after_detection_attempts,
            pct(r.after_detection_sms, r.after_detection_attempts),
            r.genuine_blocked,
            r.genuine,
            pct(r.genuine_blocked, r.genuine),
            r.detected_after_ms
                .map_or("never".to_string(), |ms| format!(
                    "{:.1} s",
                    ms as f64 / 1000.0
                )),
        );
        println!("  genuine shoppers refused by: {:?}", r.genuine_rules);
        rows.push(r);
    }
    let after = rows.pop().unwrap();
    [rows.pop().unwrap(), after]
}

/// The issue's targets (issue 15): attacker SMS ≤ 1% of attempts after
/// detection, genuine shoppers blocked ≤ 0.5%, detection within 2 min.
fn assert_targets_met(r: &Row) {
    assert!(
        pct(r.after_detection_sms, r.after_detection_attempts) <= 1.0,
        "attacker SMS after detection over 1%: {r:?}"
    );
    assert!(
        pct(r.genuine_blocked, r.genuine) <= 0.5,
        "genuine shoppers blocked over 0.5%: {r:?}"
    );
    assert!(
        r.detected_after_ms.is_some_and(|ms| ms <= 2 * MINUTE),
        "not detected within 2 minutes: {r:?}"
    );
}

#[tokio::test]
async fn a_concentrated_attack_meets_the_targets() {
    println!("concentrated: 10,000 numbers in 20 prefixes, 50 fingerprints");
    let [_, after] = before_and_after(&CONCENTRATED).await;
    assert_targets_met(&after);
}

#[tokio::test]
async fn a_spread_attack_is_caught_by_fingerprints_alone() {
    println!("spread: 10,000 numbers in 1,000 prefixes (10 each), 10 fingerprints");
    let [before, after] = before_and_after(&SPREAD).await;
    // Without fingerprints nothing sees it: every prefix stays at the
    // detector's minimum, and the attack takes SMS until the budget is
    // spent, refusing genuine shoppers with it.
    assert_eq!(before.detected_after_ms, None, "{before:?}");
    assert!(
        pct(before.attacker_sms, before.attack_attempts) > 5.0,
        "{before:?}"
    );
    assert_targets_met(&after);
    assert!(
        after.after_detection_attempts > 0
            && after
                .genuine_rules
                .keys()
                .all(|r| *r != "pumping_fingerprint"),
        "{after:?}"
    );
}
