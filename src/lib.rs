//! otpgate: a TLS reverse proxy that asks shoppers for an SMS one-time code
//! before protected routes of an unchanged storefront.
//!
//! # Request path
//!
//! ```text
//! accept (server.rs) -> TLS (tls.rs) -> hyper service (gateway.rs)
//!   Gateway::handle: target (host.rs, normalize.rs) -> own? -> decide (policy.rs, session.rs)
//!      -> own endpoint /.otpgate/* (flow.rs, flow/forms.rs, api.rs, forward_auth.rs;
//!         pages.rs: templates, strings per language, language choice)
//!      -> or forward (gateway/forward.rs: headers.rs, upgrade.rs, upstream.rs),
//!         body streamed (body.rs)
//! ```
//!
//! Each request runs under one snapshot of the configuration, taken when it
//! starts (server/live.rs); `SIGHUP` swaps in the next one (reload.rs says
//! which keys need a restart). The admin port's API is admin/api.rs.
//!
//! Failures become answers in one place (errors.rs). Shared state goes
//! through one trait (store.rs). Configuration is validated completely
//! before any port is bound (config.rs).
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod audit;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod errors;
pub mod flow;
pub mod forward_auth;
pub mod gateway;
pub mod headers;
pub mod host;
pub mod lookup;
pub mod metrics;
pub mod money;
pub mod normalize;
pub mod otp;
pub mod pages;
pub mod phone;
pub mod policy;
pub mod pumping;
pub mod ratelog;
pub mod receipts;
pub mod reload;
pub mod server;
pub mod session;
pub mod sms;
pub mod store;
pub mod tls;
pub mod upgrade;
pub mod upstream;
