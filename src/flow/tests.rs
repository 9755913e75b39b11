//! The OTP steps on their own: the memory store, a manual clock and the
//! `file` provider, no TLS and no upstream. What the integration tests pin
//! through HTTP, pinned here where it lives.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{check, resend, start, FlowConfig, FlowCtx, FlowError};
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::conn::ConnInfo;
use crate::metrics::Metrics;
use crate::session::CookieSealer;
use crate::sessions::Sessions;
use crate::store::{Count, MemoryStore, Store};

const PHONE: &str = "+919812345678";

pub(super) struct Rig {
    pub(super) ctx: FlowCtx,
    pub(super) clock: ManualClock,
    pub(super) store: Arc<MemoryStore>,
    sms: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// A flow context from configuration text appended to a minimal file;
/// `sms_path` replaces the file provider's path (a directory that does
/// not exist, and cannot be made, makes every send fail).
pub(super) fn rig(extra: &str, sms_path: Option<&str>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    crate::tls::write_self_signed(dir.path(), &["localhost".into()]).unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let sms = sms_path.map_or_else(|| p("sms.jsonl"), str::to_string);
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[tls]
cert = "{cert}"
key = "{key}"
[upstream]
url = "http://127.0.0.1:9"
[phone]
default_region = "IN"
[session]
secret = "{secret}"
[sms]
provider = "file"
max_retries = 0
[sms.file]
path = "{sms}"
{extra}
"#,
        cert = p("cert.pem"),
        key = p("key.pem"),
        secret = "s".repeat(32),
    );
    let cfg = Config::parse(&text, "test").unwrap_or_else(|e| panic!("{e}"));
    let clock = ManualClock::starting_now();
    let store = MemoryStore::new();
    let metrics = Arc::new(Metrics::new());
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let sessions = Sessions::new(
        Arc::new(CookieSealer::new(&cfg.session)),
        store.clone(),
        shared_clock.clone(),
        metrics.clone(),
        Arc::new(crate::store::EpochWatch::new(Default::default())),
    );
    let ctx = FlowCtx {
        cfg: FlowConfig::of(&cfg),
        store: store.clone(),
        clock: shared_clock,
        sms: Arc::new(crate::sms::build(&cfg.sms)),
        channels: Arc::new(crate::sms::ChannelSet::build(
            &cfg.channels,
            Arc::new(crate::sms::SmsMetrics::new()),
        )),
        metrics,
        otp_key: [7; 32],
        code_key: [7; 32],
        sessions,
        phone_tags: crate::audit::PhoneTags::new([8; 32]),
    };
    Rig {
        ctx,
        clock,
        store,
        sms: Path::new(&sms).to_path_buf(),
        _dir: dir,
    }
}

pub(super) fn conn() -> (ConnInfo, IpAddr) {
    let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    (
        ConnInfo {
            peer,
            peer_trusted: false,
            ja4: None,
        },
        peer.ip(),
    )
}

impl Rig {
    /// The code in the last SMS the file provider wrote.
    pub(super) fn last_code(&self) -> String {
        let text = std::fs::read_to_string(&self.sms).unwrap();
        let line = text.lines().last().expect("an SMS was written");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let body = v["body"].as_str().unwrap();
        let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(digits.len(), 6, "{body}");
        digits
    }

    pub(super) fn sent(&self) -> usize {
        std::fs::read_to_string(&self.sms).map_or(0, |t| t.lines().count())
    }

    /// A counter's value now, without charging it (`window` as the limit
    /// has it: windows are fixed, so another length reads another window).
    async fn count(&self, key: &str, window_secs: u64) -> u64 {
        let now = self.clock.now_ms();
        match self
            .store
            .count(key, 0, u64::MAX, Duration::from_secs(window_secs), now)
            .await
            .unwrap()
        {
            Count::Allowed { count } => count,
            Count::Limited { .. } => panic!("cost 0 is never limited"),
        }
    }

    pub(super) async fn send(&self, phone: &str) -> Result<String, FlowError> {
        let (c, ip) = conn();
        start(&self.ctx, phone, "en", c, ip, None)
            .await
            .map(|(id, _)| id)
    }

    pub(super) async fn guess(
        &self,
        id: &str,
        code: &str,
    ) -> Result<crate::session::Session, FlowError> {
        let (c, ip) = conn();
        check(&self.ctx, id, code, c, ip, None).await
    }
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from(b'0' + (c as u8 - b'0' + 1) % 10))
        .collect()
}

fn limited(r: Result<String, FlowError>) -> &'static str {
    match r {
        Err(FlowError::RateLimited { limit, .. }) => limit,
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

/// The client IP is charged before the number is even parsed, and a
/// refusal by a per-phone limit charges no SMS budget.
#[tokio::test(start_paused = true)]
async fn limits_are_charged_cheapest_first() {
    let r = rig(
        "[limits]\nsend_per_ip = { max = 3, window = \"1h\" }\nsend_per_phone = { max = 1, window = \"1h\" }",
        None,
    );
    r.send(PHONE).await.unwrap();
    assert_eq!(r.count("sms_per_hour:global", 3600).await, 1);
    assert_eq!(limited(r.send(PHONE).await), "send_per_phone");
    assert_eq!(
        r.count("sms_per_hour:global", 3600).await,
        1,
        "no budget for a refused send"
    );
    assert!(matches!(
        r.send("not a number").await,
        Err(FlowError::Phone(_))
    ));
    // Three sends from this address so far: the next is refused before
    // its (invalid) number is looked at.
    assert_eq!(limited(r.send("not a number").await), "send_per_ip");
    assert_eq!(r.sent(), 1);
}

/// A send that fails at the provider takes back every count it made, so
/// an outage does not spend the shopper's or the shop's limits.
#[tokio::test(start_paused = true)]
async fn no_sms_means_a_refund() {
    let r = rig("", Some("/proc/otpgate-cannot-write-here/sms.jsonl"));
    let sent = r.send(PHONE).await;
    assert!(matches!(sent, Err(FlowError::SmsFailed)), "{sent:?}");
    assert_eq!(r.count("sms_per_hour:global", 3600).await, 0);
    assert_eq!(r.count("sms_per_day:global", 86400).await, 0);
    assert_eq!(r.count(&format!("send_per_phone:{PHONE}"), 600).await, 0);
}

/// Resend replaces the code: the old one no longer verifies, the new one does.
#[tokio::test(start_paused = true)]
async fn resend_replaces_the_code() {
    let r = rig("", None);
    let id = r.send(PHONE).await.unwrap();
    let old = r.last_code();
    let (c, ip) = conn();
    assert!(matches!(
        resend(&r.ctx, &id, "en", (c, ip), None, None).await,
        Err(FlowError::RateLimited {
            limit: "resend_after",
            ..
        })
    ));
    r.clock.advance(Duration::from_secs(31));
    resend(&r.ctx, &id, "en", (c, ip), None, None)
        .await
        .unwrap();
    let new = r.last_code();
    assert_eq!(r.sent(), 2);
    if new != old {
        assert!(matches!(
            r.guess(&id, &old).await,
            Err(FlowError::WrongCode { .. })
        ));
    }
    let s = r.guess(&id, &new).await.unwrap();
    assert_eq!(s.phone, PHONE);
}

/// `otp.max_attempts` wrong codes void the challenge, right code or not.
#[tokio::test(start_paused = true)]
async fn a_challenge_takes_max_attempts_guesses() {
    let r = rig("[otp]\nmax_attempts = 3", None);
    let id = r.send(PHONE).await.unwrap();
    let code = r.last_code();
    for remaining in [2, 1] {
        match r.guess(&id, &wrong(&code)).await {
            Err(FlowError::WrongCode { remaining: left }) => assert_eq!(left, remaining),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        r.guess(&id, &wrong(&code)).await,
        Err(FlowError::Exhausted)
    ));
    assert!(
        r.guess(&id, &code).await.is_err(),
        "a void challenge stays void"
    );
}

/// A stranger who spends a phone's failure budget from their own
/// challenge does not lock the shopper out: the shopper's own challenge
/// still gets its guess (failures.rs).
#[tokio::test(start_paused = true)]
async fn a_spent_failure_budget_is_no_lockout() {
    let r = rig(
        "[limits]\nverify_fail_per_phone = { max = 2, window = \"1h\" }",
        None,
    );
    let attacker = r.send(PHONE).await.unwrap();
    let code = r.last_code();
    // Two guesses spend the budget; the third is this challenge's one
    // last chance, still evaluated.
    for remaining in [4, 3, 2] {
        match r.guess(&attacker, &wrong(&code)).await {
            Err(FlowError::WrongCode { remaining: left }) => assert_eq!(left, remaining),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        match r.guess(&attacker, &wrong(&code)).await {
            Err(FlowError::RateLimited { limit, .. }) => limit,
            other => panic!("{other:?}"),
        },
        "verify_fail_per_phone",
        "past the budget, the attacker's challenge is refused"
    );
    r.clock.advance(Duration::from_secs(31));
    let victim = r.send(PHONE).await.unwrap();
    let s = r.guess(&victim, &r.last_code()).await.unwrap();
    assert_eq!(s.phone, PHONE);
}

/// The SMS is written in the language the step is given (the shopper's
/// page language), the resend too; a language without a text gets
/// `otp.message`.
#[tokio::test(start_paused = true)]
async fn the_sms_is_in_the_language_asked_for() {
    let r = rig(
        "[brand]\nlanguages = [\"en\", \"hi\"]\n[otp.messages]\nhi = \"{code} आपका OTP है।\"",
        None,
    );
    let (c, ip) = conn();
    let last_body = || {
        let text = std::fs::read_to_string(&r.sms).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        v["body"].as_str().unwrap().to_string()
    };
    let (id, _) = start(&r.ctx, PHONE, "hi", c, ip, None).await.unwrap();
    assert!(last_body().contains("आपका OTP है।"), "{}", last_body());
    r.clock.advance(Duration::from_secs(31));
    resend(&r.ctx, &id, "hi", (c, ip), None, None)
        .await
        .unwrap();
    assert!(last_body().contains("आपका OTP है।"), "{}", last_body());
    for other in ["en", "ta", ""] {
        start(&r.ctx, "+919876543210", other, c, ip, None)
            .await
            .unwrap();
        assert!(!last_body().contains("आपका"), "{other}: {}", last_body());
    }
}

/// A detector tuned to trip fast: a 4th send into a prefix with
/// under half verified, from one network, is pumping.
const TRIGGER_HAPPY: &str = "[limits]\nsend_per_ip = { max = 1000, window = \"1h\" }\nsend_per_prefix = { max = 1000, window = \"1h\" }\n[limits.pumping]\nmin_sends = 3\nmin_conversion = 0.5\nmin_networks = 1";

fn in_prefix(i: u32) -> String {
    format!("+9198123{:05}", 40000 + i)
}

/// Positive control for the two tests below: unverified sends into one
/// prefix are pumping, and the detector refuses before any SMS.
#[tokio::test(start_paused = true)]
async fn unverified_sends_into_a_prefix_trip_the_detector() {
    let r = rig(TRIGGER_HAPPY, None);
    let mut answers = Vec::new();
    for i in 0..6 {
        answers.push(match r.send(&in_prefix(i)).await {
            Ok(_) => "sent",
            Err(FlowError::RateLimited { limit, .. }) => limit,
            Err(e) => panic!("{e:?}"),
        });
    }
    assert_eq!(answers[..3], ["sent"; 3], "{answers:?}");
    assert_eq!(answers[3..], ["pumping"; 3], "{answers:?}");
    assert_eq!(r.sent(), 3, "the refused sends cost no SMS");
}

/// The pumping ticket of a send that reached no phone is taken back: a
/// provider outage is not evidence against the prefix.
#[tokio::test(start_paused = true)]
async fn a_failed_send_gives_its_pumping_ticket_back() {
    let r = rig(
        TRIGGER_HAPPY,
        Some("/proc/otpgate-cannot-write-here/sms.jsonl"),
    );
    for i in 0..10 {
        let sent = r.send(&in_prefix(i)).await;
        assert!(
            matches!(sent, Err(FlowError::SmsFailed)),
            "send {i}: {sent:?} (a failed send must not count toward pumping)"
        );
    }
}

/// A verified code counts for the prefix: shoppers who type their codes
/// never look like pumping, however many there are.
#[tokio::test(start_paused = true)]
async fn verified_codes_keep_a_prefix_open() {
    let r = rig(TRIGGER_HAPPY, None);
    for i in 0..10 {
        let id = r
            .send(&in_prefix(i))
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e:?}"));
        r.guess(&id, &r.last_code()).await.unwrap();
    }
    assert_eq!(r.sent(), 10);
}

/// A code as people copy it ("123 456", "123-456") is the code; anything
/// else that is not `otp.length` ASCII digits is refused before it costs
/// the challenge an attempt.
#[tokio::test(start_paused = true)]
async fn a_copied_code_is_read_and_a_malformed_one_costs_no_attempt() {
    let r = rig("[otp]\nmax_attempts = 3", None);
    let id = r.send(PHONE).await.unwrap();
    let code = r.last_code();
    for bad in ["12345a", "a23456", "1234567", "12345", "", "１２３４５６"] {
        let got = r.guess(&id, bad).await;
        assert!(matches!(got, Err(FlowError::BadCode)), "{bad}: {got:?}");
    }
    match r.guess(&id, &wrong(&code)).await {
        Err(FlowError::WrongCode { remaining }) => assert_eq!(remaining, 2, "none spent one"),
        other => panic!("{other:?}"),
    }
    let spaced = format!(" {} {} ", &code[..3], &code[3..]);
    assert_eq!(r.guess(&id, &spaced).await.unwrap().phone, PHONE);

    let other = "+919812345679";
    let id = r.send(other).await.unwrap();
    let code = r.last_code();
    let dashed = format!("{}-{}", &code[..3], &code[3..]);
    assert_eq!(r.guess(&id, &dashed).await.unwrap().phone, other);
}

/// The right code is not a failure: the failure budget it was charged
/// before the check is given back, so only the wrong guesses count.
#[tokio::test(start_paused = true)]
async fn the_right_code_gives_its_failure_charge_back() {
    let r = rig(
        "[limits]\nverify_fail_per_phone = { max = 5, window = \"1h\" }",
        None,
    );
    let key = format!("verify_fail_per_phone:{PHONE}");
    let id = r.send(PHONE).await.unwrap();
    let code = r.last_code();
    assert!(r.guess(&id, &wrong(&code)).await.is_err());
    assert_eq!(r.count(&key, 3600).await, 1);
    r.guess(&id, &code).await.unwrap();
    assert_eq!(
        r.count(&key, 3600).await,
        1,
        "the right guess is not counted"
    );
}

/// A resend before `resend_after` is refused for that, before any limit
/// is charged: the shopper is told to wait seconds, not that a limit
/// (here the phone's one send an hour) is spent, and nothing is charged.
#[tokio::test(start_paused = true)]
async fn an_early_resend_is_told_to_wait_before_any_limit_is_charged() {
    let r = rig(
        "[limits]\nsend_per_phone = { max = 1, window = \"1h\" }",
        None,
    );
    let id = r.send(PHONE).await.unwrap();
    let (c, ip) = conn();
    let early = resend(&r.ctx, &id, "en", (c, ip), None, None).await;
    match early {
        Err(FlowError::RateLimited { limit, .. }) => assert_eq!(limit, "resend_after"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.count(&format!("send_per_phone:{PHONE}"), 3600).await, 1);
}
