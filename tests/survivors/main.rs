//! Regression tests for what a mutation run found (issue 16): three
//! deliberate bugs that passed every test, and four that only one unit
//! test caught. Each test here fails on its bug at the integration level,
//! across the wire, against the real gateway and storefront.
//!
//! - `forward_auth_age`: `/.otpgate/auth` honours the route's `max_age`
//! - `failure_limit`: the failure limit is checked before a guess is evaluated
//! - `rerouting`: `X-Original-URL` and friends never reach the storefront
//! - `expiry`: an expired session identifies no one, protected route or not
//! - `cookie_names`: a value sealed for another otpgate cookie is no session
//! - `resend`: a resent code replaces the old one
//! - `rd`: no way back into `/.otpgate/` after verification
//! - `missed`: mutants a cargo-mutants run missed, killed

#[path = "../support/mod.rs"]
mod support;

mod cookie_names;
mod expiry;
mod failure_limit;
mod forward_auth_age;
mod missed;
mod rd;
mod rerouting;
mod resend;

pub use support::forward_auth as auth;

/// Seconds as a `Duration`, for `clock.advance`.
pub fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

pub use support::header_of;
