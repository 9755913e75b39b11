//! What `otpgate dlt-template` prints: for each SMS text, the content
//! template to register on the DLT portal, its size, and what each
//! `{#var#}` holds, then an `[sms.dlt]` block to paste once the portal has
//! given the ids.

use std::fmt::Write;

use crate::sms::dlt::text::{dlt_form, Values, MAX_VAR_CHARS, VAR};
use crate::sms::segments::{count, Encoding};

/// One text to register, by config key and the languages it serves.
pub struct Registration<'a> {
    pub key: &'a str,
    pub languages: &'a [String],
    pub template: &'a str,
    /// With the `{amount}` lines: what a transaction route sends.
    pub with_amount: bool,
}

/// The report for `texts` under `values`.
pub fn registration(texts: &[Registration], values: &Values) -> String {
    let mut out = String::new();
    let mut block = String::from("[sms.dlt]\ntemplates = [\n");
    for t in texts {
        let sent = crate::otp::template_as_sent(t.template, values.host.is_some(), t.with_amount);
        let form = dlt_form(&sent, values, None);
        let chars = form.text.chars().count();
        let sample = crate::otp::render_message(
            &sent,
            &"9".repeat(values.code_length),
            values.brand,
            values.ttl_minutes,
            values.host.unwrap_or(""),
            values.longest_amount().as_deref(),
        );
        let on_air = count(&sample);
        let langs = if t.languages.is_empty() {
            "fallback".to_owned()
        } else {
            t.languages.join(", ")
        };
        let case = if t.with_amount {
            ", transaction routes (with {amount})"
        } else {
            ""
        };
        let _ = writeln!(out, "{} ({langs}){case}", t.key);
        let _ = writeln!(out, "  Text to register ({chars} characters):");
        for line in form.text.split('\n') {
            let _ = writeln!(out, "{}", format!("    | {line}").trim_end());
        }
        let quoted = toml_string(&form.text);
        let _ = writeln!(out, "  The same as a TOML string: {quoted}");
        let _ = writeln!(
            out,
            "  As sent, longest case: {} {} units, {} SMS part{}",
            on_air.units,
            match on_air.encoding {
                Encoding::Gsm7 => "GSM-7",
                Encoding::Ucs2 => "UCS-2 (Unicode)",
            },
            on_air.parts,
            if on_air.parts == 1 { "" } else { "s" },
        );
        if form.vars.is_empty() {
            let _ = writeln!(out, "  Variables: none");
        } else {
            let _ = writeln!(
                out,
                "  Variables, in order (each {VAR} holds at most {MAX_VAR_CHARS} characters):"
            );
            for (i, v) in form.vars.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {}. {:<15} at most {} character{}",
                    i + 1,
                    format!("{{{}}}", v.placeholder),
                    v.max_chars,
                    if v.max_chars == 1 { "" } else { "s" },
                );
            }
        }
        out.push('\n');
        let _ = writeln!(
            block,
            "  {{ id = \"<content template id of {}{}>\", text = {quoted} }},",
            t.key,
            if t.with_amount { " with {amount}" } else { "" },
        );
    }
    block.push_str("]\n");
    let _ = writeln!(
        out,
        "Register each text as a Service Implicit content template under your header, \
         then put the ids the portal gives into the config:\n\n{block}"
    );
    out
}

/// `text` as a one-line TOML basic string: the line breaks a DLT portal
/// keeps are visible as `\n`, and the line pastes into `[sms.dlt]`.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{registration, toml_string, Registration, Values};

    #[test]
    fn a_text_with_the_amount_is_registered_in_both_forms() {
        let t = "{code} is your {brand} code.\nPay {amount} to {payee}.";
        let langs = vec!["en".to_string()];
        let values = Values {
            code_length: 6,
            brand: "Example Shop",
            ttl_minutes: 5,
            host: None,
            amount_currency: Some("INR"),
        };
        let texts: Vec<Registration> = [false, true]
            .into_iter()
            .map(|with_amount| Registration {
                key: "otp.message",
                languages: &langs,
                template: t,
                with_amount,
            })
            .collect();
        let out = registration(&texts, &values);
        assert!(
            out.contains("    | {#var#} is your Example Shop code.\n"),
            "{out}"
        );
        assert!(
            out.contains("otp.message (en), transaction routes (with {amount})"),
            "{out}"
        );
        assert!(out.contains("    | Pay {#var#} to Example Shop."), "{out}");
        assert!(
            out.contains("{amount}        at most 28 characters"),
            "{out}"
        );
        assert!(
            out.contains("content template id of otp.message with {amount}"),
            "{out}"
        );
        // ₹ is not GSM-7: the amount's form is sent as Unicode.
        assert!(out.contains("UCS-2"), "{out}");
    }

    #[test]
    fn toml_strings_stay_on_one_line_and_read_back() {
        let text = "a \"b\" \\ c\n\nकोड\t\u{7}";
        let quoted = toml_string(text);
        assert!(!quoted.contains('\n'));
        let table: toml::Table = format!("v = {quoted}").parse().unwrap();
        assert_eq!(table["v"].as_str(), Some(text));
    }
}
