//! `[channels] auto_fallback`: the code page sends by the next channel
//! itself, on the shopper's next load of it after a failure receipt or
//! `fallback_after` of quiet (flow/channels.rs says when; no timers).
//!
//! It is the shopper's own resend, made for them: charged to their
//! address and every send limit and channel budget (flow/steps.rs
//! `resend`), only ever forward in the region's order, and only on a real
//! page view — a `HEAD`, or a browser's speculative prefetch (`Sec-Purpose`
//! / `Purpose: prefetch`, Fetch §2.2.5), sends nothing.

use http::{HeaderMap, Method};

use super::confirm::confirming;
use super::held;
use super::pending::Pending;
use super::state::Own;
use crate::conn::ConnInfo;
use crate::flow;

/// Sends the same code by the next channel when it is due; true if sent.
pub(super) async fn automatic(
    own: &Own,
    method: &Method,
    headers: &HeaderMap,
    conn: ConnInfo,
    pending: &Pending,
) -> bool {
    if !own.flow.channels.cfg.auto_fallback
        || method != Method::GET
        || pending.challenge_id.is_empty()
        || prefetch(headers)
    {
        return false;
    }
    let id = &pending.challenge_id;
    let now = own.flow.clock.now_ms();
    let Ok(Some(ch)) = own.flow.store.challenge(id, now).await else {
        return false;
    };
    let Some(via) = flow::offer(&own.flow, id, &ch).await.automatic else {
        return false;
    };
    let client_ip = own.trusted.client_ip(headers, conn);
    let lang = own.pages.choose_language(headers, None).lang;
    let confirm = confirming(own, Some(pending)).await;
    let who = (conn, client_ip);
    match flow::resend(&own.flow, id, &lang, who, confirm.as_ref(), Some(via)).await {
        Ok(_) => {
            held::extend(own, pending).await;
            true
        }
        // Refused (a limit, a spent budget): the page still offers what
        // is left, and says nothing the shopper did not ask for.
        Err(e) => {
            tracing::info!(
                channel = via.as_str(),
                error = e.code(),
                "automatic fallback not sent"
            );
            false
        }
    }
}

fn prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}
