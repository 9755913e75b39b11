//! The steps of the flow, shared by forms and JSON: start a challenge
//! (limits, phone, code, SMS), check a code, resend, all against the store.
//!
//! Every limit is counted before it is checked, in the store, so parallel
//! requests cannot pass a limit together. Sends are refused, cheapest and
//! least revealing first: client IP, client fingerprint, region policy, a
//! pumping block (prefix or fingerprint: known bad, refused before any
//! shared counter is touched), per phone, per prefix, per country, the
//! pumping detector, then the SMS budget. A refused send keeps only its
//! per-IP charge (limits.rs `refund_refused`: refused attackers must not
//! spend the budgets genuine shoppers share); a send whose SMS does not
//! go out is taken back too.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ctx::FlowCtx;
use super::error::FlowError;
use super::failures::charge_failure;
use super::limits::{
    admit_send, charge_client, charge_send, limit, refund, update_conversion, Charges,
};
use super::refusal::{limited, store_down};
use crate::audit::{self, Scope, Who};
use crate::conn::ConnInfo;
use crate::otp::{self, Confirm};
use crate::phone::{Phone, PhoneError};
use crate::pumping;
use crate::session::{random_id, Session};
use crate::sms::{DeliveryError, SmsMessage};
use crate::store::{Attempt, Challenge, Resend};

/// Validates the phone, applies every send limit, stores a new challenge
/// and texts its code in `lang` (an offered page language: the SMS reads
/// like the pages the shopper is using). Returns the challenge id and phone.
/// With `confirm` (a transaction route's held request) the code is bound
/// to that request and the SMS shows its amount.
///
/// Enumeration by timing: a refusal takes as long as a typical real send
/// (and every answer at least `otp.min_send_time`), so a quick 429 does
/// not tell that a number's limits, and not the client's, were reached.
pub async fn start(
    ctx: &FlowCtx,
    phone_input: &str,
    lang: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
    confirm: Option<&Confirm>,
) -> Result<(String, Phone), FlowError> {
    let started = Instant::now();
    let result = send_code(
        ctx,
        phone_input,
        lang,
        Who {
            conn,
            client_ip,
            endpoint: "send",
        },
        confirm,
    )
    .await;
    let took = started.elapsed();
    ctx.metrics.observe_send(took, result.is_ok());
    let floor = match &result {
        Ok(_) => ctx.cfg.otp.min_send_time,
        Err(_) => ctx.cfg.otp.min_send_time.max(ctx.metrics.typical_send()),
    };
    if let Some(rest) = floor.checked_sub(took) {
        tokio::time::sleep(rest).await;
    }
    result
}

async fn send_code(
    ctx: &FlowCtx,
    phone_input: &str,
    lang: &str,
    who: Who,
    confirm: Option<&Confirm>,
) -> Result<(String, Phone), FlowError> {
    audit_gate(ctx)?;
    let (phone, charges) = admit_send(ctx, phone_input, who).await?;
    let id = random_id();
    let code = otp::generate_code(ctx.cfg.otp.length);
    let now = ctx.clock.now_ms();
    let ch = Challenge {
        phone: phone.e164().to_string(),
        code_hash: otp::code_hash(&ctx.otp_key, &id, phone.e164(), &code, binding(confirm)),
        sent_at: now,
        expires_at: now + ctx.cfg.otp.ttl.as_millis() as u64,
        attempts: 0,
        sends: 1,
    };
    if let Err(e) = ctx.store.put_challenge(&id, ch).await {
        refund(ctx, charges).await;
        return Err(store_down(e));
    }
    deliver(ctx, &phone, &code, lang, charges, who, confirm).await?;
    Ok((id, phone))
}

/// [`admit_send`] alone, no code and no SMS: what `otpgate audit-replay`
/// (replay.rs) runs each recorded send through, in simulated time.
pub async fn try_send(ctx: &FlowCtx, phone_input: &str, who: Who) -> Result<Phone, FlowError> {
    admit_send(ctx, phone_input, who)
        .await
        .map(|(phone, _)| phone)
}

/// A verified code: counted for the metrics, the trail, and the pumping
/// detector's conversion per prefix, network and fingerprint.
pub async fn record_verified(ctx: &FlowCtx, p: &Phone, who: Who) {
    let pumping = &ctx.cfg.limits.pumping;
    let now = ctx.clock.now_ms();
    ctx.metrics
        .otp_verified
        .get_or_create(&crate::metrics::CountryLabel {
            country: p.region_code(),
        })
        .inc();
    audit::verified(p, &ctx.phone_tags, who);
    if let Err(e) = pumping::verified(&*ctx.store, pumping, p, who.client_ip, now).await {
        tracing::warn!(error = %e, "conversion not counted");
    }
    if let Some(ja4) = who.fingerprint() {
        let counted = pumping::fingerprint::verified(&*ctx.store, pumping, ja4.as_str(), now);
        if let Err(e) = counted.await {
            tracing::warn!(error = %e, "conversion of the fingerprint not counted");
        }
    }
    update_conversion(ctx, p).await;
}

async fn deliver(
    ctx: &FlowCtx,
    phone: &Phone,
    code: &str,
    lang: &str,
    charges: Charges,
    who: Who,
    confirm: Option<&Confirm>,
) -> Result<(), FlowError> {
    let amount = confirm.and_then(|c| c.amount.as_deref());
    let msg = SmsMessage {
        to: phone.e164().to_string(),
        region: phone.region_code(),
        body: message_for(ctx, code, lang, amount),
        code: code.to_string(),
    };
    match ctx.sms.send(&msg).await {
        Ok(receipt) => {
            ctx.metrics
                .otp_sent
                .get_or_create(&crate::metrics::ProviderCountry {
                    provider: receipt.provider.to_string(),
                    country: msg.region,
                })
                .inc();
            audit::code_sent(phone, receipt.provider, &ctx.phone_tags, who);
            update_conversion(ctx, phone).await;
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
            refund(ctx, charges).await;
            Err(match e {
                DeliveryError::InvalidNumber => FlowError::Phone(PhoneError::Invalid),
                DeliveryError::OptedOut => FlowError::OptedOut,
                DeliveryError::Unavailable => FlowError::SmsFailed,
            })
        }
    }
}

fn binding(confirm: Option<&Confirm>) -> Option<&[u8; 32]> {
    confirm.map(|c| &c.digest)
}

fn message_for(ctx: &FlowCtx, code: &str, lang: &str, amount: Option<&str>) -> String {
    let cfg = &ctx.cfg;
    let template = cfg.otp.message_in(lang);
    let ttl_minutes = cfg.otp.ttl.as_secs().div_ceil(60);
    // Without a configured host the autofill line is left out (otp.rs):
    // a Host header is the client's to choose.
    let host = cfg.public_host.as_deref();
    otp::render_message(
        &otp::template_as_sent(template, host.is_some(), amount.is_some()),
        code,
        &cfg.brand_name,
        ttl_minutes,
        host.unwrap_or(""),
        amount,
    )
}

/// `[log] audit_required`: no sign-in while its events would be lost.
fn audit_gate(ctx: &FlowCtx) -> Result<(), FlowError> {
    if ctx.cfg.audit_required && !audit::probe() {
        tracing::error!("sign-in refused: the audit trail cannot be written (log.audit_required)");
        return Err(FlowError::Store);
    }
    Ok(())
}

/// Checks a code against the browser's challenge; on success, a session.
/// `binding` is the digest of the transaction the browser's held request
/// is, if it is one: a code bound to another request (or to none) fails
/// as a wrong code.
pub async fn check(
    ctx: &FlowCtx,
    challenge_id: &str,
    code: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
    binding: Option<&[u8; 32]>,
) -> Result<Session, FlowError> {
    let who = Who {
        conn,
        client_ip,
        endpoint: "verify",
    };
    audit_gate(ctx)?;
    // "123 456" and "123-456" are how people copy codes.
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let code = code.as_str();
    if code.len() != ctx.cfg.otp.length as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FlowError::BadCode);
    }
    let l = &ctx.cfg.limits;
    limit(
        ctx,
        "verify_per_ip",
        Scope::Ip(client_ip),
        None,
        1,
        l.verify_per_ip,
        who,
    )
    .await?;
    let now = ctx.clock.now_ms();
    let Some(ch) = ctx
        .store
        .challenge(challenge_id, now)
        .await
        .map_err(store_down)?
    else {
        return Err(FlowError::NoChallenge);
    };
    let phone = Phone::from_e164(&ch.phone);
    let counted = charge_failure(ctx, challenge_id, &ch.phone, phone.as_ref(), now, who).await?;
    let fails = l.verify_fail_per_phone;
    let not_a_failure = || async {
        if !counted {
            return Ok(());
        }
        ctx.store
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
    let epoch = ctx.sessions.store_epoch().await.map_err(store_down)?;
    let candidate = otp::code_hash(&ctx.otp_key, challenge_id, &ch.phone, code, binding);
    let outcome = ctx
        .store
        .attempt(challenge_id, candidate, ctx.cfg.otp.max_attempts, now)
        .await
        .map_err(store_down)?;
    match outcome {
        Attempt::Verified { phone: e164 } => {
            let _ = not_a_failure().await;
            let now_s = ctx.clock.now_secs();
            let session = Session {
                id: random_id(),
                phone: e164,
                verified_at: now_s,
                expires_at: now_s + ctx.cfg.session_ttl.as_secs(),
                epoch,
            };
            ctx.metrics.sessions_issued.inc();
            if let Some(p) = &phone {
                record_verified(ctx, p, who).await;
            }
            Ok(session)
        }
        Attempt::Wrong { remaining } => {
            fail(ctx, "wrong_code", phone.as_ref(), who);
            Err(FlowError::WrongCode { remaining })
        }
        Attempt::Exhausted => {
            fail(ctx, "exhausted", phone.as_ref(), who);
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

fn fail(ctx: &FlowCtx, reason: &'static str, phone: Option<&Phone>, who: Who) {
    ctx.metrics
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
    ctx: &FlowCtx,
    challenge_id: &str,
    lang: &str,
    conn: ConnInfo,
    client_ip: IpAddr,
    confirm: Option<&Confirm>,
) -> Result<Phone, FlowError> {
    let who = Who {
        conn,
        client_ip,
        endpoint: "resend",
    };
    audit_gate(ctx)?;
    let now = ctx.clock.now_ms();
    let Some(ch) = ctx
        .store
        .challenge(challenge_id, now)
        .await
        .map_err(store_down)?
    else {
        return Err(FlowError::NoChallenge);
    };
    let phone = Phone::from_e164(&ch.phone).ok_or(FlowError::NoChallenge)?;
    let ready_at = ch.sent_at + ctx.cfg.otp.resend_after.as_millis() as u64;
    if now < ready_at {
        return Err(limited(
            ctx,
            "resend_after",
            Scope::Phone(phone.e164()),
            Some(&phone),
            Duration::from_millis(ready_at - now),
            who,
        ));
    }
    let mut charges = Charges::new(ctx);
    charge_client(ctx, &mut charges, Some(&phone), who).await?;
    charge_send(ctx, &mut charges, &phone, who).await?;
    let code = otp::generate_code(ctx.cfg.otp.length);
    let hash = otp::code_hash(
        &ctx.otp_key,
        challenge_id,
        phone.e164(),
        &code,
        binding(confirm),
    );
    let replaced = ctx
        .store
        .replace_code(
            challenge_id,
            hash,
            ctx.cfg.otp.resend_after,
            ctx.cfg.otp.ttl,
            now,
        )
        .await;
    let refused = match replaced {
        Ok(Resend::Replaced) => None,
        Ok(Resend::TooSoon { retry_after }) => Some(limited(
            ctx,
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
        refund(ctx, charges).await;
        return Err(e);
    }
    deliver(ctx, &phone, &code, lang, charges, who, confirm).await?;
    Ok(phone)
}
