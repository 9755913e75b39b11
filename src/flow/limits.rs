//! The send limits in the order they apply, the pumping detector's part
//! in them, and refunds for sends that were refused or did not happen.
//! Every count is made in the store before it is compared
//! (increment-before-check).

use std::time::Duration;

use super::ctx::FlowCtx;
use super::error::FlowError;
use super::refusal::{fingerprint_refusal, limited, network_refusal, pumping_refusal, store_down};
use crate::audit::{self, Scope, Who};
use crate::config::Limit;
use crate::fraud;
use crate::phone::Phone;
use crate::pumping::fingerprint::{self, Verdict};
use crate::pumping::{self, Admission, Ticket};
use crate::sms::Channel;
use crate::store::Count;

fn scope_key(s: Scope<'_>) -> String {
    match s {
        Scope::Ip(ip) => crate::headers::ip_limit_key(ip),
        Scope::Phone(k) | Scope::Prefix(k) | Scope::Country(k) | Scope::Fingerprint(k) => {
            k.to_string()
        }
        Scope::Global => "global".into(),
    }
}

/// Counts one event against limit `name` for `scope` and refuses with 429
/// when it would pass the limit (`cost = 0` only checks). A limit in
/// shadow mode lets it through (fraud.rs). Returns whether it was counted.
pub(super) async fn limit(
    ctx: &FlowCtx,
    name: &'static str,
    scope: Scope<'_>,
    phone: Option<&Phone>,
    cost: u64,
    l: Limit,
    who: Who,
) -> Result<bool, FlowError> {
    let now = ctx.clock.now_ms();
    match ctx
        .store
        .count(
            &format!("{name}:{}", scope_key(scope)),
            cost,
            l.max,
            l.window,
            now,
        )
        .await
    {
        Ok(Count::Allowed { .. }) => {
            fraud::decide(&ctx.metrics, name, l.mode, false);
            Ok(true)
        }
        Ok(Count::Limited { retry_after }) => {
            if fraud::decide(&ctx.metrics, name, l.mode, true) {
                return Err(limited(ctx, name, scope, phone, retry_after, who));
            }
            audit::would_block(name, scope, phone, &ctx.phone_tags, who);
            Ok(false)
        }
        Err(e) => Err(store_down(e)),
    }
}

/// The budget counters of a channel (sms/channel.rs), charged only when
/// its message (or call) really goes out.
pub(super) fn budgets(ctx: &FlowCtx, channel: Channel) -> Vec<(&'static str, Limit)> {
    let l = &ctx.cfg.limits;
    channel
        .budgets()
        .iter()
        .map(|name| {
            let limit = match *name {
                "sms_per_day" => l.sms_per_day,
                "whatsapp_per_hour" => l.whatsapp_per_hour,
                "voice_per_hour" => l.voice_per_hour,
                _ => l.sms_per_hour,
            };
            (*name, limit)
        })
        .collect()
}

/// Everything one send was charged (per IP, phone, prefix and country,
/// the SMS budget, the detector's counts), so that [`refund`] can take it
/// back exactly when no SMS could have gone out: the provider refused or
/// failed before taking the message (an error answer, 429, connection
/// refused or closed unanswered), or the send stopped before the provider
/// was asked. A send that may have been delivered (a timeout after the
/// request was written) keeps its charges: the shopper may have the SMS.
pub(super) struct Charges {
    /// Counter key and window; all charged in the window of `now_ms`.
    keys: Vec<(String, Duration)>,
    now_ms: u64,
    ticket: Option<Ticket>,
    /// The fingerprint detector's count (pumping/fingerprint.rs).
    fingerprint: Option<String>,
}

impl Charges {
    pub(super) fn new(ctx: &FlowCtx) -> Self {
        Charges {
            keys: Vec::new(),
            now_ms: ctx.clock.now_ms(),
            ticket: None,
            fingerprint: None,
        }
    }

    /// Leaves limit `name`'s charge out of the refund.
    pub(super) fn keep(&mut self, name: &str) {
        self.keys
            .retain(|(k, _)| k.split_once(':').map(|(n, _)| n) != Some(name));
    }
}

/// [`limit`] with cost 1, remembered in `charges` when it was counted.
pub(super) async fn charge(
    ctx: &FlowCtx,
    charges: &mut Charges,
    name: &'static str,
    scope: Scope<'_>,
    phone: Option<&Phone>,
    l: Limit,
    who: Who,
) -> Result<(), FlowError> {
    if limit(ctx, name, scope, phone, 1, l, who).await? {
        charges
            .keys
            .push((format!("{name}:{}", scope_key(scope)), l.window));
    }
    Ok(())
}

/// The limits on the client itself, before its number is looked at: per
/// address, then per TLS fingerprint (a client with none, behind a
/// trusted proxy, is not counted by that one). `phone` only names the
/// number in the trail when it parsed.
pub(super) async fn charge_client(
    ctx: &FlowCtx,
    charges: &mut Charges,
    phone: Option<&Phone>,
    who: Who,
) -> Result<(), FlowError> {
    let l = &ctx.cfg.limits;
    let ip = Scope::Ip(who.client_ip);
    charge(ctx, charges, "send_per_ip", ip, phone, l.send_per_ip, who).await?;
    if let Some(ja4) = who.fingerprint() {
        let fp = Scope::Fingerprint(ja4.as_str());
        let l = l.send_per_fingerprint;
        let counted = charge(ctx, charges, "send_per_fingerprint", fp, phone, l, who).await;
        if let Err(e) = counted {
            refund_refused(ctx, charges).await;
            return Err(e);
        }
    }
    Ok(())
}

/// Takes back what a refused send was charged, except `send_per_ip`.
///
/// Shared budgets (per country, the SMS budget, a common browser's
/// fingerprint, a prefix many shoppers are in) meter SMS that can go out.
/// Were refused attempts to keep their charges, an attacker refused by a
/// block or a narrower limit would go on spending them until genuine
/// shoppers are refused (issue 15: the pumping simulator's spread attack
/// refused 3 shoppers in 4 that way; README "Abuse limits").
/// Only the address pays for its refused attempts: probing is not free,
/// and that budget is the client's own. Counts stay increment-before-check
/// (store.rs): a refund only ever takes back an attempt that was refused,
/// so parallel sends can never pass a limit together.
pub(super) async fn refund_refused(ctx: &FlowCtx, charges: &mut Charges) {
    let mut refused = std::mem::replace(charges, Charges::new(ctx));
    charges.now_ms = refused.now_ms;
    refused.keep("send_per_ip");
    refund(ctx, refused).await;
}

/// Every limit on sending to `phone`, in order, added to `charges`.
/// Refuses first what is already known bad (a blocked prefix or client
/// fingerprint), before any counter is touched, so a blocked attacker
/// costs no shared budget even while its attempts are in flight; a send
/// refused later has its charges taken back ([`refund_refused`]).
pub(super) async fn charge_send(
    ctx: &FlowCtx,
    charges: &mut Charges,
    phone: &Phone,
    channel: Channel,
    who: Who,
) -> Result<(), FlowError> {
    let counted = match refuse_blocked(ctx, phone, who).await {
        Ok(()) => charge_number(ctx, charges, phone, channel, who).await,
        Err(e) => Err(e),
    };
    if let Err(e) = counted {
        refund_refused(ctx, charges).await;
        return Err(e);
    }
    Ok(())
}

/// Blocks in the store, checked even with the detector (or its
/// fingerprint signal) off: the admin API's blocks apply whatever
/// `[limits.pumping]` says, and lifts them.
async fn refuse_blocked(ctx: &FlowCtx, phone: &Phone, who: Who) -> Result<(), FlowError> {
    let now = ctx.clock.now_ms();
    if pumping::is_blocked(&*ctx.store, phone, now)
        .await
        .map_err(store_down)?
    {
        return Err(pumping_refusal(ctx, phone, false, who));
    }
    if let Some(ja4) = who.fingerprint() {
        if fingerprint::is_blocked(&*ctx.store, ja4.as_str(), now)
            .await
            .map_err(store_down)?
        {
            return Err(fingerprint_refusal(ctx, phone, ja4.as_str(), who));
        }
    }
    Ok(())
}

async fn charge_number(
    ctx: &FlowCtx,
    charges: &mut Charges,
    phone: &Phone,
    channel: Channel,
    who: Who,
) -> Result<(), FlowError> {
    let l = &ctx.cfg.limits;
    let p = &l.pumping;
    let now = ctx.clock.now_ms();
    let e164 = Scope::Phone(phone.e164());
    charge(
        ctx,
        charges,
        "send_per_phone",
        e164,
        Some(phone),
        l.send_per_phone,
        who,
    )
    .await?;
    let prefix = Scope::Prefix(phone.prefix());
    charge(
        ctx,
        charges,
        "send_per_prefix",
        prefix,
        Some(phone),
        l.send_per_prefix,
        who,
    )
    .await?;
    let region = phone.region_code();
    let country = Scope::Country(&region);
    charge(
        ctx,
        charges,
        "send_per_country",
        country,
        Some(phone),
        l.send_per_country,
        who,
    )
    .await?;
    if p.enabled {
        match pumping::admit(&*ctx.store, p, &ctx.metrics, phone, who.client_ip, now)
            .await
            .map_err(store_down)?
        {
            Admission::Allowed(t) => {
                if let Some(rule) = t.shadowed {
                    let prefix = Scope::Prefix(phone.prefix());
                    audit::would_block(rule, prefix, Some(phone), &ctx.phone_tags, who);
                }
                charges.ticket = Some(t)
            }
            Admission::Blocked { newly } => return Err(pumping_refusal(ctx, phone, newly, who)),
            Admission::Throttled { newly, retry_after } => {
                return Err(network_refusal(ctx, phone, newly, retry_after, who))
            }
        }
    }
    if p.enabled && p.fingerprints {
        if let Some(ja4) = who.fingerprint() {
            fingerprint_signal(ctx, charges, phone, ja4.as_str(), who).await?;
        }
    }
    for (name, b) in budgets(ctx, channel) {
        charge(ctx, charges, name, Scope::Global, Some(phone), b, who).await?;
    }
    Ok(())
}

/// Takes back everything in `charges`: a send that did not happen.
pub(super) async fn refund(ctx: &FlowCtx, charges: Charges) {
    for (key, window) in &charges.keys {
        if let Err(e) = ctx.store.uncount(key, 1, *window, charges.now_ms).await {
            tracing::warn!(error = %e, "a send that did not happen could not be refunded");
        }
    }
    let p = &ctx.cfg.limits.pumping;
    if let Some(t) = charges.ticket {
        pumping::forget(&*ctx.store, p, t).await;
    }
    if let Some(key) = charges.fingerprint {
        let _ = ctx.store.uncount(&key, 1, p.window, charges.now_ms).await;
    }
}

/// Conversion per fingerprint (pumping/fingerprint.rs): a blocked JA4 is
/// refused like a blocked prefix; a suspect one is blocked now (or, in
/// shadow mode, only counted and logged).
async fn fingerprint_signal(
    ctx: &FlowCtx,
    charges: &mut Charges,
    phone: &Phone,
    ja4: &str,
    who: Who,
) -> Result<(), FlowError> {
    let p = &ctx.cfg.limits.pumping;
    let now = ctx.clock.now_ms();
    let store = &*ctx.store;
    match fingerprint::admit(store, p, ja4, now)
        .await
        .map_err(store_down)?
    {
        // Blocks in the store are enforced whatever the mode says now:
        // the admin API lifts them.
        Verdict::Blocked => Err(fingerprint_refusal(ctx, phone, ja4, who)),
        Verdict::Counted { key, suspect } => {
            if fraud::decide(
                &ctx.metrics,
                "pumping_fingerprint",
                p.fingerprint_mode,
                suspect,
            ) {
                let _ = store.uncount(&key, 1, p.window, now).await;
                fingerprint::block_it(store, p, ja4, now)
                    .await
                    .map_err(store_down)?;
                audit::fingerprint_blocked(ja4, p.block_for.as_secs(), who);
                tracing::warn!(ja4, "SMS pumping suspected: client fingerprint blocked");
                return Err(fingerprint_refusal(ctx, phone, ja4, who));
            }
            if suspect {
                let fp = Scope::Fingerprint(ja4);
                audit::would_block("pumping_fingerprint", fp, Some(phone), &ctx.phone_tags, who);
            }
            charges.fingerprint = Some(key);
            Ok(())
        }
    }
}

pub(super) async fn update_conversion(ctx: &FlowCtx, phone: &Phone) {
    let p = &ctx.cfg.limits.pumping;
    let country = phone.region_code();
    if let Ok(Some(ratio)) =
        pumping::country_conversion(&*ctx.store, p, &country, ctx.clock.now_ms()).await
    {
        ctx.metrics.conversion(&country, ratio);
    }
}
