//! Feeds the delivery measurements (sms/measure.rs) from the flow: a send,
//! a receipt, a code entered, a challenge that ended unverified.
//!
//! Per send, one short record beside the challenge (`meas:{id}`, no phone
//! number: provider, channel, country, operator prefix, send time, and
//! whether a final receipt and a verification were seen), in the store so
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
use crate::sms::Channel;

/// How long a send's record outlives its challenge: time for the sweep.
pub const GRACE: Duration = Duration::from_secs(300);

fn key(id: &str) -> String {
    format!("meas:{id}")
}

struct Record {
    labels: SendLabels,
    sent_at: u64,
    /// `-` none yet, `d` delivered, `f` failed or undelivered.
    receipt: char,
    verified: bool,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let l = &self.labels;
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}{}",
            l.provider,
            l.channel,
            l.country,
            l.prefix,
            self.sent_at,
            self.receipt,
            if self.verified { 'v' } else { '-' }
        )
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut f = text.split('\t');
        let labels = SendLabels {
            provider: f.next()?.to_owned(),
            channel: f.next()?.to_owned(),
            country: f.next()?.to_owned(),
            prefix: f.next()?.to_owned(),
        };
        let sent_at = f.next()?.parse().ok()?;
        let mut flags = f.next()?.chars();
        Some(Record {
            labels,
            sent_at,
            receipt: flags.next()?,
            verified: flags.next()? == 'v',
        })
    }
}

async fn load(ctx: &FlowCtx, id: &str) -> Option<Record> {
    let now = ctx.clock.now_ms();
    let bytes = ctx.store.peek_held(&key(id), now).await.ok()??;
    Record::decode(&bytes)
}

async fn save(ctx: &FlowCtx, id: &str, r: &Record) {
    let now = ctx.clock.now_ms();
    let ttl = ctx.cfg.otp.ttl + GRACE;
    if let Err(e) = ctx.store.hold(&key(id), r.encode(), ttl, now).await {
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
        receipt: '-',
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
    if r.receipt != '-' {
        return;
    }
    let stats = &ctx.sms.metrics().delivery;
    let now = ctx.clock.now_ms();
    if delivered {
        let secs = secs_since(ctx, r.sent_at);
        stats.receipt_seconds.get_or_create(&r.labels).observe(secs);
        lock(&stats.window).receipt(&r.labels.provider, now, secs);
        stats.outcome(&r.labels, "delivered");
        r.receipt = 'd';
    } else {
        stats.outcome(&r.labels, "failed");
        r.receipt = 'f';
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
        if r.sent_at == p.sent_at && !r.verified && r.receipt != 'd' {
            stats.outcome(&r.labels, "expired");
        }
    }
    stats.refresh_p95(now);
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
