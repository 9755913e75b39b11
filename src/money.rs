//! Amounts as a shopper reads them: `₹1,29,999.00` (Indian grouping: the
//! last three digits, then pairs — lakh and crore), `$1,299.00`, `€1,299.00`.
//! For the code page and SMS of a transaction route (PSD2 RTS art. 5: the
//! payer is shown the amount the code is bound to).

/// An amount was not a plain decimal in the currency's precision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an amount in {currency}: `{value}`")]
pub struct AmountError {
    pub value: String,
    pub currency: String,
}

/// An amount a shopper confirms: whole minor units of one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// Paise, cents: never negative (a payment is not a refund).
    pub minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

impl Amount {
    /// A plain decimal as a storefront's form or JSON carries it: digits,
    /// then at most the currency's precision after one point. Strict,
    /// because what is shown must be what the storefront charges: no sign,
    /// no spaces, no exponent (`1e3`), no grouping (`1,299`: thousands
    /// to one parser, a decimal comma to another), no rounding (`1.005`),
    /// nothing past `i64` minor units.
    pub fn parse(value: &str, currency: &str) -> Result<Amount, AmountError> {
        let currency = currency.to_ascii_uppercase();
        let exp = exponent(&currency);
        let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match plain.then(|| to_minor(value, exp)).flatten() {
            Some(minor) => Ok(Amount { minor, currency }),
            None => Err(AmountError {
                value: value.chars().take(32).collect(),
                currency,
            }),
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_amount(self.minor, &self.currency))
    }
}

/// An ISO 4217 code as written in the config: three letters A–Z.
pub fn is_currency_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// The most characters an amount in `currency` is shown with (the
/// largest `i64` of minor units): what a DLT variable must hold.
pub fn longest(currency: &str) -> usize {
    format_amount(i64::MAX, currency).chars().count()
}

/// Why no amount was read: the request gets a 400, no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountProblem {
    #[error("This order does not say its amount")]
    Missing,
    #[error("This order's amount is not a plain number in its currency")]
    Malformed,
    #[error("This order names its amount more than once")]
    Ambiguous,
    #[error("This order's amount cannot be read")]
    Unreadable,
}

impl AmountProblem {
    /// For the audit trail and the JSON answer.
    pub fn reason(self) -> &'static str {
        match self {
            AmountProblem::Missing => "amount_missing",
            AmountProblem::Malformed => "amount_malformed",
            AmountProblem::Ambiguous => "amount_ambiguous",
            AmountProblem::Unreadable => "amount_unreadable",
        }
    }
}

/// Digits after the point (ISO 4217 minor units) for the currencies with a
/// precision other than two; every other code gets two.
fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "INR" => "₹",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        _ => return None,
    })
}

/// `minor` units (paise, cents) of the ISO 4217 `currency`, formatted.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let currency = currency.to_ascii_uppercase();
    let exp = exponent(&currency);
    let scale = 10u128.pow(exp);
    let abs = u128::from(minor.unsigned_abs());
    let (whole, frac) = (abs / scale, abs % scale);
    let digits = whole.to_string();
    let grouped = if currency == "INR" {
        group_indian(&digits)
    } else {
        group_thousands(&digits)
    };
    let number = if exp == 0 {
        grouped
    } else {
        format!("{grouped}.{frac:0width$}", width = exp as usize)
    };
    let sign = if minor < 0 { "-" } else { "" };
    match symbol(&currency) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{currency} {number}"),
    }
}

/// A decimal string as a form or JSON body carries it (`"1299"`,
/// `"1299.5"`, `"-3.25"`), formatted. More fraction digits than the currency
/// has is an error, not a rounding: the shopper must see what is charged.
pub fn format_decimal(value: &str, currency: &str) -> Result<String, AmountError> {
    let currency = currency.to_ascii_uppercase();
    to_minor(value, exponent(&currency))
        .map(|minor| format_amount(minor, &currency))
        .ok_or_else(|| AmountError {
            value: value.chars().take(32).collect(),
            currency,
        })
}

fn to_minor(value: &str, exp: u32) -> Option<i64> {
    let v = value.trim();
    let (negative, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > exp as usize {
        return None;
    }
    if v.ends_with('.') {
        return None;
    }
    let scale = 10i64.checked_pow(exp)?;
    let frac_minor = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10i64.pow(exp - frac.len() as u32)
    };
    let minor = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(frac_minor)?;
    Some(if negative { -minor } else { minor })
}

/// 1,29,99,999: three digits, then groups of two.
fn group_indian(digits: &str) -> String {
    if digits.len() <= 3 {
        return digits.to_string();
    }
    let (head, last3) = digits.split_at(digits.len() - 3);
    let mut out = String::new();
    let first = head.len() % 2;
    if first == 1 {
        out.push_str(&head[..1]);
    }
    for (i, pair) in head.as_bytes()[first..].chunks(2).enumerate() {
        if i > 0 || first == 1 {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(pair).expect("ascii digits"));
    }
    out.push(',');
    out.push_str(last3);
    out
}

/// 1,299,999: groups of three.
fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupees_use_lakh_and_crore_grouping() {
        assert_eq!(format_amount(12_999_900, "INR"), "₹1,29,999.00");
        assert_eq!(format_amount(129_900, "INR"), "₹1,299.00");
        assert_eq!(format_amount(99_950, "INR"), "₹999.50");
        assert_eq!(format_amount(5, "INR"), "₹0.05");
        assert_eq!(format_amount(1_234_567_800, "INR"), "₹1,23,45,678.00");
        assert_eq!(format_amount(12_345_678_900, "inr"), "₹12,34,56,789.00");
        assert_eq!(format_amount(-129_900, "INR"), "-₹1,299.00");
        assert_eq!(format_amount(10_000_000, "INR"), "₹1,00,000.00");
    }

    #[test]
    fn other_currencies_group_by_thousands() {
        assert_eq!(format_amount(129_900, "USD"), "$1,299.00");
        assert_eq!(format_amount(129_900, "EUR"), "€1,299.00");
        assert_eq!(format_amount(12_999_900, "USD"), "$129,999.00");
        assert_eq!(format_amount(12_345_678_900, "GBP"), "£123,456,789.00");
        assert_eq!(format_amount(1299, "JPY"), "¥1,299");
        assert_eq!(format_amount(1_299_500, "KWD"), "KWD 1,299.500");
        assert_eq!(format_amount(100, "CHF"), "CHF 1.00");
        assert_eq!(
            format_amount(i64::MIN, "USD"),
            "-$92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn decimals_from_a_form_are_exact_or_refused() {
        assert_eq!(format_decimal("129999", "INR").unwrap(), "₹1,29,999.00");
        assert_eq!(format_decimal("1299.5", "INR").unwrap(), "₹1,299.50");
        assert_eq!(format_decimal(" 1299.00 ", "USD").unwrap(), "$1,299.00");
        assert_eq!(format_decimal("-3.25", "EUR").unwrap(), "-€3.25");
        for bad in [
            "",
            ".5",
            "1.",
            "1.005",
            "1e3",
            "1,299",
            "₹1299",
            "--1",
            "+1",
            "99999999999999999999",
        ] {
            assert!(format_decimal(bad, "INR").is_err(), "{bad:?} accepted");
        }
        assert!(format_decimal("1.5", "JPY").is_err());
    }

    #[test]
    fn a_confirmed_amount_is_a_plain_decimal_only() {
        let inr = |v| Amount::parse(v, "INR").map(|a| a.to_string());
        assert_eq!(inr("1299").unwrap(), "₹1,299.00");
        assert_eq!(inr("129999.5").unwrap(), "₹1,29,999.50");
        assert_eq!(inr("0.05").unwrap(), "₹0.05");
        assert_eq!(inr("007").unwrap(), "₹7.00");
        assert_eq!(Amount::parse("1299", "JPY").unwrap().to_string(), "¥1,299");
        for bad in [
            "",
            " 1299",
            "1299 ",
            "-1299",
            "+1299",
            "1e3",
            "1E3",
            "1,299",
            "1.005",
            ".5",
            "1.",
            "1..2",
            "0x10",
            "१२९९",
            "₹1299",
            "Infinity",
            "NaN",
            "99999999999999999999",
            "92233720368547758.08",
        ] {
            assert!(inr(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Amount::parse("1.5", "JPY").is_err());
        assert!(is_currency_code("INR") && !is_currency_code("inr") && !is_currency_code("RUPE"));
        assert!(
            longest("INR") <= 30 && longest("KWD") <= 30,
            "a DLT variable holds it"
        );
    }
}
