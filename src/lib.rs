//! otpgate: a TLS reverse proxy that asks shoppers for an SMS one-time code
//! before protected routes of an unchanged storefront.
//!
//! # Request path
//!
//! ```text
//! accept, per-IP cap, TLS handshake (server.rs, server/connection.rs; certificates: tls.rs;
//!   JA4 of the raw ClientHello: fingerprint.rs)
//!   -> hyper service: Gateway::handle (gateway.rs)
//!      1. target (host.rs, normalize.rs)
//!      2. own? /.otpgate/* -> route table (own.rs)
//!           -> forms.rs, logout.rs, api.rs, forward_auth.rs, twilio_status.rs, receipts.rs (own/)
//!              reading input.rs, answering reply.rs, pending.rs, state.rs;
//!              every form post a 303 to a page, its message in flash.rs;
//!              pages (pages.rs), redirects (redirect.rs)
//!           -> a risky send's proof-of-work (pow.rs: risk.rs, challenge.rs;
//!              own/pow.rs), then the OTP steps start, check, resend (flow.rs:
//!              flow/steps.rs, limits.rs, failures.rs on a narrow FlowCtx),
//!              store (store.rs), SMS (sms.rs)
//!      3. decide (policy.rs; session cookie and freshness: sessions.rs, session.rs)
//!      4. forward (gateway/forward.rs: headers.rs, conn.rs, upgrade.rs, upstream.rs),
//!         body streamed (body.rs)
//! ```
//!
//! Each request runs under one snapshot of the configuration, taken when it
//! starts (server/live.rs); `SIGHUP` swaps in the next one (reload.rs says
//! which keys need a restart). The admin port's API is admin/api.rs.
//!
//! Imports go one way, down this list (tests/architecture.rs checks it, and
//! that only server, admin and cli hold the whole `Gateway`). Failures
//! become answers in one place (errors.rs). Shared state goes through one
//! trait (store.rs). Configuration is validated completely before any port
//! is bound (config.rs; one toolkit for every section: validation.rs).
#![forbid(unsafe_code)]

pub(crate) mod admin;
pub mod audit;
pub mod audit_replay;
pub(crate) mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub(crate) mod conn;
pub(crate) mod demo;
pub(crate) mod errors;
pub(crate) mod fingerprint;
pub(crate) mod flow;
pub mod fraud;
pub mod gateway;
pub mod headers;
pub(crate) mod host;
pub(crate) mod lookup;
pub(crate) mod metrics;
pub mod money;
pub mod normalize;
pub(crate) mod otp;
pub mod own;
pub(crate) mod pages;
pub(crate) mod phone;
pub mod policy;
pub(crate) mod pow;
pub(crate) mod pumping;
pub mod ratelog;
pub(crate) mod redirect;
pub(crate) mod reload;
pub(crate) mod secret;
pub mod server;
pub mod session;
pub(crate) mod sessions;
pub mod sms;
pub mod store;
pub mod tls;
pub(crate) mod upgrade;
pub(crate) mod upstream;
pub(crate) mod validation;
