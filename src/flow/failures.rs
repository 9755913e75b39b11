//! Wrong codes across all of a phone's challenges: a budget that bounds
//! brute force without letting a stranger lock the shopper out.

use super::ctx::FlowCtx;
use super::error::FlowError;
use super::refusal::{limited, store_down};
use crate::audit::{Scope, Who};
use crate::phone::Phone;
use crate::store::Count;

/// The per-phone failure budget across challenges, without a lockout.
///
/// Counted as a failure before the guess is evaluated, and taken back if
/// it was right, so parallel guesses across several challenges cannot pass
/// the budget together (NIST SP 800-63B §5.2.2). A stranger can spend a
/// phone's budget from their own challenge (issue 8, defect 4), so a spent
/// budget does not refuse every guess: each challenge still gets **one**
/// evaluated guess per budget window, which lets the shopper holding the
/// real code in their own browser use it, while every further SMS an
/// attacker pays for buys them a single guess. Returns whether this guess
/// was counted in the budget (and so must be taken back if right).
pub(super) async fn charge_failure(
    ctx: &FlowCtx,
    challenge_id: &str,
    e164: &str,
    phone: Option<&Phone>,
    now: u64,
    who: Who,
) -> Result<bool, FlowError> {
    let fails = ctx.cfg.limits.verify_fail_per_phone;
    let budget = ctx
        .store
        .count(
            &format!("verify_fail_per_phone:{e164}"),
            1,
            fails.max,
            fails.window,
            now,
        )
        .await
        .map_err(store_down)?;
    let Count::Limited { retry_after } = budget else {
        return Ok(true);
    };
    // Atomic in the store: of parallel guesses on one challenge, one wins.
    // The window outlives the challenge, so a reset cannot hand out a second.
    let window = fails.window.max(ctx.cfg.otp.ttl);
    let last_chance = ctx
        .store
        .count(
            &format!("verify_last_chance:{challenge_id}"),
            1,
            1,
            window,
            now,
        )
        .await
        .map_err(store_down)?;
    match last_chance {
        Count::Allowed { .. } => Ok(false),
        Count::Limited { .. } => Err(limited(
            ctx,
            "verify_fail_per_phone",
            Scope::Phone(e164),
            phone,
            retry_after,
            who,
        )),
    }
}
