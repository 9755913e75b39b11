//! Delivery reports from MSG91 and Vonage: how each is authenticated and
//! what its status means. Pure functions; the endpoints are in
//! own/receipts.rs, which feeds every final status to the same marking as
//! Twilio's (flow/channels.rs).
//!
//! - MSG91 does not sign its webhook, so the URL the merchant enters in the
//!   panel carries a secret token (`[sms.msg91] dlr_token`), compared in
//!   constant time: a forged report must guess 128+ bits.
//! - Vonage signs when the account has a signature secret: `sig` is the
//!   HMAC (hex) over `&name=value` of every other parameter sorted by name,
//!   `&` and `=` in values replaced by `_`, and the signed `timestamp` bounds
//!   a replay (Vonage "Signing messages", manual signature generation).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// How old (or how far ahead) a signed Vonage `timestamp` may be: Vonage's
/// own libraries accept five minutes of skew.
pub const VONAGE_MAX_SKEW_SECS: u64 = 300;

/// One final status from a report, for one of our message ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub message_id: String,
    /// The number it went to, as the provider wrote it (metrics, masked logs).
    pub to: String,
    /// `delivered`, `failed` or `undelivered`: the receipt metric's values.
    pub status: &'static str,
}

/// True when `given` is the configured token; constant-time over digests,
/// so neither the token's bytes nor its length leak through timing.
pub fn token_matches(configured: &str, given: &str) -> bool {
    let a = Sha256::digest(configured.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    bool::from(a.ct_eq(&b)) && !given.is_empty()
}

/// MSG91's words for a final state (`desc` in the report; the panel's
/// "Delivered", "Failed", "Blocked number", "NDNC", "Auto failed",
/// "Rejected by provider"). Anything else (submitted, sent, pending) is
/// not final and ignored.
fn msg91_status(status: &str, desc: &str) -> Option<&'static str> {
    let desc = desc.trim().to_ascii_lowercase();
    match desc.as_str() {
        "delivered" => Some("delivered"),
        "failed" | "auto failed" | "autofailed" | "undelivered" => Some("failed"),
        "rejected" | "rejected by provider" | "ndnc" | "blocked" | "blocked number" => {
            Some("undelivered")
        }
        // The documented sample carries `"status":"1"` with DELIVERED.
        "" if status.trim() == "1" => Some("delivered"),
        _ => None,
    }
}

fn text(v: &serde_json::Value, key: &str) -> String {
    match &v[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The final statuses in an MSG91 webhook body, or `None` when it is not
/// one. v3 (JSON) is one flat object `{requestId, number, status, desc, …}`
/// (or an array of them); v2 (form) is a field `data` holding a JSON array
/// of `{requestId, report: [{number, status, desc, …}]}`.
pub fn msg91_reports(body: &serde_json::Value) -> Option<Vec<Report>> {
    let entries = match body {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(_) => vec![body.clone()],
        _ => return None,
    };
    let mut reports = Vec::new();
    for entry in &entries {
        let request_id = text(entry, "requestId");
        if request_id.is_empty() {
            return None;
        }
        let rows = match &entry["report"] {
            serde_json::Value::Array(rows) => rows.clone(),
            serde_json::Value::Null => vec![entry.clone()],
            _ => return None,
        };
        for row in &rows {
            if let Some(status) = msg91_status(&text(row, "status"), &text(row, "desc")) {
                reports.push(Report {
                    message_id: request_id.clone(),
                    to: text(row, "number"),
                    status,
                });
            }
        }
    }
    Some(reports)
}

/// The v2 form's `data` field, parsed as the JSON it holds.
pub fn msg91_form_data(data: &str) -> Option<serde_json::Value> {
    serde_json::from_str(data).ok()
}

/// `[sms.vonage] signature_method`: the HMACs Vonage offers that are not
/// MD5 (MD5 and SHA-1 are refused at config time: weak, and not needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VonageMethod {
    Sha256,
    Sha512,
}

impl VonageMethod {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(VonageMethod::Sha256),
            "sha512" => Some(VonageMethod::Sha512),
            _ => None,
        }
    }
}

/// The string Vonage signs: `&name=value` for every parameter but `sig`,
/// sorted by name, with `&` and `=` in values replaced by `_`.
fn vonage_signed_string(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort();
    let mut data = String::new();
    for (k, v) in sorted {
        data.push('&');
        data.push_str(k);
        data.push('=');
        data.push_str(&v.replace(['&', '='], "_"));
    }
    data
}

/// Checks a Vonage webhook's `sig` (hex, any case) and that its signed
/// `timestamp` (unix seconds) is within [`VONAGE_MAX_SKEW_SECS`] of
/// `now_secs`. Every pair is signed, so one added (a second `status`)
/// breaks the signature like one changed.
pub fn vonage_signature_valid(
    secret: &str,
    method: VonageMethod,
    params: &[(String, String)],
    now_secs: u64,
) -> bool {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let Some(Ok(sig)) = get("sig").map(|s| hex::decode(s.trim())) else {
        return false;
    };
    let Some(Ok(ts)) = get("timestamp").map(|t| t.trim().parse::<u64>()) else {
        return false;
    };
    if ts.abs_diff(now_secs) > VONAGE_MAX_SKEW_SECS {
        return false;
    }
    let data = vonage_signed_string(params);
    match method {
        VonageMethod::Sha256 => Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map(|mut m| {
                m.update(data.as_bytes());
                m.verify_slice(&sig).is_ok()
            })
            .unwrap_or(false),
        VonageMethod::Sha512 => Hmac::<Sha512>::new_from_slice(secret.as_bytes())
            .map(|mut m| {
                m.update(data.as_bytes());
                m.verify_slice(&sig).is_ok()
            })
            .unwrap_or(false),
    }
}

/// A Vonage DLR's final status: `delivered`; `failed`, `rejected` (by
/// Vonage or the carrier); `expired` (the carrier gave up). `accepted`,
/// `buffered`, `unknown` are not final.
pub fn vonage_report(params: &[(String, String)]) -> Option<Report> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let status = match get("status")?.as_str() {
        "delivered" => "delivered",
        "failed" | "rejected" => "failed",
        "expired" => "undelivered",
        _ => return None,
    };
    let message_id = get("messageId").filter(|m| !m.is_empty())?;
    Some(Report {
        message_id,
        to: get("msisdn").map(|m| format!("+{m}")).unwrap_or_default(),
        status,
    })
}

#[cfg(test)]
#[path = "dlr_tests.rs"]
mod tests;
