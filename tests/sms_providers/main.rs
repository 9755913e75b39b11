//! SMS providers against local servers that speak each provider's wire
//! format and check it, with fault injection. Each fake is a real HTTP/1.1
//! server (hyper) on 127.0.0.1:0 that records every request it parsed.

#[path = "../support/mod.rs"]
mod support;

mod config;
mod fake;
mod faults;
mod provider_errors;
mod refunds;
mod wire;
