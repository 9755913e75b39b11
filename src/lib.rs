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
//!           -> forms.rs, logout.rs, api.rs, forward_auth.rs, twilio_status.rs (own/)
//!              reading input.rs, answering reply.rs, pending.rs, state.rs;
//!              every form post a 303 to a page, its message in flash.rs;
//!              pages (pages.rs), redirects (redirect.rs)
//!           -> the OTP steps start, check, resend (flow.rs: flow/steps.rs,
//!              limits.rs, failures.rs on a narrow FlowCtx), store (store.rs), SMS (sms.rs)
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

pub mod admin;
pub mod audit;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod demo;
pub mod errors;
pub mod fingerprint;
pub mod flow;
pub mod gateway;
pub mod headers;
pub mod host;
pub mod lookup;
pub mod metrics;
pub mod money;
pub mod normalize;
pub mod otp;
pub mod own;
pub mod pages;
pub mod phone;
pub mod policy;
pub mod pumping;
pub mod ratelog;
pub mod redirect;
pub mod reload;
pub mod secret;
pub mod server;
pub mod session;
pub mod sessions;
pub mod sms;
pub mod store;
pub mod tls;
pub mod upgrade;
pub mod upstream;
pub mod validation;
