//! The steps of the flow, shared by forms and JSON: start a challenge
//! (limits, phone, code, SMS), check a code, resend, all against the store.
//!
//! Every limit is counted before it is checked, in the store, so parallel
//! requests cannot pass a limit together. Sends are refused, cheapest and
//! least revealing first: client IP, region policy, a pumping block, per
//! phone, per prefix, per country, the pumping detector, then the SMS
//! budget, which (like the detector) is taken back if no SMS goes out.

use std::net::IpAddr;
use std::time::{Duration, Instant};

mod error;
mod failures;
mod limits;

pub use self::error::FlowError;

use self::failures::charge_failure;
use self::limits::{
    charge, charge_send, limit, limited, refund, store_down, update_conversion, Charges,
};
use crate::audit::{self, Scope, Who};
use crate::gateway::{ConnInfo, Gateway};
use crate::otp;
use crate::phone::{Phone, PhoneError};
use crate::pumping;
use crate::session::{random_id, Session};
use crate::sms::{DeliveryError, SmsMessage};
use crate::store::{Attempt, Challenge, Resend};

/// What the browser's pending cookie holds.
pub struct Pending {
    pub challenge_id: String,
    pub rd: String,
    /// The challenge's number (E.164), to fill the phone field again when
    /// the code is used up; empty once the shopper is verified.
    pub phone: String,
}

impl Pending {
    pub fn encode(&self) -> String {
        format!("{}|{}|{}", self.challenge_id, self.phone, self.rd)
    }
    pub fn decode(s: &str) -> Option<Pending> {
        let (id, rest) = s.split_once('|')?;
        // `rd` always starts with `/`; a cookie from before the number was
        // kept is `id|rd`.
        let (phone, rd) = match rest.split_once('|') {
            Some((phone, rd)) if !phone.starts_with('/') => (phone, rd),
            _ => ("", rest),
        };
        Some(Pending {
            challenge_id: id.to_string(),
            rd: rd.to_string(),
            phone: phone.to_string(),
        })
    }
}

/// Validates the phone, applies every send limit, stores a new challenge
/// and texts its code in `lang` (an offered page language: the SMS reads
/// like the pages the shopper is using). Returns the challenge id and phone.
///
/// Enumeration by timing: a refusal takes as long as a typical real send
/// (and every answer at least `otp.min_send_time`), so a quick 429 does
/// not tell that a number's limits, and not the client's, were reached.
pub async fn start(
    gw: &Gateway,
    phone_input: &str,
    lang: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
) -> Result<(String, Phone), FlowError> {
    let started = Instant::now();
    let result = send_code(
        gw,
        phone_input,
        lang,
        Who {
            conn,
            client_ip,
            endpoint: "send",
        },
    )
    .await;
    let took = started.elapsed();
    gw.metrics.observe_send(took, result.is_ok());
    let floor = match &result {
        Ok(_) => gw.cfg.otp.min_send_time,
        Err(_) => gw.cfg.otp.min_send_time.max(gw.metrics.typical_send()),
    };
    if let Some(rest) = floor.checked_sub(took) {
        tokio::time::sleep(rest).await;
    }
    result
}

async fn send_code(
    gw: &Gateway,
    phone_input: &str,
    lang: &str,
    who: Who,
) -> Result<(String, Phone), FlowError> {
    audit_gate(gw)?;
    let l = &gw.cfg.limits;
    let mut charges = Charges::new(gw);
    let ip = Scope::Ip(who.client_ip);
    charge(
        gw,
        &mut charges,
        "send_per_ip",
        ip,
        None,
        l.send_per_ip,
        who,
    )
    .await?;
    // Region policy before anything that could cost an SMS.
    let phone =
        Phone::parse(phone_input, &gw.cfg.phone).inspect_err(|e| audit::phone_refused(*e, who))?;
    charge_send(gw, &mut charges, &phone, who).await?;
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
    if let Err(e) = gw.store.put_challenge(&id, ch).await {
        refund(gw, charges).await;
        return Err(store_down(e));
    }
    deliver(gw, &phone, &code, lang, charges, who).await?;
    Ok((id, phone))
}

async fn deliver(
    gw: &Gateway,
    phone: &Phone,
    code: &str,
    lang: &str,
    charges: Charges,
    who: Who,
) -> Result<(), FlowError> {
    let msg = SmsMessage {
        to: phone.e164().to_string(),
        region: phone.region_code(),
        body: message_for(gw, code, lang),
        code: code.to_string(),
    };
    match gw.sms.send(&msg).await {
        Ok(receipt) => {
            gw.metrics
                .otp_sent
                .get_or_create(&crate::metrics::ProviderCountry {
                    provider: receipt.provider.to_string(),
                    country: msg.region,
                })
                .inc();
            audit::code_sent(phone, receipt.provider, who);
            update_conversion(gw, phone).await;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = ?e, phone = %phone.masked(), "SMS not sent");
            let mut charges = charges;
            if e != DeliveryError::Unavailable {
                // The number was refused: the shopper's doing, like a
                // number outside `allowed_regions`, so the address keeps
                // paying for the attempt (probing numbers is not free).
                charges.keep("send_per_ip");
            }
            refund(gw, charges).await;
            Err(match e {
                DeliveryError::InvalidNumber => FlowError::Phone(PhoneError::Invalid),
                DeliveryError::OptedOut => FlowError::OptedOut,
                DeliveryError::Unavailable => FlowError::SmsFailed,
            })
        }
    }
}

fn message_for(gw: &Gateway, code: &str, lang: &str) -> String {
    let cfg = &gw.cfg;
    let template = cfg.otp.message_in(lang);
    let ttl_minutes = cfg.otp.ttl.as_secs().div_ceil(60);
    match cfg.server.public_host.as_deref() {
        Some(host) => otp::render_message(template, code, &cfg.brand.name, ttl_minutes, host),
        // Without a configured host the autofill line is left out: a Host
        // header is the client's to choose, and a code bound to an
        // attacker's origin would autofill on their phishing page.
        None => {
            let kept: Vec<&str> = template.lines().filter(|l| !l.contains("{host}")).collect();
            otp::render_message(
                kept.join("\n").trim_end(),
                code,
                &cfg.brand.name,
                ttl_minutes,
                "",
            )
        }
    }
}

/// The number to text: the one the shopper typed or, in registered-number
/// mode (`phone.lookup_url`), the one the storefront has for the signed-in
/// customer — then anything typed is ignored.
pub async fn number_to_text(
    gw: &Gateway,
    headers: &http::HeaderMap,
    typed: &str,
) -> Result<String, FlowError> {
    let Some(lookup) = &gw.lookup else {
        return Ok(typed.to_string());
    };
    let own = [
        gw.cookies.session_name.as_str(),
        &gw.cookies.pending_name,
        &gw.cookies.csrf_name,
    ];
    match lookup.registered_phone(headers, &own).await {
        Ok(Some(phone)) => Ok(phone),
        Ok(None) => Err(FlowError::NotSignedIn),
        Err(_) => Err(FlowError::Store),
    }
}

/// `[log] audit_required`: no sign-in while its events would be lost.
fn audit_gate(gw: &Gateway) -> Result<(), FlowError> {
    if gw.cfg.log.audit_required && !audit::probe() {
        tracing::error!("sign-in refused: the audit trail cannot be written (log.audit_required)");
        return Err(FlowError::Store);
    }
    Ok(())
}

/// Checks a code against the browser's challenge; on success, a session.
pub async fn check(
    gw: &Gateway,
    challenge_id: &str,
    code: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
) -> Result<Session, FlowError> {
    let who = Who {
        conn,
        client_ip,
        endpoint: "verify",
    };
    audit_gate(gw)?;
    // "123 456" and "123-456" are how people copy codes.
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let code = code.as_str();
    if code.len() != gw.cfg.otp.length as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FlowError::BadCode);
    }
    let l = &gw.cfg.limits;
    limit(
        gw,
        "verify_per_ip",
        Scope::Ip(client_ip),
        None,
        1,
        l.verify_per_ip,
        who,
    )
    .await?;
    let now = gw.clock.now_ms();
    let Some(ch) = gw
        .store
        .challenge(challenge_id, now)
        .await
        .map_err(store_down)?
    else {
        return Err(FlowError::NoChallenge);
    };
    let phone = Phone::from_e164(&ch.phone);
    let counted = charge_failure(gw, challenge_id, &ch.phone, phone.as_ref(), now, who).await?;
    let fails = l.verify_fail_per_phone;
    let not_a_failure = || async {
        if !counted {
            return Ok(());
        }
        gw.store
            .uncount(
                &format!("verify_fail_per_phone:{}", ch.phone),
                1,
                fails.window,
                now,
            )
            .await
    };
    // Read before the code is spent: a store that cannot say its epoch
    // cannot issue a session anyway.
    let epoch = gw.store_epoch().await.map_err(store_down)?;
    let candidate = otp::code_hash(&gw.otp_key, challenge_id, &ch.phone, code);
    let outcome = gw
        .store
        .attempt(challenge_id, candidate, gw.cfg.otp.max_attempts, now)
        .await
        .map_err(store_down)?;
    match outcome {
        Attempt::Verified { phone: e164 } => {
            let _ = not_a_failure().await;
            let now_s = gw.clock.now_secs();
            let session = Session {
                id: random_id(),
                phone: e164,
                verified_at: now_s,
                expires_at: now_s + gw.cfg.session.ttl.as_secs(),
                epoch,
            };
            gw.metrics.sessions_issued.inc();
            if let Some(p) = &phone {
                gw.metrics
                    .otp_verified
                    .get_or_create(&crate::metrics::CountryLabel {
                        country: p.region_code(),
                    })
                    .inc();
                audit::verified(p, who);
                if let Err(e) = pumping::verified(&*gw.store, &l.pumping, p, client_ip, now).await {
                    tracing::warn!(error = %e, "conversion not counted");
                }
                update_conversion(gw, p).await;
            }
            Ok(session)
        }
        Attempt::Wrong { remaining } => {
            fail(gw, "wrong_code", phone.as_ref(), who);
            Err(FlowError::WrongCode { remaining })
        }
        Attempt::Exhausted => {
            fail(gw, "exhausted", phone.as_ref(), who);
            if let Some(p) = &phone {
                audit::challenge_voided(p, who);
            }
            Err(FlowError::Exhausted)
        }
        Attempt::Missing => {
            let _ = not_a_failure().await;
            Err(FlowError::NoChallenge)
        }
    }
}

fn fail(gw: &Gateway, reason: &'static str, phone: Option<&Phone>, who: Who) {
    gw.metrics
        .otp_failed
        .get_or_create(&crate::metrics::ReasonLabel {
            reason: reason.into(),
        })
        .inc();
    if let Some(p) = phone {
        audit::failed(p, reason, who);
    }
}

/// A new code for the same challenge, once `resend_after` has passed.
pub async fn resend(
    gw: &Gateway,
    challenge_id: &str,
    lang: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
) -> Result<Phone, FlowError> {
    let who = Who {
        conn,
        client_ip,
        endpoint: "resend",
    };
    audit_gate(gw)?;
    let now = gw.clock.now_ms();
    let Some(ch) = gw
        .store
        .challenge(challenge_id, now)
        .await
        .map_err(store_down)?
    else {
        return Err(FlowError::NoChallenge);
    };
    let phone = Phone::from_e164(&ch.phone).ok_or(FlowError::NoChallenge)?;
    let ready_at = ch.sent_at + gw.cfg.otp.resend_after.as_millis() as u64;
    if now < ready_at {
        return Err(limited(
            gw,
            "resend_after",
            Scope::Phone(phone.e164()),
            Some(&phone),
            Duration::from_millis(ready_at - now),
            who,
        ));
    }
    let mut charges = Charges::new(gw);
    let ip_limit = gw.cfg.limits.send_per_ip;
    let ip = Scope::Ip(client_ip);
    charge(gw, &mut charges, "send_per_ip", ip, None, ip_limit, who).await?;
    charge_send(gw, &mut charges, &phone, who).await?;
    let code = otp::generate_code(gw.cfg.otp.length);
    let hash = otp::code_hash(&gw.otp_key, challenge_id, phone.e164(), &code);
    let replaced = gw
        .store
        .replace_code(
            challenge_id,
            hash,
            gw.cfg.otp.resend_after,
            gw.cfg.otp.ttl,
            now,
        )
        .await;
    let refused = match replaced {
        Ok(Resend::Replaced) => None,
        Ok(Resend::TooSoon { retry_after }) => Some(limited(
            gw,
            "resend_after",
            Scope::Phone(phone.e164()),
            Some(&phone),
            retry_after,
            who,
        )),
        Ok(Resend::Missing) => Some(FlowError::NoChallenge),
        Err(e) => Some(store_down(e)),
    };
    if let Some(e) = refused {
        refund(gw, charges).await;
        return Err(e);
    }
    deliver(gw, &phone, &code, lang, charges, who).await?;
    Ok(phone)
}
