//! Transaction routes (SPEC "Checkout integrity"; PSD2 RTS art. 5,
//! dynamic linking): a `confirm = "transaction"` route never accepts a
//! session. Each request to it is held (held.rs) with what it is — its
//! amount, read when it is held — and the code texted for it is bound to
//! it: the code's keyed hash covers the request's digest (otp.rs
//! `code_hash`, sealed.rs `HeldRequest::digest`). So a code for one
//! order cannot confirm another: another body, target, method or type
//! (the browser's held request swapped for another before the verify), a
//! held request gone (nothing to bind to: the code fails as a wrong one).
//!
//! The verify still issues the shopper a session, for the ordinary
//! routes; no session ever opens a transaction route (gateway.rs phase 3,
//! and forward auth refuses it), so the one that verify issues does not
//! either.

use super::pending::Pending;
use super::sealed::{HeldRequest, Transaction};
use super::state::Own;
use crate::config::RouteRule;
use crate::money::AmountProblem;
use crate::otp::Confirm;

/// What the transaction route `rule` learns of a request it holds: its
/// amount (`amount_field`). `Ok(None)` for an ordinary route.
pub fn transaction_of(
    rule: &RouteRule,
    content_type: Option<&http::HeaderValue>,
    body: &[u8],
    target: &str,
) -> Result<Option<Transaction>, AmountProblem> {
    if !rule.is_transaction() {
        return Ok(None);
    }
    let Some(field) = &rule.amount_field else {
        return Ok(Some(Transaction { amount: None }));
    };
    let ct = match content_type.map(|v| v.to_str()) {
        Some(Ok(ct)) => Some(ct),
        Some(Err(_)) => return Err(AmountProblem::Unreadable),
        None => None,
    };
    let query = target.split_once('?').map(|(_, q)| q);
    let amount = super::amount::amount_of(ct, body, query, field, &rule.currency)?;
    Ok(Some(Transaction {
        amount: Some(amount),
    }))
}

/// The browser's held request, read (not claimed) from the store.
pub async fn held_of(own: &Own, pending: Option<&Pending>) -> Option<HeldRequest> {
    let id = pending?.held.as_deref()?;
    let now = own.flow.clock.now_ms();
    let sealed = own.flow.store.peek_held(id, now).await.ok()??;
    own.sealer.open(&sealed)
}

/// What the browser's code confirms, when its held request is a
/// transaction: the request's digest and the amount to show.
pub async fn confirming(own: &Own, pending: Option<&Pending>) -> Option<Confirm> {
    held_of(own, pending).await?.confirm()
}

/// The amount the browser's held transaction confirms, to show on the
/// phone and code pages.
pub async fn amount_for(own: &Own, headers: &http::HeaderMap) -> Option<String> {
    let pending = Pending::of(&own.cookies, headers);
    confirming(own, pending.as_ref()).await?.amount
}
