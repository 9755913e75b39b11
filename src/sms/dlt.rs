//! India's DLT rules (TRAI TCCCPR 2018): every commercial SMS to an Indian
//! number must come from a registered principal entity (PE id), under a
//! 6-character header, and match a registered content template character
//! for character, with `{#var#}` (at most 30 characters each) where the
//! text varies and the brand named. Operators silently drop a message that
//! does not match, so the shopper sees "OTP not received" and the merchant
//! sees nothing.
//!
//! - [`preflight`]: with `[sms.dlt] templates`, `check-config` and start-up
//!   compare every SMS text otpgate would send (`[otp] message`, each
//!   `[otp.messages]` language) with the registered ones, and check the
//!   header and ids the providers carry: a mismatch is a configuration
//!   error that shows the first differing character (text.rs).
//! - [`warnings`]: what otpgate can only advise on (a provider that binds
//!   the template elsewhere, DLT fields it cannot see).
//! - [`registration`]: the text `otpgate dlt-template` prints to register.

pub mod registered;
mod report;
mod text;

pub use self::registered::{header_problem, id_problem, DltConfig, DltTemplate, RawDlt};
pub use self::report::{registration, Registration};
pub use self::text::{Values, MAX_VAR_CHARS, VAR};

use self::text::{dlt_form, explain, first_difference};
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

/// The SMS texts of one configuration and what fills them.
#[derive(Debug, Clone)]
pub struct SmsTexts<'a> {
    pub messages: Vec<SmsText<'a>>,
    pub values: Values<'a>,
    /// Indian numbers may get codes (`phone.allowed_regions` holds IN, or
    /// `phone.default_region` is IN).
    pub india: bool,
}

/// One configured SMS template: its key, the page languages it serves and
/// its text with otpgate's placeholders.
#[derive(Debug, Clone)]
pub struct SmsText<'a> {
    pub key: String,
    pub languages: Vec<String>,
    pub template: &'a str,
    /// The form a transaction route sends, with the `{amount}` lines (a
    /// sign-in leaves them out: otp.rs `template_as_sent`), a text of its
    /// own to register.
    pub with_amount: bool,
}

/// What the DLT pre-flight found: problems (with their keys) refuse the
/// configuration; warnings are printed.
#[derive(Debug, Default)]
pub struct Preflight {
    pub problems: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// Compares each text with the registered templates and checks the DLT
/// header and ids of the providers in the chain. Runs only for Indian
/// numbers and with `[sms.dlt]`; without it a carrier-bound chain gets a
/// warning that points at `otpgate dlt-template`.
pub fn preflight(sms: &SmsConfig, texts: &SmsTexts) -> Preflight {
    let mut out = Preflight::default();
    let carrier_bound = sms
        .chain
        .iter()
        .any(|p| !matches!(p, ProviderConfig::Console | ProviderConfig::File(_)));
    let dlt = match (&sms.dlt, texts.india) {
        (Some(_), false) => {
            out.warnings.push(
                "sms.dlt: no Indian numbers may get codes (phone.allowed_regions), so the \
                 registered templates are not compared"
                    .into(),
            );
            return out;
        }
        (None, true) if carrier_bound => {
            out.warnings.push(
                "sms.dlt: not set; Indian operators drop an SMS that does not match its \
                 registered DLT template character for character. `otpgate dlt-template` \
                 prints the text to register; list it under [sms.dlt] templates so \
                 otpgate checks it"
                    .into(),
            );
            return out;
        }
        (Some(dlt), true) => dlt,
        _ => return out,
    };
    for text in &texts.messages {
        compare(text, &texts.values, dlt, &mut out.problems);
    }
    for provider in &sms.chain {
        provider_ids(provider, dlt, &mut out.problems);
    }
    out
}

fn compare(text: &SmsText, values: &Values, dlt: &DltConfig, problems: &mut Vec<(String, String)>) {
    let key = &text.key;
    let sent = crate::otp::template_as_sent(text.template, values.host.is_some(), text.with_amount);
    let brand = values.brand.trim().to_lowercase();
    if !sent.contains("{brand}") && !sent.to_lowercase().contains(&brand) {
        problems.push((
            key.clone(),
            "does not name the brand ({brand}); DLT requires the brand name in every \
             content template, and operators refuse templates without it"
                .into(),
        ));
    }
    let mut closest: Option<(usize, String, text::Difference)> = None;
    for (i, registered) in dlt.templates.iter().enumerate() {
        let form = dlt_form(&sent, values, Some(&registered.text));
        let Some(d) = first_difference(&registered.text, &form.text) else {
            for var in form.vars.iter().filter(|v| v.max_chars > MAX_VAR_CHARS) {
                problems.push((
                    key.clone(),
                    format!(
                        "{{{}}} fills a {VAR} of sms.dlt.templates[{i}] (id {}) with {} \
                         characters{}; a DLT variable holds at most {MAX_VAR_CHARS}, so \
                         operators drop the SMS: register that text as fixed text instead",
                        var.placeholder,
                        registered.id,
                        var.max_chars,
                        source_of(var.placeholder),
                    ),
                ));
            }
            return;
        };
        if closest.as_ref().is_none_or(|(_, _, c)| d.index > c.index) {
            closest = Some((i, form.text, d));
        }
    }
    if let Some((i, ours, d)) = closest {
        let registered = &dlt.templates[i];
        let of = match dlt.templates.len() {
            1 => String::new(),
            n => format!(" (the closest of the {n} registered)"),
        };
        problems.push((
            key.clone(),
            format!(
                "does not match the registered DLT template sms.dlt.templates[{i}] \
                 (id {}){of} at {}",
                registered.id,
                explain(&registered.text, &ours, &d)
            ),
        ));
    }
}

fn source_of(placeholder: &str) -> &'static str {
    match placeholder {
        "brand" | "payee" => " (brand.name)",
        "host" => " (server.public_host)",
        _ => "",
    }
}

/// The header and ids a provider sends or binds, as DLT needs them.
fn provider_ids(provider: &ProviderConfig, dlt: &DltConfig, problems: &mut Vec<(String, String)>) {
    let mut check =
        |key: &str, value: Option<&str>, what: &str, rule: fn(&str) -> Option<&'static str>| {
            match value {
                None => problems.push((key.into(), format!("missing; DLT requires the {what}"))),
                Some(v) => {
                    if let Some(why) = rule(v) {
                        problems.push((key.into(), format!("`{v}`: {why}")));
                    }
                }
            }
        };
    match provider {
        ProviderConfig::Msg91(m) => {
            check(
                "sms.msg91.sender",
                m.sender.as_deref(),
                "6-letter header",
                header_problem,
            );
            check(
                "sms.msg91.entity_id",
                m.entity_id.as_deref(),
                "principal entity id",
                id_problem,
            );
        }
        ProviderConfig::Vonage(v) => {
            check(
                "sms.vonage.from",
                Some(&v.from),
                "6-letter header",
                header_problem,
            );
            check(
                "sms.vonage.entity_id",
                v.entity_id.as_deref(),
                "principal entity id",
                id_problem,
            );
            check(
                "sms.vonage.content_id",
                v.content_id.as_deref(),
                "content template id",
                id_problem,
            );
            if let Some(id) = v.content_id.as_deref() {
                if id_problem(id).is_none() && !dlt.templates.iter().any(|t| t.id == id) {
                    problems.push((
                        "sms.vonage.content_id".into(),
                        format!("`{id}` is not one of the ids in sms.dlt.templates"),
                    ));
                }
            }
        }
        _ => {}
    }
}
