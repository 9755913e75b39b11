//! `provider = "console"`: prints `SMS to +91…: body` on standard output.
//! This is the demo provider (SPEC: standard output carries only the console
//! provider's messages and the demo banner), so number and code are shown
//! in full there, and only there.

use std::io::Write;

use crate::sms::message::{SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind};

pub struct ConsoleSender;

#[async_trait::async_trait]
impl SmsSender for ConsoleSender {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        // One locked write so concurrent messages never interleave.
        let mut out = std::io::stdout().lock();
        writeln!(out, "SMS to {}: {}", msg.to, msg.body)
            .and_then(|()| out.flush())
            .map_err(|_| SmsError::transient(TransientKind::Io))?;
        Ok(SmsReceipt {
            provider: "console",
            message_id: None,
        })
    }
}
