//! An otpgate SMS template in DLT form, and its character-for-character
//! comparison with the text registered on the DLT portal.
//!
//! Indian operators' scrubbers (TRAI TCCCPR 2018) match each SMS against
//! the registered content template: the fixed text exactly (case, spaces,
//! punctuation, every Unicode mark), and each `{#var#}` against at most 30
//! characters of filled text. A message that does not match is dropped
//! without an error to the sender, so otpgate compares before it sends.

/// How a variable is written in a registered DLT template.
pub const VAR: &str = "{#var#}";
/// The most characters one `{#var#}` may stand for.
pub const MAX_VAR_CHARS: usize = 30;

/// What otpgate fills its placeholders with under one configuration.
#[derive(Debug, Clone)]
pub struct Values<'a> {
    pub code_length: usize,
    pub brand: &'a str,
    pub ttl_minutes: u64,
    /// `[server] public_host`; without it the autofill line is not sent.
    pub host: Option<&'a str>,
    /// The currency of the longest `{amount}` a transaction route shows
    /// (money.rs `longest`); `None` without a route naming `amount_field`.
    pub amount_currency: Option<&'a str>,
}

impl Values<'_> {
    /// The longest `{amount}` as shown: `₹92,23,37,20,36,85,47,758.07`.
    pub fn longest_amount(&self) -> Option<String> {
        self.amount_currency
            .map(|c| crate::money::format_amount(i64::MAX, c))
    }
}

/// One `{#var#}` of the DLT form: the placeholder behind it and the most
/// characters it is filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub placeholder: &'static str,
    pub max_chars: usize,
}

/// A template in DLT form: the text to register (or compare) and its
/// variables in order.
#[derive(Debug, Clone)]
pub struct DltForm {
    pub text: String,
    pub vars: Vec<Var>,
}

/// The first character where two DLT texts part, 0-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub index: usize,
    /// In the registered text; `None` when it ended first.
    pub expected: Option<char>,
    /// In otpgate's text; `None` when it ended first.
    pub found: Option<char>,
}

enum Piece<'t> {
    Fixed(&'t str),
    Placeholder(&'static str),
}

const PLACEHOLDERS: [&str; 6] = ["code", "brand", "ttl_minutes", "host", "amount", "payee"];

/// `template` (as sent: see `otp::template_as_sent`) in DLT form.
/// The code and the amount are always a `{#var#}` (they differ in every
/// SMS). The brand (and `{payee}`, the brand), the minutes and the host are
/// the same in every SMS of one configuration, so the registered text may
/// hold them as fixed text or as a variable: each is written the way
/// `registered` has it at that point. Without a registered text (what to
/// register) the brand is written out, since DLT wants the brand named in
/// the fixed text, and the others become variables.
pub fn dlt_form(template: &str, values: &Values, registered: Option<&str>) -> DltForm {
    let mut text = String::new();
    let mut vars = Vec::new();
    for piece in pieces(template) {
        let name = match piece {
            Piece::Fixed(s) => {
                text.push_str(s);
                continue;
            }
            Piece::Placeholder(name) => name,
        };
        let brandlike = matches!(name, "brand" | "payee");
        let (filled, constant) = match name {
            "code" => ("9".repeat(values.code_length), false),
            "amount" => (values.longest_amount().unwrap_or_default(), false),
            "brand" | "payee" => (values.brand.to_owned(), true),
            "ttl_minutes" => (values.ttl_minutes.to_string(), true),
            _ => (values.host.unwrap_or("").to_owned(), true),
        };
        let as_var = match registered {
            _ if !constant => true,
            // A constant longer than a variable holds can only be fixed text.
            None => !brandlike && filled.chars().count() <= MAX_VAR_CHARS,
            Some(reg) => {
                // Where otpgate's text so far equals the registered one,
                // the rest of `reg` from here says which form was chosen;
                // otherwise, the closer form makes the clearer difference.
                let rest = reg.get(text.len()..).unwrap_or("");
                let var = common_prefix(VAR, rest);
                let fixed = common_prefix(&filled, rest);
                var > fixed || (var == fixed && !brandlike)
            }
        };
        if as_var {
            text.push_str(VAR);
            vars.push(Var {
                placeholder: name,
                max_chars: filled.chars().count(),
            });
        } else {
            text.push_str(&filled);
        }
    }
    DltForm { text, vars }
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let known = PLACEHOLDERS
            .iter()
            .find(|p| after.starts_with(**p) && after[p.len()..].starts_with('}'));
        match known {
            Some(name) => {
                if start > 0 {
                    out.push(Piece::Fixed(&rest[..start]));
                }
                out.push(Piece::Placeholder(name));
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push(Piece::Fixed(&rest[..start + 1]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Fixed(rest));
    }
    out
}

/// Characters `a` and `b` share at their start.
fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// The first difference between the registered text and otpgate's, if any.
pub fn first_difference(registered: &str, ours: &str) -> Option<Difference> {
    let mut reg = registered.chars();
    let mut our = ours.chars();
    let mut index = 0;
    loop {
        match (reg.next(), our.next()) {
            (None, None) => return None,
            (a, b) if a == b => index += 1,
            (expected, found) => {
                return Some(Difference {
                    index,
                    expected,
                    found,
                })
            }
        }
    }
}

/// The difference explained: position (character, line, column) in the
/// registered text, expected and found characters with their code points,
/// and both texts around it with a caret under the first differing one.
pub fn explain(registered: &str, ours: &str, d: &Difference) -> String {
    let before: Vec<char> = registered.chars().take(d.index).collect();
    let line = before.iter().filter(|c| **c == '\n').count() + 1;
    let column = before.iter().rev().take_while(|c| **c != '\n').count() + 1;
    let from = d.index.saturating_sub(24);
    let window = |s: &str| -> String {
        let shown: String = s.chars().skip(from).take(48).map(visible).collect();
        let head = if from > 0 { "…" } else { "" };
        let tail = if s.chars().count() > from + 48 {
            "…"
        } else {
            ""
        };
        format!("{head}{shown}{tail}")
    };
    let lead = if from > 0 { 1 } else { 0 };
    let caret_at = lead
        + registered
            .chars()
            .skip(from)
            .take(d.index - from)
            .map(|c| width(visible(c)))
            .sum::<usize>();
    format!(
        "character {} (line {line}, column {column}): expected {}, found {}\n      registered: {}\n      otpgate:    {}\n                  {}^",
        d.index + 1,
        describe(d.expected),
        describe(d.found),
        window(registered),
        window(ours),
        " ".repeat(caret_at),
    )
}

fn describe(c: Option<char>) -> String {
    let Some(c) = c else {
        return "the end of the text".into();
    };
    let name = match c {
        ' ' => "a space".to_owned(),
        '\n' => "a line break".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        '\u{a0}' => "a no-break space".to_owned(),
        c if c.is_whitespace() => "a Unicode space".to_owned(),
        c => format!("\"{c}\""),
    };
    format!("{name} (U+{:04X})", c as u32)
}

/// Line breaks and tabs drawn as one visible character, so both texts
/// stay on one line each and the caret lines up.
fn visible(c: char) -> char {
    match c {
        '\n' => '⏎',
        '\r' => '␍',
        '\t' => '⇥',
        c => c,
    }
}

/// Terminal columns: nonspacing marks (Devanagari matras such as ि, the
/// virama, anusvara; combining accents) sit on the letter before them.
/// An approximation of wcwidth good enough for a caret under Hindi text.
fn width(c: char) -> usize {
    let u = c as u32;
    let nonspacing = matches!(u,
        0x0300..=0x036F
        | 0x0900..=0x0902
        | 0x093A | 0x093C
        | 0x0941..=0x0948
        | 0x094D
        | 0x0951..=0x0957
        | 0x0962..=0x0963
        | 0x200B..=0x200D
        | 0xFE00..=0xFE0F);
    usize::from(!nonspacing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: Values<'static> = Values {
        code_length: 6,
        brand: "Example Shop",
        ttl_minutes: 5,
        host: Some("shop.example.com"),
        amount_currency: Some("INR"),
    };

    #[test]
    fn the_amount_is_a_variable_and_the_payee_is_the_brand() {
        let f = dlt_form(
            "{code} is your {brand} code to pay {amount} to {payee}.",
            &VALUES,
            None,
        );
        assert_eq!(
            f.text,
            "{#var#} is your Example Shop code to pay {#var#} to Example Shop."
        );
        let lens: Vec<_> = f
            .vars
            .iter()
            .map(|v| (v.placeholder, v.max_chars))
            .collect();
        assert_eq!(lens, [("code", 6), ("amount", 28)]);
        // Registered with the payee as a variable: read that way.
        let reg = "{#var#} is your Example Shop code to pay {#var#} to {#var#}.";
        let f = dlt_form(
            "{code} is your {brand} code to pay {amount} to {payee}.",
            &VALUES,
            Some(reg),
        );
        assert_eq!(f.text, reg);
    }

    #[test]
    fn to_register_the_brand_is_written_out_and_the_rest_are_variables() {
        let f = dlt_form(
            "{code} is your {brand} code. Valid {ttl_minutes} min.\n\n@{host} #{code}",
            &VALUES,
            None,
        );
        assert_eq!(
            f.text,
            "{#var#} is your Example Shop code. Valid {#var#} min.\n\n@{#var#} #{#var#}"
        );
        let lens: Vec<_> = f
            .vars
            .iter()
            .map(|v| (v.placeholder, v.max_chars))
            .collect();
        assert_eq!(
            lens,
            [("code", 6), ("ttl_minutes", 1), ("host", 16), ("code", 6)]
        );
    }

    #[test]
    fn constants_follow_the_registered_form() {
        let t = "{brand}: {code} valid {ttl_minutes} min";
        let reg = "{#var#}: {#var#} valid 5 min";
        let f = dlt_form(t, &VALUES, Some(reg));
        assert_eq!(f.text, reg);
        assert_eq!(f.vars[0].placeholder, "brand");
        assert_eq!(f.vars[0].max_chars, 12);
        // A misspelt brand is shown as the letter that differs.
        let reg = "Exmaple Shop: {#var#} valid {#var#} min";
        let f = dlt_form(t, &VALUES, Some(reg));
        let d = first_difference(reg, &f.text).unwrap();
        assert_eq!((d.index, d.expected, d.found), (2, Some('m'), Some('a')));
    }

    #[test]
    fn unknown_braces_stay_fixed_text() {
        let f = dlt_form("{x} {code}{", &VALUES, None);
        assert_eq!(f.text, "{x} {#var#}{");
    }

    #[test]
    fn the_caret_sits_under_the_difference_even_after_matras() {
        let reg = "कोड {#var#} है। किसी को न बताएं।";
        let ours = "कोड {#var#} है। किसि को न बताएं।";
        let d = first_difference(reg, ours).unwrap();
        assert_eq!(d.expected, Some('ी'));
        assert_eq!(d.found, Some('ि'));
        let e = explain(reg, ours, &d);
        assert!(e.contains("U+0940") && e.contains("U+093F"), "{e}");
        let lines: Vec<&str> = e.lines().collect();
        let caret = lines[3].chars().count() - 1;
        let before: String = reg.chars().take(d.index).collect();
        let columns: usize = format!("      registered: {before}")
            .chars()
            .map(width)
            .sum();
        assert_eq!(columns, caret, "{e}");
    }
}
