//! "Did you mean": the one algorithm every part of the configuration uses
//! to suggest a known name for a mistyped one (unknown keys, enum values,
//! SMS provider names), and the one wording for a value outside its set.

/// The known name closest to `name`, if one is close enough to be what was
/// meant: at most 2 edits (a quarter of the name for long ones), counting a
/// swap of two neighbours as one edit (Damerau–Levenshtein), ignoring case.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Why `value` is refused for a key that takes one of `valid`: the list,
/// and the closest one when there is one.
pub fn not_one_of(value: &str, valid: &[&str]) -> String {
    let list = valid
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(value, valid) {
        Some(s) => format!("`{value}` is not one of {list} (did you mean \"{s}\"?)"),
        None => format!("`{value}` is not one of {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, not_one_of};

    #[test]
    fn suggests_the_close_name_only() {
        let keys = ["listen", "redirect_http", "public_host"];
        assert_eq!(did_you_mean("listn", &keys), Some("listen"));
        assert_eq!(
            did_you_mean("lisetn", &keys),
            Some("listen"),
            "a swap is one edit"
        );
        assert_eq!(did_you_mean("LISTEN", &keys), Some("listen"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(
            did_you_mean("twilo", &["console", "twilio"]),
            Some("twilio")
        );
        assert_eq!(did_you_mean("x", &["ip"]), None);
    }

    #[test]
    fn names_every_valid_value() {
        assert_eq!(
            not_one_of("jsn", &["text", "json"]),
            "`jsn` is not one of \"text\", \"json\" (did you mean \"json\"?)"
        );
        assert_eq!(
            not_one_of("maybe", &["otp", "none"]),
            "`maybe` is not one of \"otp\", \"none\""
        );
    }
}
