//! `[brand]`: colour contrast, languages, template overrides.

use std::path::PathBuf;

use super::kit::Problems;
use crate::config::raw::RawConfig;
use crate::config::Brand;
use crate::pages::contrast;

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

#[cfg(test)]
mod tests {
    use super::*;

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
