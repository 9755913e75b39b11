//! `[sms.dlt]`: the content templates the merchant registered on a DLT
//! portal, and the formats of the DLT identifiers (TRAI TCCCPR 2018).

use serde::Deserialize;

use crate::validation::Problems;

/// `[sms.dlt]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDlt {
    pub templates: Option<Vec<RawDltTemplate>>,
}

/// One `{ id = "…", text = "…" }` of `templates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDltTemplate {
    pub id: Option<String>,
    pub text: Option<String>,
}

/// A validated `[sms.dlt]` table: at least one template.
#[derive(Debug, Clone)]
pub struct DltConfig {
    pub templates: Vec<DltTemplate>,
}

/// A registered content template: its id and its text with `{#var#}`.
#[derive(Debug, Clone)]
pub struct DltTemplate {
    pub id: String,
    pub text: String,
}

impl DltConfig {
    pub fn validate(raw: &RawDlt, problems: &mut Problems) -> Option<DltConfig> {
        let before = problems.0.len();
        let list = raw.templates.as_deref().unwrap_or_default();
        if list.is_empty() {
            problems.push(
                "sms.dlt.templates",
                "missing: the registered content templates, e.g. \
                 [{ id = \"1107…\", text = \"{#var#} is your … code\" }] \
                 (`otpgate dlt-template` prints the text to register)",
            );
        }
        let mut templates: Vec<DltTemplate> = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let key = |leaf: &str| format!("sms.dlt.templates[{i}].{leaf}");
            let id = t.id.as_deref().unwrap_or("");
            if let Some(why) = id_problem(id) {
                problems.push(key("id"), format!("`{id}` {why}"));
            } else if templates.iter().any(|o| o.id == id) {
                problems.push(key("id"), format!("`{id}` is listed twice"));
            }
            let text = t.text.clone().unwrap_or_default();
            if text.trim().is_empty() {
                problems.push(
                    key("text"),
                    "missing: the template text exactly as registered",
                );
            }
            templates.push(DltTemplate {
                id: id.to_owned(),
                text,
            });
        }
        (problems.0.len() == before).then_some(DltConfig { templates })
    }
}

/// Why `id` is not a DLT content template or principal entity id, if it
/// is not. Both are numeric; 19 digits is the usual length and some
/// portals show 12 to 19 (REFERENCES.md, "DLT (India)"). A TOML integer
/// would lose nothing here, but a quoted string keeps leading digits and
/// length exactly as the portal shows them.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("is missing; DLT ids are numeric, usually 19 digits")
    } else if !id.bytes().all(|b| b.is_ascii_digit()) {
        Some("is not a DLT id: digits only, usually 19 (copy it from the DLT portal)")
    } else if !(12..=19).contains(&id.len()) {
        Some("is not a DLT id: 12 to 19 digits, usually 19 (copy it from the DLT portal)")
    } else {
        None
    }
}

/// Why `header` cannot carry an OTP, if it cannot: a DLT header (sender
/// id) is 6 characters, and transactional and service-implicit headers
/// (OTPs are service-implicit) are alphabetic; numeric ones are
/// promotional, which operators hold back for DND numbers.
pub fn header_problem(header: &str) -> Option<&'static str> {
    if header.chars().count() != 6 {
        Some("a DLT header (sender id) is exactly 6 characters")
    } else if !header.chars().all(|c| c.is_ascii_alphabetic()) {
        Some("an OTP goes from a transactional or service-implicit header: 6 letters (numeric headers are promotional)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numeric_and_of_portal_length() {
        assert_eq!(id_problem("1107161234567890123"), None);
        assert_eq!(id_problem("120116123456"), None);
        for bad in [
            "",
            "1107-1612-3456-7890",
            "11071612345678901234",
            "12345",
            " 1107161234567890123",
            "११०७१६१२३४५६७८९०१२३",
        ] {
            assert!(id_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn headers_are_six_letters() {
        assert_eq!(header_problem("EXSHOP"), None);
        for bad in ["EXSHP", "EXSHOPS", "123456", "EX SHP", "EXSHÖP"] {
            assert!(header_problem(bad).is_some(), "{bad:?}");
        }
    }
}
