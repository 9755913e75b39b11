//! `check-config` warnings for India's DLT rules (TRAI): every commercial
//! SMS to an Indian number must carry a registered entity (PE) id, a
//! 6-character sender header, and match a registered content template in
//! which the brand name is mandatory. Operators otherwise see messages
//! silently dropped by Indian carriers.
//!
//! # Registering the template
//! Register `[otp] message` with each variable replaced by `{#var#}`
//! (at most 30 characters each), *including* the autofill line, e.g.
//! `{#var#} is your Example Shop code. Valid {#var#} min. Never share it.`
//! followed by a blank line and `@{#var#} #{#var#}`. Write the brand
//! literally in the registered text rather than as a variable.

use crate::sms::config::{ProviderConfig, SmsConfig};

/// Warnings (not errors: the config works, delivery may not) for the chain
/// in `cfg`, given `[phone] allowed_regions`, `[otp] message` and
/// `[brand] name`.
pub fn warnings(
    cfg: &SmsConfig,
    allowed_regions: &[String],
    message_template: &str,
    brand: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let india = allowed_regions.iter().any(|r| r.eq_ignore_ascii_case("IN"));
    let template_has_brand = message_template.contains("{brand}")
        || (!brand.trim().is_empty()
            && message_template
                .to_lowercase()
                .contains(&brand.trim().to_lowercase()));
    if !template_has_brand {
        out.push(
            "otp.message: the message does not name the brand ({brand}); India's DLT rules \
             require it and shoppers trust it"
                .to_owned(),
        );
    }
    for provider in &cfg.chain {
        match provider {
            ProviderConfig::Msg91(m) => {
                out.push(
                    "sms.msg91.template_id: MSG91 sends the DLT template registered under \
                     template_id, not otp.message; keep the two texts in step"
                        .to_owned(),
                );
                if india {
                    if m.sender.is_none() {
                        out.push(missing_dlt("sms.msg91.sender", "6-character sender header"));
                    }
                    if m.entity_id.is_none() {
                        out.push(missing_dlt("sms.msg91.entity_id", "principal entity id"));
                    }
                }
            }
            ProviderConfig::Vonage(v) if india => {
                if v.entity_id.is_none() {
                    out.push(missing_dlt("sms.vonage.entity_id", "principal entity id"));
                }
                if v.content_id.is_none() {
                    out.push(missing_dlt("sms.vonage.content_id", "content template id"));
                }
                if v.from.len() != 6 {
                    out.push(
                        "sms.vonage.from: Indian carriers expect the 6-character DLT sender \
                         header here"
                            .to_owned(),
                    );
                }
            }
            ProviderConfig::Webhook(_) if india => out.push(
                "sms.webhook: otpgate cannot check DLT fields for a webhook; make sure the \
                 body or the gateway adds the entity id, sender header and template id"
                    .to_owned(),
            ),
            ProviderConfig::Twilio(_) if india => out.push(
                "sms.twilio: Twilio needs your DLT entity, sender and template registered \
                 with Twilio for Indian numbers"
                    .to_owned(),
            ),
            _ => {}
        }
    }
    out
}

fn missing_dlt(key: &str, what: &str) -> String {
    format!(
        "{key}: missing; Indian numbers are in phone.allowed_regions and DLT requires the \
         {what}, without it carriers drop the message"
    )
}
