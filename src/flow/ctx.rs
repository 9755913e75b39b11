//! What the OTP steps may touch, and nothing more: the store, the clock,
//! SMS delivery, metrics, the OTP key and the config sections the steps
//! read. No HTTP types and no `Gateway`, so a unit test builds one from the
//! memory store, a manual clock and the file or console provider.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::PhoneTags;
use crate::clock::Clock;
use crate::config::{Config, LimitsConfig, OtpConfig, PhoneConfig};
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::sms::{ChannelSet, Delivery};
use crate::store::Store;

/// The configuration the steps read.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub otp: OtpConfig,
    pub limits: LimitsConfig,
    pub phone: PhoneConfig,
    /// `server.public_host`: the only host a code's autofill line names.
    pub public_host: Option<String>,
    /// `brand.name`, for the SMS text.
    pub brand_name: String,
    /// `session.ttl`: how long a verified session lasts.
    pub session_ttl: Duration,
    /// `log.audit_required`: no sign-in while its events would be lost.
    pub audit_required: bool,
}

impl FlowConfig {
    pub fn of(cfg: &Config) -> Self {
        FlowConfig {
            otp: cfg.otp.clone(),
            limits: cfg.limits.clone(),
            phone: cfg.phone.clone(),
            public_host: cfg.server.public_host.clone(),
            brand_name: cfg.brand.name.clone(),
            session_ttl: cfg.session.ttl,
            audit_required: cfg.log.audit_required,
        }
    }
}

/// The narrow context of the OTP steps (`start`, `check`, `resend`).
pub struct FlowCtx {
    pub cfg: FlowConfig,
    /// Challenges and every limit's counter: atomic there, so parallel
    /// requests cannot pass a limit together.
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sms: Arc<Delivery>,
    /// WhatsApp and voice chains and `[channels]` (sms/channel.rs).
    pub channels: Arc<ChannelSet>,
    pub metrics: Arc<Metrics>,
    /// Keys the stored code hashes (otp.rs): a store dump reveals no code.
    pub otp_key: [u8; 32],
    /// Seals a code kept for another channel (flow/channels.rs).
    pub code_key: [u8; 32],
    /// The store epoch a new session is issued under (sessions.rs).
    pub sessions: Sessions,
    /// Keys the trail's `phone_key` (audit/events.rs).
    pub phone_tags: PhoneTags,
}
