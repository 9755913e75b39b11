//! `otpgate audit-replay --config new.toml audit.jsonl`: past sends and
//! verifies from the audit trail, run again through a candidate
//! configuration's limits, region policy and pumping detector — the very
//! code the gateway runs (`flow::try_send`, `flow::record_verified`) —
//! against a fresh memory store, in simulated time (a manual clock set to
//! each event's `time`). It answers "what would this configuration have
//! blocked, and whom?" before it goes live; a rule in shadow mode in the
//! candidate is counted as `would_block`, not blocked.
//!
//! What is replayed: each `code_sent` and each `rate_limited` of the
//! `send`/`resend` endpoints is one send attempt (client address, JA4,
//! prefix, `phone_key`); each `verified` is a verify. The trail never
//! holds a number (audit/events.rs), so a number is rebuilt as its real
//! prefix (country, region policy, prefix limits and the detector are
//! exact) plus a last-four chosen per `phone_key` (distinct numbers stay
//! distinct). A verify counts as conversion only when its number's last
//! send went out in the replay too; one whose send the candidate blocked
//! is a shopper the candidate would have turned away (`verifies_lost`).
//! Not replayed: sends refused by `resend_after` (not a fraud rule), the
//! guessing limits, and lines from before the trail carried a `prefix`
//! (counted as `skipped`).
//!
//! The pumping simulator (tests/pumping_sim.rs) drives the same [`Replay`]
//! with numbers it knows.

mod report;

pub use report::Report;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde_json::Value;

use crate::audit::{PhoneTags, Who};
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::conn::ConnInfo;
use crate::fingerprint::Ja4;
use crate::flow::{self, FlowConfig, FlowCtx, FlowError};
use crate::metrics::Metrics;
use crate::session::CookieSealer;
use crate::sessions::Sessions;
use crate::store::{EpochWatch, MemoryStore};

/// The number of a recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    /// Known in full (the simulator).
    E164(String),
    /// As the trail tells it: prefix and `phone_key`.
    Keyed { prefix: String, key: String },
}

/// One send attempt or verify, as recorded.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at_ms: u64,
    pub number: Number,
    pub client_ip: IpAddr,
    pub ja4: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Event {
    Send(Attempt),
    Verify(Attempt),
    /// A line that is a send or verify but cannot be replayed.
    Skipped,
}

/// What the candidate does with one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Refused by the named rule (or `region` for the region policy).
    Blocked(&'static str),
}

/// One audit line as an event, `None` for lines of other events.
pub fn parse_line(line: &str) -> Option<Event> {
    let v: Value = serde_json::from_str(line).ok()?;
    let event = v["event"].as_str()?;
    let endpoint = v["endpoint"].as_str().unwrap_or("");
    let send = match event {
        "code_sent" => true,
        "rate_limited" if matches!(endpoint, "send" | "resend") => {
            if v["limit"] == "resend_after" {
                return None;
            }
            true
        }
        "verified" => false,
        _ => return None,
    };
    let attempt = (|| {
        let at = humantime::parse_rfc3339(v["time"].as_str()?).ok()?;
        let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
        Some(Attempt {
            at_ms,
            number: Number::Keyed {
                prefix: v["prefix"].as_str()?.to_string(),
                key: v["phone_key"].as_str()?.to_string(),
            },
            client_ip: v["client_ip"].as_str()?.parse().ok()?,
            ja4: v["ja4"].as_str().map(str::to_string),
        })
    })();
    Some(match (attempt, send) {
        (None, _) => Event::Skipped,
        (Some(a), true) => Event::Send(a),
        (Some(a), false) => Event::Verify(a),
    })
}

/// A candidate configuration over a fresh memory store and a manual clock.
pub struct Replay {
    ctx: FlowCtx,
    clock: ManualClock,
    metrics: Arc<Metrics>,
    /// Prefix -> phone_key -> the last four digits it was given.
    suffixes: HashMap<String, HashMap<String, u16>>,
    /// E.164 -> whether its last send went out in the replay.
    last_send: HashMap<String, bool>,
    pub report: Report,
}

impl Replay {
    pub fn new(cfg: &Config) -> Self {
        let clock = ManualClock::at(0);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let store = MemoryStore::new();
        let metrics = Arc::new(Metrics::new());
        let sessions = Sessions::new(
            Arc::new(CookieSealer::new(&cfg.session)),
            store.clone(),
            shared.clone(),
            metrics.clone(),
            Arc::new(EpochWatch::new(Default::default())),
        );
        let ctx = FlowCtx {
            cfg: FlowConfig::of(cfg),
            store,
            clock: shared,
            sms: Arc::new(crate::sms::build(&cfg.sms)),
            channels: Arc::new(crate::sms::ChannelSet::build(
                &cfg.channels,
                Arc::new(crate::sms::SmsMetrics::new()),
            )),
            metrics: metrics.clone(),
            otp_key: [0; 32],
            code_key: [0; 32],
            sessions,
            phone_tags: PhoneTags::new([0; 32]),
        };
        Replay {
            ctx,
            clock,
            metrics,
            suffixes: HashMap::new(),
            last_send: HashMap::new(),
            report: Report::default(),
        }
    }

    fn e164(&mut self, n: &Number) -> String {
        match n {
            Number::E164(e) => e.clone(),
            Number::Keyed { prefix, key } => {
                let known = self.suffixes.entry(prefix.clone()).or_default();
                let next = known.len() as u16;
                let last4 = *known.entry(key.clone()).or_insert(next % 10_000);
                format!("{prefix}{last4:04}")
            }
        }
    }

    fn who(&self, a: &Attempt, endpoint: &'static str) -> Who {
        Who {
            conn: ConnInfo {
                peer: SocketAddr::new(a.client_ip, 0),
                peer_trusted: false,
                ja4: a.ja4.as_deref().and_then(Ja4::parse),
            },
            client_ip: a.client_ip,
            endpoint,
        }
    }

    /// Runs one recorded send through the candidate at its time.
    pub async fn send(&mut self, a: &Attempt) -> Outcome {
        self.clock.set_ms(a.at_ms);
        let e164 = self.e164(&a.number);
        let who = self.who(a, "send");
        let outcome = match flow::try_send(&self.ctx, &e164, who).await {
            Ok(_) => Outcome::Sent,
            Err(FlowError::RateLimited { limit, .. }) => Outcome::Blocked(limit),
            Err(FlowError::Phone(_)) => Outcome::Blocked("region"),
            Err(_) => Outcome::Blocked("store"),
        };
        self.last_send
            .insert(e164.clone(), outcome == Outcome::Sent);
        let prefix = &e164[..e164.len().saturating_sub(4).max(1)];
        let blocked = match outcome {
            Outcome::Sent => None,
            Outcome::Blocked(rule) => Some(rule),
        };
        self.report.sent(prefix, blocked);
        outcome
    }

    /// A recorded verify: conversion, if the candidate sent that code.
    /// Returns whether it counted.
    pub async fn verify(&mut self, a: &Attempt) -> bool {
        self.clock.set_ms(a.at_ms);
        let e164 = self.e164(&a.number);
        let delivered = self.last_send.get(&e164).copied().unwrap_or(false);
        self.report.verifies += 1;
        if !delivered {
            self.report.verifies_lost += 1;
            return false;
        }
        let Some(phone) = crate::phone::Phone::from_e164(&e164) else {
            return false;
        };
        let who = self.who(a, "verify");
        flow::record_verified(&self.ctx, &phone, who).await;
        true
    }

    /// Runs one parsed event.
    pub async fn event(&mut self, e: &Event) {
        match e {
            Event::Send(a) => {
                self.send(a).await;
            }
            Event::Verify(a) => {
                self.verify(a).await;
            }
            Event::Skipped => self.report.skipped += 1,
        }
    }

    /// The report, with the shadow rules' `would_block` counts.
    pub fn finish(mut self) -> Report {
        self.report.shadow_from_metrics(&self.metrics.render());
        self.report
    }
}

/// Replays every line of `trail` (JSON lines) through `cfg`.
pub async fn replay(cfg: &Config, trail: &str) -> Report {
    let mut events: Vec<Event> = trail.lines().filter_map(parse_line).collect();
    // Lines from several instances may interleave out of order.
    events.sort_by_key(|e| match e {
        Event::Send(a) | Event::Verify(a) => a.at_ms,
        Event::Skipped => 0,
    });
    let mut r = Replay::new(cfg);
    for e in &events {
        r.event(e).await;
    }
    r.finish()
}
