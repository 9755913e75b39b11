//! The proof-of-work's HTTP side (pow.rs decides): where a solution comes
//! from (the phone form's hidden fields, the JSON API's `pow` object),
//! whom a challenge is bound to, and how a demand is written out.
//!
//! The browser a challenge is bound to is its CSRF cookie (csrf.rs):
//! random, `HttpOnly`, `SameSite=Strict`, and — unlike the pending
//! cookie, which the very send being priced creates — already there when
//! the phone form is posted (the JSON API sets it with its demand). A
//! challenge solved in one browser is refused in another, and its tag
//! reveals nothing of the cookie.

use http::HeaderMap;
use serde_json::{json, Value};

use super::input::Form;
use super::state::Own;
use crate::audit::{self, Scope, Who};
use crate::conn::ConnInfo;
use crate::flow::FlowError;
use crate::phone::Phone;
use crate::pow::{Attempt, Demand, Refused, Solution};

/// The phone form's `pow_challenge` and `pow_nonce`; none while the
/// nonce is empty (a page without JavaScript posts it so).
pub fn from_form(form: &Form) -> Option<Solution> {
    solution(form.get("pow_challenge"), form.get("pow_nonce"))
}

/// The JSON API's `"pow": {"challenge": "…", "nonce": "…"}`.
pub fn from_json(v: &Value) -> Option<Solution> {
    let p = v.get("pow")?;
    let text = |k: &str| p.get(k).and_then(Value::as_str);
    // A nonce sent as a JSON number is read as its digits.
    let nonce = p
        .get("nonce")
        .and_then(Value::as_u64)
        .map(|n| n.to_string());
    solution(text("challenge"), text("nonce").or(nonce.as_deref()))
}

fn solution(challenge: Option<&str>, nonce: Option<&str>) -> Option<Solution> {
    let nonce = nonce.filter(|n| !n.is_empty())?;
    Some(Solution {
        challenge: challenge.unwrap_or("").to_string(),
        nonce: nonce.to_string(),
    })
}

/// The `pow` object of a JSON refusal (docs/api.md).
pub fn json(d: &Demand) -> Value {
    json!({
        "challenge": d.challenge,
        "difficulty": d.difficulty,
        "expires_in": d.expires_in,
    })
}

/// The gate for a send to `number` from `browser`. A number that does
/// not parse, or is outside `allowed_regions`, is not priced: the send
/// step refuses it without an SMS anyway.
pub async fn gate(
    own: &Own,
    headers: &HeaderMap,
    number: &str,
    browser: &str,
    conn: ConnInfo,
    solution: Option<&Solution>,
) -> Result<(), FlowError> {
    let Ok(phone) = Phone::parse(number, &own.flow.cfg.phone) else {
        return Ok(());
    };
    let ip = own.trusted.client_ip(headers, conn);
    let attempt = Attempt {
        phone: &phone,
        ja4: conn.ja4.as_ref().map(|j| j.as_str()),
        ip,
        browser,
    };
    let who = Who {
        conn,
        client_ip: ip,
        endpoint: "send",
    };
    let tags = &own.flow.phone_tags;
    let store = own.flow.store.as_ref();
    let now = own.flow.clock.now_ms();
    let verdict = own
        .pow
        .admit(store, &own.flow.metrics, now, &attempt, solution);
    match verdict.await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => {
            audit::would_block("pow", Scope::Ip(ip), Some(&phone), tags, who);
            Ok(())
        }
        Err(Refused::Pow(d)) => {
            audit::pow_demanded(d.error.code(), d.difficulty, &phone, tags, who);
            Err(FlowError::Pow(Box::new(d)))
        }
        Err(Refused::Store(e)) => {
            tracing::error!(error = %e, "store unavailable");
            Err(FlowError::Store)
        }
    }
}
