//! Which channels a challenge may use next, and the code they carry.
//!
//! Another channel is a resend of the *same* code (a shopper who got the
//! SMS late must not find it void because they also asked for a call).
//! The store keeps only a keyed hash of a code, so the code itself is
//! kept beside the challenge **sealed** (AES-256-GCM under a key derived
//! from the session secret, bound to the challenge id and phone as
//! associated data): a Redis dump, replica or `MONITOR` shows no code, and
//! a sealed code cannot be moved to another challenge. It is only kept when
//! the number's region offers more than one channel, and lives as long as
//! the challenge. Before it is sent again it is checked against the
//! challenge's hash, so a code the store has since replaced (a same-channel
//! resend) is never re-sent.
//!
//! Delivery facts per challenge, kept the same way (short records under
//! `dlvfail:`/`dlv:` keys, as long as the code lives): a provider's
//! failed/undelivered receipt (own/twilio_status.rs). The last channel
//! used is read from the delivery record (`m:`, flow/measure.rs).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::ctx::FlowCtx;
use crate::otp;
use crate::sms::Channel;
use crate::store::{Challenge, Count, StoreError};

fn code_key(id: &str) -> String {
    format!("code:{id}")
}
fn failed_key(id: &str) -> String {
    format!("dlvfail:{id}")
}
fn receipt_key(message_id: &str) -> String {
    format!("dlv:{message_id}")
}

fn aad(id: &str, phone: &str) -> Vec<u8> {
    format!("otpgate code v1|{id}|{phone}").into_bytes()
}

/// Keeps `code` sealed beside challenge `id`, when another channel may
/// need it (the channel it went by is in the delivery record).
pub(super) async fn remember(
    ctx: &FlowCtx,
    id: &str,
    ch: &Challenge,
    code: &str,
) -> Result<(), StoreError> {
    let now = ctx.clock.now_ms();
    let ttl = ctx.cfg.otp.ttl;
    let region = crate::phone::Phone::from_e164(&ch.phone)
        .map(|p| p.region_code())
        .unwrap_or_default();
    if ctx.channels.cfg.order_for(&region).len() > 1 {
        let cipher = Aes256Gcm::new_from_slice(&ctx.code_key).expect("32-byte key");
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: code.as_bytes(),
                    aad: &aad(id, &ch.phone),
                },
            )
            .expect("AES-GCM seals any length");
        let mut record = nonce.to_vec();
        record.extend(sealed);
        ctx.store.hold(&code_key(id), record, ttl, now).await?;
        // A new send: an earlier failure no longer speaks for it.
        ctx.store
            .hold(&failed_key(id), b"0".to_vec(), ttl, now)
            .await?;
    }
    Ok(())
}

/// The challenge's current code, if it was kept and still is the one the
/// store checks (its hash matches), else `None`.
pub(super) async fn same_code(
    ctx: &FlowCtx,
    id: &str,
    ch: &Challenge,
    binding: Option<&[u8; 32]>,
) -> Result<Option<String>, StoreError> {
    let now = ctx.clock.now_ms();
    let Some(record) = ctx.store.peek_held(&code_key(id), now).await? else {
        return Ok(None);
    };
    if record.len() < 12 {
        return Ok(None);
    }
    let cipher = Aes256Gcm::new_from_slice(&ctx.code_key).expect("32-byte key");
    let Ok(code) = cipher.decrypt(
        Nonce::from_slice(&record[..12]),
        Payload {
            msg: &record[12..],
            aad: &aad(id, &ch.phone),
        },
    ) else {
        return Ok(None);
    };
    let Ok(code) = String::from_utf8(code) else {
        return Ok(None);
    };
    let hash = otp::code_hash(&ctx.otp_key, id, &ch.phone, &code, binding);
    Ok(bool::from(hash.ct_eq(&ch.code_hash)).then_some(code))
}

/// The channel the challenge's code went by last: its delivery record
/// (flow/measure.rs) says it, written by the same successful send that
/// used to write a `chan:` record of its own (a record fewer per pending
/// challenge: issue 13).
pub(super) async fn last_channel(ctx: &FlowCtx, id: &str) -> Option<Channel> {
    super::measure::last_channel(ctx, id).await
}

/// What a receipt said of the challenge's last message: `1` failed or
/// undelivered, `d` delivered (or read), `0` nothing yet.
async fn receipt_state(ctx: &FlowCtx, id: &str) -> Option<Vec<u8>> {
    let now = ctx.clock.now_ms();
    ctx.store.peek_held(&failed_key(id), now).await.ok()?
}

/// Whether a provider reported the challenge's last message undelivered.
pub async fn delivery_failed(ctx: &FlowCtx, id: &str) -> bool {
    receipt_state(ctx, id).await.as_deref() == Some(b"1")
}

/// Whether the challenge's last message has failed: a signed failure
/// receipt, or `[channels] fallback_after` passed since it was sent with
/// no delivery receipt (and no code entered: a verified challenge is
/// gone). Computed from the send time on each page load, so no timer is
/// needed; a new send moves `sent_at` and resets the receipt.
pub(super) async fn fallback_due(ctx: &FlowCtx, id: &str, ch: &Challenge) -> bool {
    let state = receipt_state(ctx, id).await;
    if state.as_deref() == Some(b"1") {
        return true;
    }
    let quiet_until = ch.sent_at + ctx.channels.cfg.fallback_after.as_millis() as u64;
    state.as_deref() != Some(b"d") && ctx.clock.now_ms() >= quiet_until
}

/// What the code page offers now.
pub struct Offer {
    /// A signed receipt said the last message did not arrive.
    pub delivery_failed: bool,
    /// The other channels the shopper may ask for now.
    pub channels: Vec<Channel>,
    /// With `auto_fallback`: the channel to send by on this page load.
    pub automatic: Option<Channel>,
}

/// The other channels of a challenge, once they may be asked for: after
/// the resend delay, or at once when [`fallback_due`].
pub async fn offer(ctx: &FlowCtx, id: &str, ch: &Challenge) -> Offer {
    let failed = delivery_failed(ctx, id).await;
    let due = fallback_due(ctx, id, ch).await;
    let ready = ctx.clock.now_ms() >= ch.sent_at + ctx.cfg.otp.resend_after.as_millis() as u64;
    let channels = if due || ready {
        offered(ctx, id, ch).await
    } else {
        Vec::new()
    };
    let automatic = if ctx.channels.cfg.auto_fallback && due {
        next_in_order(ctx, id, ch, &channels).await
    } else {
        None
    };
    Offer {
        delivery_failed: failed,
        channels,
        automatic,
    }
}

/// The first offered channel *after* the last one used in the region's
/// order: automatic fallback only moves forward (SMS, then WhatsApp, then
/// voice), so page loads cannot bounce a shopper between two channels.
async fn next_in_order(
    ctx: &FlowCtx,
    id: &str,
    ch: &Challenge,
    offered: &[Channel],
) -> Option<Channel> {
    let order = ctx.channels.cfg.order_for(&region_of(ch));
    let last = match last_channel(ctx, id).await {
        Some(c) => c,
        None => *order.first()?,
    };
    let at = order.iter().position(|c| *c == last)?;
    order[at + 1..]
        .iter()
        .copied()
        .find(|c| offered.contains(c))
}

fn region_of(ch: &Challenge) -> String {
    crate::phone::Phone::from_e164(&ch.phone)
        .map(|p| p.region_code())
        .unwrap_or_default()
}

/// Links a provider's message id to the challenge, so its receipt can say
/// which challenge it is about.
pub(super) async fn track(ctx: &FlowCtx, id: &str, message_id: Option<&str>) {
    let Some(mid) = message_id else { return };
    let now = ctx.clock.now_ms();
    let ttl = ctx.cfg.otp.ttl;
    let _ = ctx
        .store
        .hold(&receipt_key(mid), id.as_bytes().to_vec(), ttl, now)
        .await;
}

/// A signed receipt said `message_id` failed or was undelivered: marks its
/// challenge (and times it: flow/measure.rs, for every provider's
/// receipts), so the code page offers the next channel at once. Returns
/// the challenge id, if the message was one of ours.
pub async fn mark_failed(ctx: &FlowCtx, message_id: &str) -> Option<String> {
    let now = ctx.clock.now_ms();
    let id = ctx
        .store
        .peek_held(&receipt_key(message_id), now)
        .await
        .ok()??;
    let id = String::from_utf8(id).ok()?;
    super::measure::receipt(ctx, &id, false).await;
    let ttl = ctx.cfg.otp.ttl;
    ctx.store
        .hold(&failed_key(&id), b"1".to_vec(), ttl, now)
        .await
        .ok()?;
    Some(id)
}

/// A signed receipt said `message_id` was delivered (or read): the quiet
/// `fallback_after` no longer offers another channel for it; timed and
/// counted in flow/measure.rs.
pub async fn mark_delivered(ctx: &FlowCtx, message_id: &str) {
    let now = ctx.clock.now_ms();
    let Ok(Some(id)) = ctx.store.peek_held(&receipt_key(message_id), now).await else {
        return;
    };
    let Ok(id) = String::from_utf8(id) else {
        return;
    };
    super::measure::receipt(ctx, &id, true).await;
    // A failure already seen stays: a late "delivered" for an earlier
    // attempt must not hide it.
    if delivery_failed(ctx, &id).await {
        return;
    }
    let ttl = ctx.cfg.otp.ttl;
    let _ = ctx
        .store
        .hold(&failed_key(&id), b"d".to_vec(), ttl, now)
        .await;
}

/// The channels this challenge may switch to now: the region's order,
/// without the one used last, each with a provider and budget left (a
/// spent voice budget is not offered at all).
pub async fn offered(ctx: &FlowCtx, id: &str, ch: &Challenge) -> Vec<Channel> {
    let region = crate::phone::Phone::from_e164(&ch.phone)
        .map(|p| p.region_code())
        .unwrap_or_default();
    let last = last_channel(ctx, id).await;
    let mut out = Vec::new();
    for &c in ctx.channels.cfg.order_for(&region) {
        if Some(c) == last || !configured(ctx, c) || !budget_left(ctx, c).await {
            continue;
        }
        out.push(c);
    }
    out
}

pub(super) fn configured(ctx: &FlowCtx, c: Channel) -> bool {
    c == Channel::Sms || ctx.channels.delivery(c).is_some()
}

pub(super) async fn budget_left(ctx: &FlowCtx, c: Channel) -> bool {
    let now = ctx.clock.now_ms();
    for (name, l) in super::limits::budgets(ctx, c) {
        // Cost 0 only reads (store.rs).
        let counted = ctx
            .store
            .count(&format!("{name}:global"), 0, l.max, l.window, now)
            .await;
        if !matches!(counted, Ok(Count::Allowed { .. })) {
            return false;
        }
    }
    true
}
