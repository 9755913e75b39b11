//! How the send limits and the pumping detector refuse: the one 429
//! (counted, in the trail) and the detector's own refusals.

use std::time::Duration;

use super::ctx::FlowCtx;
use super::error::FlowError;
use crate::audit::{self, Scope, Who};
use crate::phone::Phone;
use crate::pumping;

pub(super) fn limited(
    ctx: &FlowCtx,
    name: &'static str,
    scope: Scope<'_>,
    phone: Option<&Phone>,
    retry_after: Duration,
    who: Who,
) -> FlowError {
    ctx.metrics.rate_limited(name);
    audit::rate_limited(name, scope, phone, &ctx.phone_tags, who);
    FlowError::RateLimited {
        limit: name,
        retry_after,
    }
}

pub(super) fn store_down(e: crate::store::StoreError) -> FlowError {
    tracing::error!(error = %e, "store unavailable");
    FlowError::Store
}

/// A blocked client fingerprint is refused like a blocked prefix.
pub(super) fn fingerprint_refusal(ctx: &FlowCtx, phone: &Phone, ja4: &str, who: Who) -> FlowError {
    limited(
        ctx,
        "pumping_fingerprint",
        Scope::Fingerprint(ja4),
        Some(phone),
        ctx.cfg.limits.pumping.block_for,
        who,
    )
}

/// A blocked prefix is refused like any limit (429, never an SMS).
pub(super) fn pumping_refusal(ctx: &FlowCtx, phone: &Phone, newly: bool, who: Who) -> FlowError {
    let now = ctx.clock.now_ms();
    let block_for = ctx.cfg.limits.pumping.block_for;
    if newly {
        ctx.metrics
            .prefix_blocked(phone.prefix(), now + block_for.as_millis() as u64, now);
        audit::prefix_blocked(phone, block_for.as_secs(), &ctx.phone_tags, who);
        tracing::warn!(prefix = phone.prefix(), country = %phone.region_code(), "SMS pumping suspected: prefix blocked");
    }
    // Another instance may have set the block: then its end is unknown
    // here and the whole period is the honest upper bound.
    let retry_after = match ctx.metrics.prefix_blocked_until(phone.prefix(), now) {
        Some(until) => Duration::from_millis(until.saturating_sub(now)),
        None => block_for,
    };
    limited(
        ctx,
        "pumping",
        Scope::Prefix(phone.prefix()),
        Some(phone),
        retry_after,
        who,
    )
}

/// Not enough networks for a prefix block: only the suspect network is
/// refused into this prefix, for the rest of the detector's window.
pub(super) fn network_refusal(
    ctx: &FlowCtx,
    phone: &Phone,
    newly: bool,
    retry_after: Duration,
    who: Who,
) -> FlowError {
    if newly {
        tracing::warn!(prefix = phone.prefix(), network = %pumping::network_of(who.client_ip), "SMS pumping suspected from one network: network throttled for this prefix");
    }
    limited(
        ctx,
        "pumping_network",
        Scope::Prefix(phone.prefix()),
        Some(phone),
        retry_after,
        who,
    )
}
