//! `[brand]` (colour contrast, languages, template overrides) and the
//! per-language SMS texts of `[otp.messages]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Problems;
use crate::config::raw::RawConfig;
use crate::config::Brand;
use crate::pages::contrast;

/// The built-in SMS text per language, used when neither
/// `[otp.messages]` nor `[otp] message` is set. Short enough for one UCS-2
/// part (70 units) with a 6-digit code, a brand like "Example Shop" and a
/// host like "shop.example.com" (tested in `sms_fits_one_part`).
pub const DEFAULT_MESSAGES: &[(&str, &str)] = &[(
    "hi",
    "{brand} OTP: {code}. किसी को न बताएं।\n\n@{host} #{code}",
)];

/// A language tag as written in `[brand] languages`: `hi`, `en`, `pt-br`.
fn is_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub(super) fn brand(p: &mut Problems, raw: &RawConfig) -> (Brand, Vec<String>) {
    let b = &raw.brand;
    let color = b.color.clone().unwrap_or_else(|| "#0f766e".into());
    match contrast::parse_hex(&color) {
        None => p.add(
            "brand.color",
            format!("`{color}` must be a #rgb or #rrggbb colour"),
        ),
        // Button text is drawn on the brand colour: WCAG 2.2 SC 1.4.3.
        Some(rgb) => {
            if let Err((white, dark)) = contrast::text_on(rgb) {
                p.add(
                    "brand.color",
                    format!(
                        "`{color}` is unreadable as a button: white text on it has contrast {white:.2}:1 and dark text {dark:.2}:1; WCAG AA needs 4.5:1 — pick a darker or a lighter colour"
                    ),
                );
            }
        }
    }
    if let Some(logo) = &b.logo_url {
        if !logo.starts_with('/')
            || logo.starts_with("//")
            || logo.contains(['"', '<', '>', '\\', ' '])
        {
            p.add("brand.logo_url", "must be a path on this site such as \"/static/logo.svg\" (pages allow no external assets)");
        }
    }
    let name = b.name.clone().unwrap_or_else(|| "Shop".into());
    if name.trim().is_empty() || name.chars().count() > 40 {
        p.add("brand.name", "must be 1 to 40 characters");
    }
    let mut languages: Vec<String> = Vec::new();
    for tag in b.languages.clone().unwrap_or_else(|| vec!["en".into()]) {
        let tag = tag.to_ascii_lowercase();
        if !is_tag(&tag) {
            p.add(
                "brand.languages",
                format!("`{tag}` is not a language tag such as \"hi\" or \"en\""),
            );
        } else if languages.contains(&tag) {
            p.add("brand.languages", format!("`{tag}` is listed twice"));
        } else {
            languages.push(tag);
        }
    }
    if languages.is_empty() && !p.list.iter().any(|x| x.key == "brand.languages") {
        p.add(
            "brand.languages",
            "must name at least one language, e.g. [\"en\"]",
        );
    }
    let templates_dir = b.templates_dir.as_ref().map(PathBuf::from);
    if let Some(dir) = &templates_dir {
        if !dir.is_dir() {
            p.add(
                "brand.templates_dir",
                format!("{} is not a directory", dir.display()),
            );
        }
    }
    let brand = Brand {
        name,
        color,
        logo_url: b.logo_url.clone(),
        languages,
        templates_dir,
    };
    let mut warnings = Vec::new();
    let fine = !p.list.iter().any(|x| x.key.starts_with("brand."));
    if fine {
        match crate::pages::Pages::load(&brand) {
            Ok((_, w)) => warnings.extend(w),
            Err(errors) => {
                let key = if brand.templates_dir.is_some() {
                    "brand.templates_dir"
                } else {
                    "brand.languages"
                };
                for e in errors {
                    p.add(key, e);
                }
            }
        }
    }
    (brand, warnings)
}

/// `[otp.messages]`: one per offered language at most; each is checked
/// like `[otp] message`. Offered languages without one get the built-in
/// text while `[otp] message` is the default (unset or as documented): a
/// merchant's own `message` (perhaps DLT-registered) is never replaced.
pub(super) fn messages(
    p: &mut Problems,
    raw: &RawConfig,
    languages: &[String],
    check: impl Fn(&mut Problems, &str, &str),
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
        check(p, &key, text);
        out.insert(tag.clone(), text.clone());
    }
    let default_message = raw
        .otp
        .message
        .as_deref()
        .is_none_or(|m| m == super::DEFAULT_MESSAGE);
    if default_message {
        for (tag, text) in DEFAULT_MESSAGES {
            if languages.iter().any(|l| l == tag) && !out.contains_key(*tag) {
                out.insert((*tag).to_string(), (*text).to_string());
            }
        }
    }
    out
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
        let text =
            crate::otp::render_message(hindi, "123456", "Example Shop", 5, "shop.example.com");
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
        );
        assert_eq!(count(&short).parts, 1, "{short}");
        // The English default is GSM-7 and one part too.
        let en = crate::otp::render_message(
            super::super::DEFAULT_MESSAGE,
            "123456",
            "Example Shop",
            5,
            "shop.example.com",
        );
        assert_eq!(count(&en).encoding, Encoding::Gsm7);
        assert_eq!(count(&en).parts, 1);
    }

    #[test]
    fn tags() {
        for ok in ["en", "hi", "pt-br", "sr-latn-rs"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in [
            "", "e", "english", "en_", "en-", "EN", "hi;x", "hi\"", "../x",
        ] {
            assert!(!is_tag(bad), "{bad}");
        }
    }
}
