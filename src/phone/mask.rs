//! The one phone masker, for logs, the audit trail and pages: the
//! country code and the last four digits stay, e.g. `+919812345678`
//! becomes `+91******5678`. A leaf, so `sms/` can use it without the
//! phone parser (and its configuration).

/// Masks all but the country code and the last four digits.
///
/// The country code is approximated by the first two digits after `+`
/// (one for `+1`/`+7`), which is all an operator needs to spot a country.
/// Fewer than eight digits is no real number: nothing of it is shown,
/// since a country code and four digits would be most of it.
pub fn mask(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return "+***".to_owned();
    }
    let cc_len = match digits[0] {
        '1' | '7' => 1,
        _ => 2,
    };
    let tail = digits.len() - 4;
    let mut out = String::with_capacity(digits.len() + 1);
    out.push('+');
    out.extend(&digits[..cc_len]);
    out.extend(std::iter::repeat_n('*', tail - cc_len));
    out.extend(&digits[tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn keeps_country_and_last_four_only() {
        assert_eq!(mask("+919812345678"), "+91******5678");
        assert_eq!(mask("+14155550100"), "+1******0100");
        // Short input reveals nothing, whatever its length.
        assert_eq!(mask("+12"), "+***");
        assert_eq!(mask("+9112345"), "+***");
        assert_eq!(mask("+91123456"), "+91**3456");
    }
}
