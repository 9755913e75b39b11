//! Security events as structured log lines (target `otpgate::audit`):
//! who did what, with masked phones and never a code, cookie or secret.

use crate::gateway::ConnInfo;
use crate::phone::{mask, Phone, PhoneError};
use crate::session::Session;

pub fn code_sent(phone: &Phone, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "code_sent", phone = %phone.masked(), country = %phone.region_code(), peer = %conn.peer.ip());
}

pub fn phone_refused(e: PhoneError, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "phone_refused", reason = e.code(), peer = %conn.peer.ip());
}

pub fn verified(phone: &Phone, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "verified", phone = %phone.masked(), peer = %conn.peer.ip());
}

pub fn failed(phone: &Phone, reason: &'static str, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "verify_failed", reason, phone = %phone.masked(), peer = %conn.peer.ip());
}

pub fn rate_limited(limit: &'static str, key: &str) {
    // Keys are IPs, E.164 numbers, prefixes or countries: mask numbers.
    let shown = if key.starts_with('+') && key.len() > 8 { mask(key) } else { key.to_string() };
    tracing::info!(target: "otpgate::audit", event = "rate_limited", limit, key = %shown);
}

pub fn session_issued(s: &Session, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "session_issued", phone = %mask(&s.phone), expires_at = s.expires_at, peer = %conn.peer.ip());
}

pub fn logout(s: &Session, conn: ConnInfo) {
    tracing::info!(target: "otpgate::audit", event = "logout", phone = %mask(&s.phone), peer = %conn.peer.ip());
}
