//! The SMS texts: `[otp] message` and the per-language `[otp.messages]`,
//! their placeholders, and how many SMS parts they cost.

use std::collections::BTreeMap;

use super::kit::Problems;
use crate::config::raw::RawConfig;
use crate::config::OtpConfig;

/// The built-in SMS text per language, used when neither
/// `[otp.messages]` nor `[otp] message` is set. Short enough for one UCS-2
/// part (70 units) with a 6-digit code, a brand like "Example Shop" and a
/// host like "shop.example.com" (tested in `sms_fits_one_part`).
pub const DEFAULT_MESSAGES: &[(&str, &str)] = &[(
    "hi",
    "{brand} OTP: {code}. किसी को न बताएं।\n\n@{host} #{code}",
)];

/// `[otp.messages]`: one per offered language at most; each is checked
/// like `[otp] message`. Offered languages without one get the built-in
/// text while `[otp] message` is the default (unset or as documented): a
/// merchant's own `message` (perhaps DLT-registered) is never replaced.
pub(super) fn messages(
    p: &mut Problems,
    raw: &RawConfig,
    languages: &[String],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (tag, text) in raw.otp.messages.iter().flatten() {
        let key = format!("otp.messages.{tag}");
        if !languages.contains(tag) {
            p.add(
                &key,
                format!(
                    "`{tag}` is not in brand.languages ({})",
                    languages.join(", ")
                ),
            );
        }
        check_template(p, &key, text);
        out.insert(tag.clone(), text.clone());
    }
    let default_message = raw
        .otp
        .message
        .as_deref()
        .is_none_or(|m| m == super::kit::DEFAULT_MESSAGE);
    if default_message {
        for (tag, text) in DEFAULT_MESSAGES {
            if languages.iter().any(|l| l == tag) && !out.contains_key(*tag) {
                out.insert((*tag).to_string(), (*text).to_string());
            }
        }
    }
    out
}

/// A text that needs more than one SMS part costs more and arrives in
/// pieces on some phones: say so, with the count (GSM-7 160/153, UCS-2 70/67).
pub(super) fn segment_warnings(otp: &OtpConfig, brand: &str, host: Option<&str>) -> Vec<String> {
    let sample = "9".repeat(otp.length as usize);
    let ttl = otp.ttl.as_secs().div_ceil(60);
    let texts = std::iter::once(("otp.message".to_string(), &otp.message)).chain(
        otp.messages
            .iter()
            .map(|(l, m)| (format!("otp.messages.{l}"), m)),
    );
    texts
        .filter_map(|(key, template)| {
            let template = match host {
                Some(_) => template.clone(),
                None => template
                    .lines()
                    .filter(|l| !l.contains("{host}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            // The longest case: with the amount line, the longest amount.
            let amount = crate::money::format_amount(i64::MAX, "INR");
            let text = crate::otp::render_message(
                &template,
                &sample,
                brand,
                ttl,
                host.unwrap_or(""),
                Some(amount.as_str()).filter(|_| template.contains("{amount}")),
            );
            let s = crate::sms::segments::count(&text);
            (s.parts > 1).then(|| {
                format!(
                    "{key}: the SMS is {} {:?} units, {} parts (one part holds {})",
                    s.units,
                    s.encoding,
                    s.parts,
                    if s.encoding == crate::sms::segments::Encoding::Gsm7 {
                        160
                    } else {
                        70
                    }
                )
            })
        })
        .collect()
}

/// `{code}` is required; only the documented placeholders are allowed.
pub(super) fn check_template(p: &mut Problems, key: &str, message: &str) {
    if !message.contains("{code}") {
        p.add(key, "must contain {code}");
    }
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        if !matches!(
            name,
            "code" | "brand" | "ttl_minutes" | "host" | "amount" | "payee"
        ) {
            p.add(key, format!("unknown placeholder {{{name}}}; use {{code}}, {{brand}}, {{ttl_minutes}}, {{host}}, {{amount}} or {{payee}}"));
        }
        rest = &after[end.min(after.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segments::{count, Encoding};

    /// The built-in Hindi SMS, as sent with a 6-digit code, a typical brand
    /// and host, fits one UCS-2 part; measured: 69 of 70 units.
    #[test]
    fn sms_fits_one_part() {
        let (_, hindi) = DEFAULT_MESSAGES[0];
        let text = crate::otp::render_message(
            hindi,
            "123456",
            "Example Shop",
            5,
            "shop.example.com",
            None,
        );
        let s = count(&text);
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.parts, 1, "{} units: {text}", s.units);
        assert_eq!(s.units, 69);
        // Without public_host the autofill line is left out: shorter still.
        let short = crate::otp::render_message(
            hindi.lines().next().unwrap(),
            "1234567890",
            "Example Shop",
            5,
            "",
            None,
        );
        assert_eq!(count(&short).parts, 1, "{short}");
        // The English default is GSM-7 and one part too.
        let en = crate::otp::render_message(
            super::super::DEFAULT_MESSAGE,
            "123456",
            "Example Shop",
            5,
            "shop.example.com",
            None,
        );
        assert_eq!(count(&en).encoding, Encoding::Gsm7);
        assert_eq!(count(&en).parts, 1);
    }
}
