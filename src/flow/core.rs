//! The steps of the flow, shared by forms and JSON: start a challenge
//! (limits, phone, code, SMS), check a code, resend, all against the store.

use std::time::Duration;

use http::StatusCode;

use crate::audit;
use crate::config::Limit;
use crate::gateway::{ConnInfo, Gateway};
use crate::otp;
use crate::phone::{Phone, PhoneError};
use crate::session::{random_id, Session};
use crate::sms::{DeliveryError, SmsMessage};
use crate::store::{Attempt, Challenge, Count, Resend};

/// Why a step did not succeed; one mapping to status, code and message.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Phone(#[from] PhoneError),
    #[error("Too many attempts. Please wait and try again.")]
    RateLimited { limit: &'static str, retry_after: Duration },
    #[error("We couldn't send the text message just now. Please try again in a minute.")]
    SmsFailed,
    #[error("That number has opted out of text messages from us (reply START to the sender to opt back in), or can't receive them.")]
    OptedOut,
    #[error("Your code has expired. Please ask for a new one.")]
    NoChallenge,
    #[error("That code isn't right. Please check it and try again.")]
    WrongCode { remaining: u32 },
    #[error("Too many wrong codes. Please ask for a new code.")]
    Exhausted,
    #[error("Enter the digits from the text message.")]
    BadCode,
    #[error("Something went wrong on our side. Please try again.")]
    Store,
}

impl FlowError {
    pub fn status(&self) -> StatusCode {
        match self {
            FlowError::Phone(_) | FlowError::BadCode | FlowError::OptedOut => StatusCode::UNPROCESSABLE_ENTITY,
            FlowError::WrongCode { .. } => StatusCode::UNAUTHORIZED,
            FlowError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            FlowError::SmsFailed | FlowError::Store => StatusCode::SERVICE_UNAVAILABLE,
            FlowError::NoChallenge | FlowError::Exhausted => StatusCode::GONE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            FlowError::Phone(p) => p.code(),
            FlowError::RateLimited { .. } => "rate_limited",
            FlowError::SmsFailed => "sms_failed",
            FlowError::OptedOut => "opted_out",
            FlowError::NoChallenge => "expired",
            FlowError::WrongCode { .. } => "wrong_code",
            FlowError::Exhausted => "too_many_attempts",
            FlowError::BadCode => "bad_code",
            FlowError::Store => "unavailable",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlowError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// What the browser's pending cookie holds.
pub struct Pending {
    pub challenge_id: String,
    pub rd: String,
}

impl Pending {
    pub fn encode(&self) -> String {
        format!("{}|{}", self.challenge_id, self.rd)
    }
    pub fn decode(s: &str) -> Option<Pending> {
        let (id, rd) = s.split_once('|')?;
        Some(Pending { challenge_id: id.to_string(), rd: rd.to_string() })
    }
}

async fn limit(gw: &Gateway, name: &'static str, key: &str, cost: u64, l: Limit) -> Result<(), FlowError> {
    let now = gw.clock.now_ms();
    match gw.store.count(&format!("{name}:{key}"), cost, l.max, l.window, now).await {
        Ok(Count::Allowed { .. }) => Ok(()),
        Ok(Count::Limited { retry_after }) => {
            gw.metrics.rate_limited(name);
            audit::rate_limited(name, key);
            Err(FlowError::RateLimited { limit: name, retry_after })
        }
        Err(e) => {
            tracing::error!(error = %e, "store unavailable");
            Err(FlowError::Store)
        }
    }
}

/// The SMS budget counters, charged only when an SMS is really sent.
fn budgets(gw: &Gateway) -> [(&'static str, Limit); 2] {
    [("sms_per_hour", gw.cfg.limits.sms_per_hour), ("sms_per_day", gw.cfg.limits.sms_per_day)]
}

/// Validates the phone, applies every send limit, stores a new challenge
/// and sends its code. Returns the challenge id and phone.
pub async fn start(gw: &Gateway, phone_input: &str, conn: ConnInfo, client_ip: std::net::IpAddr) -> Result<(String, Phone), FlowError> {
    let l = &gw.cfg.limits;
    limit(gw, "send_per_ip", &client_ip.to_string(), 1, l.send_per_ip).await?;
    // Region policy before anything that could cost an SMS.
    let phone = Phone::parse(phone_input, &gw.cfg.phone).inspect_err(|e| audit::phone_refused(*e, conn))?;
    limit(gw, "send_per_phone", phone.e164(), 1, l.send_per_phone).await?;
    limit(gw, "send_per_prefix", phone.prefix(), 1, l.send_per_prefix).await?;
    limit(gw, "send_per_country", &phone.region_code(), 1, l.send_per_country).await?;
    for (name, b) in budgets(gw) {
        limit(gw, name, "global", 1, b).await?;
    }
    let id = random_id();
    let code = otp::generate_code(gw.cfg.otp.length);
    let now = gw.clock.now_ms();
    let ch = Challenge {
        phone: phone.e164().to_string(),
        code_hash: otp::code_hash(&gw.otp_key, &id, phone.e164(), &code),
        sent_at: now,
        expires_at: now + gw.cfg.otp.ttl.as_millis() as u64,
        attempts: 0,
        sends: 1,
    };
    gw.store.put_challenge(&id, ch).await.map_err(|_| FlowError::Store)?;
    deliver(gw, &phone, &code).await?;
    audit::code_sent(&phone, conn);
    Ok((id, phone))
}

async fn deliver(gw: &Gateway, phone: &Phone, code: &str) -> Result<(), FlowError> {
    let msg = SmsMessage {
        to: phone.e164().to_string(),
        region: phone.region_code(),
        body: message_for(gw, code),
        code: code.to_string(),
    };
    match gw.sms.send(&msg).await {
        Ok(receipt) => {
            gw.metrics
                .otp_sent
                .get_or_create(&crate::metrics::ProviderCountry { provider: receipt.provider.to_string(), country: msg.region })
                .inc();
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = ?e, phone = %phone.masked(), "SMS not sent");
            let now = gw.clock.now_ms();
            for (name, b) in budgets(gw) {
                let _ = gw.store.uncount(&format!("{name}:global"), 1, b.window, now).await;
            }
            Err(match e {
                DeliveryError::InvalidNumber => FlowError::Phone(PhoneError::Invalid),
                DeliveryError::OptedOut => FlowError::OptedOut,
                DeliveryError::Unavailable => FlowError::SmsFailed,
            })
        }
    }
}

fn message_for(gw: &Gateway, code: &str) -> String {
    let cfg = &gw.cfg;
    let ttl_minutes = cfg.otp.ttl.as_secs().div_ceil(60);
    match cfg.server.public_host.as_deref() {
        Some(host) => otp::render_message(&cfg.otp.message, code, &cfg.brand.name, ttl_minutes, host),
        // Without a configured host the autofill line is left out: a Host
        // header is the client's to choose, and a code bound to an
        // attacker's origin would autofill on their phishing page.
        None => {
            let kept: Vec<&str> = cfg.otp.message.lines().filter(|l| !l.contains("{host}")).collect();
            otp::render_message(kept.join("\n").trim_end(), code, &cfg.brand.name, ttl_minutes, "")
        }
    }
}

/// Checks a code against the browser's challenge; on success, a session.
pub async fn check(gw: &Gateway, challenge_id: &str, code: &str, conn: ConnInfo, client_ip: std::net::IpAddr) -> Result<Session, FlowError> {
    let code = code.trim();
    if code.len() != gw.cfg.otp.length as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FlowError::BadCode);
    }
    let l = &gw.cfg.limits;
    limit(gw, "verify_per_ip", &client_ip.to_string(), 1, l.verify_per_ip).await?;
    let now = gw.clock.now_ms();
    let Some(ch) = gw.store.challenge(challenge_id, now).await.map_err(|_| FlowError::Store)? else {
        return Err(FlowError::NoChallenge);
    };
    limit(gw, "verify_fail_per_phone", &ch.phone, 0, l.verify_fail_per_phone).await?;
    let candidate = otp::code_hash(&gw.otp_key, challenge_id, &ch.phone, code);
    let outcome = gw.store.attempt(challenge_id, candidate, gw.cfg.otp.max_attempts, now).await.map_err(|_| FlowError::Store)?;
    let phone = Phone::from_e164(&ch.phone);
    match outcome {
        Attempt::Verified { phone: e164 } => {
            let now_s = gw.clock.now_secs();
            let session = Session { id: random_id(), phone: e164, verified_at: now_s, expires_at: now_s + gw.cfg.session.ttl.as_secs() };
            gw.metrics.sessions_issued.inc();
            if let Some(p) = &phone {
                gw.metrics.otp_verified.get_or_create(&crate::metrics::CountryLabel { country: p.region_code() }).inc();
                audit::verified(p, conn);
            }
            Ok(session)
        }
        Attempt::Wrong { remaining } => {
            fail(gw, &ch.phone, "wrong_code", phone.as_ref(), conn).await;
            Err(FlowError::WrongCode { remaining })
        }
        Attempt::Exhausted => {
            fail(gw, &ch.phone, "exhausted", phone.as_ref(), conn).await;
            Err(FlowError::Exhausted)
        }
        Attempt::Missing => Err(FlowError::NoChallenge),
    }
}

async fn fail(gw: &Gateway, e164: &str, reason: &'static str, phone: Option<&Phone>, conn: ConnInfo) {
    gw.metrics.otp_failed.get_or_create(&crate::metrics::ReasonLabel { reason: reason.into() }).inc();
    let l = gw.cfg.limits.verify_fail_per_phone;
    let _ = gw.store.count(&format!("verify_fail_per_phone:{e164}"), 1, u64::MAX, l.window, gw.clock.now_ms()).await;
    if let Some(p) = phone {
        audit::failed(p, reason, conn);
    }
}

/// A new code for the same challenge, once `resend_after` has passed.
pub async fn resend(gw: &Gateway, challenge_id: &str, conn: ConnInfo, client_ip: std::net::IpAddr) -> Result<Phone, FlowError> {
    let now = gw.clock.now_ms();
    let Some(ch) = gw.store.challenge(challenge_id, now).await.map_err(|_| FlowError::Store)? else {
        return Err(FlowError::NoChallenge);
    };
    let phone = Phone::from_e164(&ch.phone).ok_or(FlowError::NoChallenge)?;
    let ready_at = ch.sent_at + gw.cfg.otp.resend_after.as_millis() as u64;
    if now < ready_at {
        return Err(FlowError::RateLimited { limit: "resend_after", retry_after: Duration::from_millis(ready_at - now) });
    }
    let l = &gw.cfg.limits;
    limit(gw, "send_per_ip", &client_ip.to_string(), 1, l.send_per_ip).await?;
    limit(gw, "send_per_phone", phone.e164(), 1, l.send_per_phone).await?;
    limit(gw, "send_per_prefix", phone.prefix(), 1, l.send_per_prefix).await?;
    limit(gw, "send_per_country", &phone.region_code(), 1, l.send_per_country).await?;
    for (name, b) in budgets(gw) {
        limit(gw, name, "global", 1, b).await?;
    }
    let code = otp::generate_code(gw.cfg.otp.length);
    let hash = otp::code_hash(&gw.otp_key, challenge_id, phone.e164(), &code);
    match gw.store.replace_code(challenge_id, hash, gw.cfg.otp.resend_after, gw.cfg.otp.ttl, now).await.map_err(|_| FlowError::Store)? {
        Resend::Replaced => {}
        Resend::TooSoon { retry_after } => return Err(FlowError::RateLimited { limit: "resend_after", retry_after }),
        Resend::Missing => return Err(FlowError::NoChallenge),
    }
    deliver(gw, &phone, &code).await?;
    audit::code_sent(&phone, conn);
    Ok(phone)
}
