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

use super::channels;
use super::ctx::FlowCtx;
use super::error::FlowError;
use super::failures::charge_failure;
use super::limits::{
    charge_client, charge_send, limit, refund, refund_refused, update_conversion, Charges,
};
use super::measure;
use super::refusal::{limited, store_down};
use crate::audit::{self, Scope, Who};
use crate::conn::ConnInfo;
use crate::otp::{self, Confirm};
use crate::phone::{Phone, PhoneError};
use crate::pumping;
use crate::session::{random_id, Session};
use crate::sms::{Channel, DeliveryError, SmsMessage};
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
    let (phone, charges, via) = admit_send(ctx, phone_input, who).await?;
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
    if let Err(e) = ctx.store.put_challenge(&id, ch.clone()).await {
        refund(ctx, charges).await;
        return Err(store_down(e));
    }
    let sent = Sent {
        id: &id,
        via,
        code: &code,
    };
    deliver(ctx, &phone, sent, lang, charges, who, confirm).await?;
    if let Err(e) = channels::remember(ctx, &id, &ch, &code).await {
        tracing::warn!(error = %e, "other channels will send a new code");
    }
    Ok((id, phone))
}

/// Every limit, the region policy and the pumping detector on one send,
/// charged as if its SMS goes out (the caller refunds the charges if not).
async fn admit_send(
    ctx: &FlowCtx,
    phone_input: &str,
    who: Who,
) -> Result<(Phone, Charges, Channel), FlowError> {
    let mut charges = Charges::new(ctx);
    // Parsed first only to name the number in the trail; the address is
    // still refused before the region policy is told (cheapest first).
    let parsed = Phone::parse(phone_input, &ctx.cfg.phone);
    charge_client(ctx, &mut charges, parsed.as_ref().ok(), who).await?;
    let phone = match parsed {
        Ok(phone) => phone,
        Err(e) => {
            audit::phone_refused(e, who);
            refund_refused(ctx, &mut charges).await;
            return Err(e.into());
        }
    };
    let via = first_channel(ctx, &phone);
    charge_send(ctx, &mut charges, &phone, via, who).await?;
    Ok((phone, charges, via))
}

/// [`admit_send`] alone, no code and no SMS: what `otpgate audit-replay`
/// (replay.rs) runs each recorded send through, in simulated time.
pub async fn try_send(ctx: &FlowCtx, phone_input: &str, who: Who) -> Result<Phone, FlowError> {
    admit_send(ctx, phone_input, who)
        .await
        .map(|(phone, _, _)| phone)
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

/// The region's first channel: what a new code goes by.
fn first_channel(ctx: &FlowCtx, phone: &Phone) -> Channel {
    let region = phone.region_code();
    ctx.channels
        .cfg
        .order_for(&region)
        .first()
        .copied()
        .unwrap_or(Channel::Sms)
}

/// One send: which challenge, by which channel, which code.
#[derive(Clone, Copy)]
struct Sent<'a> {
    id: &'a str,
    via: Channel,
    code: &'a str,
}

async fn deliver(
    ctx: &FlowCtx,
    phone: &Phone,
    sent: Sent<'_>,
    lang: &str,
    charges: Charges,
    who: Who,
    confirm: Option<&Confirm>,
) -> Result<(), FlowError> {
    let code = sent.code;
    let delivery = match sent.via {
        Channel::Sms => Some(&*ctx.sms),
        other => ctx.channels.delivery(other),
    };
    let Some(delivery) = delivery else {
        refund(ctx, charges).await;
        return Err(FlowError::ChannelUnavailable);
    };
    let amount = confirm.and_then(|c| c.amount.as_deref());
    let msg = SmsMessage {
        to: phone.e164().to_string(),
        region: phone.region_code(),
        body: message_for(ctx, code, lang, amount),
        code: code.to_string(),
        lang: lang.to_string(),
    };
    match delivery.send(&msg).await {
        Ok(receipt) => {
            channels::track(ctx, sent.id, receipt.message_id.as_deref()).await;
            measure::sent(ctx, sent.id, receipt.provider, sent.via, phone.e164()).await;
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
            Err(match (e, sent.via) {
                // Not on WhatsApp, or no calls to that number: the number
                // is fine, the channel is not.
                (DeliveryError::InvalidNumber | DeliveryError::OptedOut, Channel::Whatsapp)
                | (DeliveryError::InvalidNumber | DeliveryError::OptedOut, Channel::Voice) => {
                    FlowError::ChannelUnavailable
                }
                (DeliveryError::InvalidNumber, Channel::Sms) => {
                    FlowError::Phone(PhoneError::Invalid)
                }
                (DeliveryError::OptedOut, Channel::Sms) => FlowError::OptedOut,
                (DeliveryError::Unavailable, _) => FlowError::SmsFailed,
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
            measure::verified(ctx, challenge_id).await;
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

/// Once `resend_after` has passed: a new code by the region's first
/// channel, or, with `channel`, the same code by that channel (a channel
/// switch is a resend: the same delay, limits and budget; channels.rs).
pub async fn resend(
    ctx: &FlowCtx,
    challenge_id: &str,
    lang: &str,
    who: (ConnInfo, IpAddr),
    confirm: Option<&Confirm>,
    channel: Option<Channel>,
) -> Result<Phone, FlowError> {
    let (conn, client_ip) = who;
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
    // A signed receipt said the last message did not arrive, or it has
    // been quiet for `fallback_after`: another channel need not wait out
    // the delay (every counted limit still holds).
    let waived = channel.is_some() && channels::fallback_due(ctx, challenge_id, &ch).await;
    let resend_after = if waived {
        Duration::ZERO
    } else {
        ctx.cfg.otp.resend_after
    };
    let ready_at = ch.sent_at + resend_after.as_millis() as u64;
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
    let via = channel.unwrap_or_else(|| first_channel(ctx, &phone));
    let region = phone.region_code();
    // A spent channel budget (a voice call costs more) is not offered, and
    // asked for anyway it is unavailable, not a shopper's rate limit.
    if !ctx.channels.cfg.order_for(&region).contains(&via)
        || !channels::configured(ctx, via)
        || (channel.is_some() && !channels::budget_left(ctx, via).await)
    {
        return Err(FlowError::ChannelUnavailable);
    }
    let mut charges = Charges::new(ctx);
    charge_client(ctx, &mut charges, Some(&phone), who).await?;
    charge_send(ctx, &mut charges, &phone, via, who).await?;
    let kept = match channel {
        Some(_) => match channels::same_code(ctx, challenge_id, &ch, binding(confirm)).await {
            Ok(kept) => kept,
            Err(e) => {
                refund(ctx, charges).await;
                return Err(store_down(e));
            }
        },
        None => None,
    };
    let (code, hash) = match kept {
        Some(code) => (code, ch.code_hash),
        None => {
            let code = otp::generate_code(ctx.cfg.otp.length);
            let hash = otp::code_hash(
                &ctx.otp_key,
                challenge_id,
                phone.e164(),
                &code,
                binding(confirm),
            );
            (code, hash)
        }
    };
    let replaced = ctx
        .store
        .replace_code(challenge_id, hash, resend_after, ctx.cfg.otp.ttl, now)
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
    let sent = Sent {
        id: challenge_id,
        via,
        code: &code,
    };
    deliver(ctx, &phone, sent, lang, charges, who, confirm).await?;
    if let Err(e) = channels::remember(ctx, challenge_id, &ch, &code).await {
        tracing::warn!(error = %e, "other channels will send a new code");
    }
    Ok(phone)
}
