//! SMS delivery: the providers otpgate talks to, and the retry/failover
//! policy around them.
//!
//! # Shape
//! - [`SmsSender`] is one provider speaking its own wire format
//!   (`twilio`, `msg91`, `vonage`, `webhook`, plus `console` and `file`).
//!   A sender makes exactly one attempt and classifies the outcome as an
//!   [`SmsError`].
//! - [`Delivery`] owns the ordered chain (primary, then `[sms] fallback`) and
//!   decides what to do with each outcome: retry, fail over, or stop. It is
//!   the only thing the rest of the gateway calls.
//! - [`config`] keeps the raw serde tables apart from the validated
//!   [`SmsConfig`]; [`build`] turns the latter into a [`Delivery`].
//!
//! # What never leaves this module
//! Credentials, the code and the message body never appear in an error's
//! `Display`/`Debug` or in a log line; phone numbers are logged masked
//! ([`mask_phone`]). Provider error *messages* are discarded for the same
//! reason (Twilio's echo the number): only their numeric codes are kept.

pub mod chain;
pub mod channel;
pub mod config;
pub mod console;
pub mod delivery;
pub mod dlr;
pub mod dlt;
pub mod file;
pub mod http;
pub mod measure;
pub mod message;
pub mod metrics;
pub mod msg91;
pub mod receipts;
pub mod retry;
pub mod segments;
pub mod send_record;
pub mod skip;
pub mod twilio;
pub mod voice;
pub mod vonage;
pub mod webhook;
pub mod whatsapp;
pub mod window;

pub use channel::{Channel, ChannelSet, ChannelsConfig, RawChannels};
pub use config::{validate, ProviderConfig, RawSmsConfig, Secret, SmsConfig};
pub use delivery::{build, build_with_metrics, Delivery, DeliveryError};
pub use dlt::warnings;
pub use message::{
    mask_phone, PermanentReason, ProviderCode, SmsError, SmsMessage, SmsReceipt, SmsSender,
    TransientKind,
};
pub use metrics::SmsMetrics;
pub use receipts::{record_receipt, record_twilio_status, twilio_signature_valid};
pub use retry::RetryPolicy;
