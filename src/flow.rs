//! The OTP steps behind `/.otpgate/*`, shared by the HTML forms and the
//! JSON API (own/): start a challenge (limits, phone, code, SMS), check a
//! code, resend. They take a narrow context ([`FlowCtx`]) and know nothing
//! of HTTP, so they are unit-tested where they live (tests.rs).

mod channels;
mod ctx;
mod error;
mod failures;
mod limits;
mod measure;
#[cfg(test)]
mod measure_tests;
mod refusal;
#[cfg(test)]
mod sealed_tests;
mod steps;
#[cfg(test)]
mod tests;

pub use self::channels::{mark_delivered, mark_failed, offer};
pub use self::ctx::{FlowConfig, FlowCtx};
pub use self::error::FlowError;
pub use self::measure::sweep as sweep_deliveries;
pub use self::steps::{check, record_verified, resend, start, try_send};
