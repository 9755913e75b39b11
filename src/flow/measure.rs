//! Feeds the delivery measurements (sms/measure.rs) from the flow: a send,
//! a receipt, a code entered, a challenge that ended unverified.
//!
//! Per send, one short record beside the challenge (`m:{id}`, no phone
//! number: provider, channel, country, operator prefix, send time, and
//! whether a final receipt and a verification were seen; twelve bytes:
//! sms/send_record.rs), in the store so
//! that any instance seeing the receipt or the code can time it against
//! the send (memory and Redis alike). It lives `otp.ttl` plus [`GRACE`].
//!
//! `expired` needs no store feature: the instance that sent keeps a small
//! FIFO of its sends (challenge id, send time, end), bounded by
//! [`MAX_PENDING`]; whenever the flow runs, the sends whose challenge has
//! ended are swept: each is read back, and counted `expired` if it is
//! still the challenge's last send, was never verified and never got a
//! delivered receipt. A send whose challenge got a newer send (resend,
//! other channel) is left to that newer one. Counted once, by the sender.

use std::time::Duration;

use super::ctx::FlowCtx;
use crate::sms::measure::{operator_prefix, Pending, SendLabels, MAX_PENDING};
use crate::sms::send_record::{Receipt, SendRecord as Record};
use crate::sms::Channel;

/// How long a send's record outlives its challenge: time for the sweep.
pub const GRACE: Duration = Duration::from_secs(300);

/// `m`, not a longer name: every pending challenge carries one, so its
/// kind's bytes are paid per challenge in both stores (sms/send_record.rs).
/// Records of the old text form were kept as `meas:`: never read again.
fn key(id: &str) -> String {
    format!("m:{id}")
}

async fn load(ctx: &FlowCtx, id: &str) -> Option<Record> {
    let now = ctx.clock.now_ms();
    let bytes = ctx.store.peek_held(&key(id), now).await.ok()??;
    Record::decode(&bytes)
}

/// The channel of the challenge's last send: the record says it, so no
/// record of its own is kept for it (flow/channels.rs `last_channel`).
pub(super) async fn last_channel(ctx: &FlowCtx, id: &str) -> Option<Channel> {
    Channel::parse(&load(ctx, id).await?.labels.channel)
}

async fn save(ctx: &FlowCtx, id: &str, r: &Record) {
    let now = ctx.clock.now_ms();
    let ttl = ctx.cfg.otp.ttl + GRACE;
    let Some(bytes) = r.encode() else {
        tracing::debug!("delivery measurement not kept: labels out of form");
        return;
    };
    if let Err(e) = ctx.store.hold(&key(id), bytes, ttl, now).await {
        tracing::debug!(error = %e, "delivery measurement not kept");
    }
}

fn secs_since(ctx: &FlowCtx, sent_at: u64) -> f64 {
    ctx.clock.now_ms().saturating_sub(sent_at) as f64 / 1000.0
}

/// A provider took the code for challenge `id`.
pub(super) async fn sent(ctx: &FlowCtx, id: &str, provider: &str, via: Channel, e164: &str) {
    let stats = &ctx.sms.metrics().delivery;
    let now = ctx.clock.now_ms();
    let (country, prefix) = operator_prefix(e164);
    let labels = SendLabels {
        provider: provider.to_owned(),
        channel: via.as_str().to_owned(),
        country,
        prefix,
    };
    stats.sent.get_or_create(&labels).inc();
    lock(&stats.window).sent(provider, now);
    let record = Record {
        labels,
        sent_at: now,
        receipt: Receipt::None,
        verified: false,
    };
    save(ctx, id, &record).await;
    {
        let mut pending = lock(&stats.pending);
        if pending.len() < MAX_PENDING {
            pending.push_back(Pending {
                challenge: id.to_owned(),
                sent_at: now,
                deadline: now + ctx.cfg.otp.ttl.as_millis() as u64,
            });
        }
    }
    sweep(ctx).await;
}

/// The receipt-marking hook (channels.rs `mark_delivered`/`mark_failed`,
/// whichever provider's receipt it was): the first final receipt of the
/// challenge's last send is timed and counted.
pub(super) async fn receipt(ctx: &FlowCtx, id: &str, delivered: bool) {
    let Some(mut r) = load(ctx, id).await else {
        return;
    };
    if r.receipt != Receipt::None {
        return;
    }
    let stats = &ctx.sms.metrics().delivery;
    let now = ctx.clock.now_ms();
    if delivered {
        let secs = secs_since(ctx, r.sent_at);
        stats.receipt_seconds.get_or_create(&r.labels).observe(secs);
        lock(&stats.window).receipt(&r.labels.provider, now, secs);
        stats.outcome(&r.labels, "delivered");
        r.receipt = Receipt::Delivered;
    } else {
        stats.outcome(&r.labels, "failed");
        r.receipt = Receipt::Failed;
    }
    save(ctx, id, &r).await;
    sweep(ctx).await;
}

/// The code of challenge `id` was entered correctly.
pub(super) async fn verified(ctx: &FlowCtx, id: &str) {
    let Some(mut r) = load(ctx, id).await else {
        return;
    };
    if r.verified {
        return;
    }
    let stats = &ctx.sms.metrics().delivery;
    let now = ctx.clock.now_ms();
    let secs = secs_since(ctx, r.sent_at);
    stats.verify_seconds.get_or_create(&r.labels).observe(secs);
    stats.verified.get_or_create(&r.labels).inc();
    lock(&stats.window).verified(&r.labels.provider, now, secs);
    r.verified = true;
    save(ctx, id, &r).await;
    sweep(ctx).await;
}

/// Counts `expired` for this instance's sends whose challenge has ended,
/// and refreshes the p95 gauges.
pub async fn sweep(ctx: &FlowCtx) {
    let stats = &ctx.sms.metrics().delivery;
    let now = ctx.clock.now_ms();
    loop {
        let due = {
            let mut pending = lock(&stats.pending);
            match pending.front() {
                Some(p) if p.deadline <= now => pending.pop_front(),
                _ => None,
            }
        };
        let Some(p) = due else { break };
        let Some(r) = load(ctx, &p.challenge).await else {
            continue;
        };
        if r.sent_at == p.sent_at && !r.verified && r.receipt != Receipt::Delivered {
            stats.outcome(&r.labels, "expired");
        }
    }
    stats.refresh_p95(now);
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
